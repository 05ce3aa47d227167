"""What chutes-tui remembers between runs: shared chutes opened, names of users shared with."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from chutes_tui.core import locations

MAX_REMEMBERED = 200


@dataclass
class RememberedChutes:
    path: Path
    ids: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path | None = None) -> RememberedChutes:
        path = path or locations.opened_chutes()
        try:
            ids = [str(item) for item in json.loads(path.read_text())][:MAX_REMEMBERED]
        except (OSError, ValueError, TypeError):
            ids = []
        return cls(path, ids)

    def refs(self) -> list[str]:
        return list(self.ids)

    def remember(self, chute_id: str) -> None:
        if chute_id in self.ids:
            return
        self.ids = [chute_id, *self.ids][:MAX_REMEMBERED]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.ids))

    def forget(self, chute_id: str) -> None:
        if chute_id in self.ids:
            self.ids.remove(chute_id)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.ids))


@dataclass
class KnownUsers:
    """Names of users the person shared with here: the API reports shares by user id only."""

    path: Path
    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> KnownUsers:
        path = path or locations.known_users()
        try:
            data = json.loads(path.read_text())
            names = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        except (OSError, ValueError):
            names = {}
        return cls(path, names)

    def name(self, user_id: str) -> str | None:
        return self.names.get(user_id)

    def learn(self, user_id: str, name: str) -> None:
        if self.names.get(user_id) == name:
            return
        self.names[user_id] = name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.names))
