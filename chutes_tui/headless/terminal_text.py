"""Text from the server, made safe to print on a terminal.

An error's detail or a log line may carry escape sequences: a title change (`ESC ] 0;`),
a screen clear (`ESC [ 2J`), a carriage return that overwrites the line before. They are
dropped; colour (SGR, `ESC [ … m`) is kept only where asked (log lines on a terminal). An
error shown to a person is capped: the API once sent a 5 MB `detail`.
"""

from __future__ import annotations

import re

MAX_MESSAGE = 2000  # characters of an error message shown; the rest is counted

_SGR = r"\x1b\[[0-9;:]*m"
_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: title, hyperlink, clipboard…
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"  # DCS, PM, APC, SOS strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, clears, colours
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
    r"|\x1b"  # a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline


def safe_text(text: str, keep_colour: bool = False) -> str:
    """`text` without escape sequences or control characters (colour kept if asked)."""
    if keep_colour:
        pieces = re.split(f"({_SGR})", text)
        return "".join(
            piece if index % 2 else _CONTROLS.sub("", _ESCAPES.sub("", piece))
            for index, piece in enumerate(pieces)
        )
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def capped(message: str, limit: int = MAX_MESSAGE) -> str:
    """At most `limit` characters, saying how many more there were."""
    if len(message) <= limit:
        return message
    return f"{message[:limit]}… ({len(message) - limit:,} more characters)"
