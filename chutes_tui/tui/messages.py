"""Messages from the app's workers to the screens."""

from __future__ import annotations

from textual.message import Message


class FeedUpdated(Message, bubble=False):
    """A list (`chutes` or `images`) has new rows, or its refresh failed.

    The app forwards it to the current screen; it must not bubble back up to the app.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FeedUpdated) and message.kind == self.kind


class AccountUpdated(Message, bubble=False):
    """The account, balance or connection state changed."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, AccountUpdated)
