"""The live view's two header lines, fitted to the terminal's width without wrapping.

Each line is a list of pieces, most important first. On the first line each piece shows
the longest of its forms that fits, and one that does not fit moves to the front of the
second line. The second line shows as many pieces as fit (the shortest forms first, longer
ones while room is left); the rest are left out. The chute's name and a problem are cut
short rather than left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text

from chutes_tui.core.durations import duration
from chutes_tui.core.formatting import plural
from chutes_tui.core.live import LiveChute
from chutes_tui.core.logbuffer import stamp

FIRST_GAP = "  "
SECOND_GAP = " · "


@dataclass(frozen=True)
class Piece:
    """One part of a header line: its forms, longest first."""

    forms: tuple[str, ...]
    style: str = ""
    keep: bool = False  # cut short rather than left out

    @classmethod
    def of(cls, *forms: str, style: str = "", keep: bool = False) -> Piece:
        return cls(forms, style, keep)


@dataclass(frozen=True)
class HeaderFacts:
    """What the header says besides the chute's own state."""

    ref: str
    warming: bool = False  # a warmup stream is open
    problem: str | None = None
    poll: float = 5.0
    last_poll: float | None = None
    hourly: float | None = None
    stale_for: float | None = None  # seconds since the last good poll, while polls fail


def header_text(live: LiveChute | None, facts: HeaderFacts, width: int) -> Text:
    """Two lines, each at most `width` cells."""
    first, second = _pieces(live, facts)
    top, spilled = _fill_in_order(first, width, FIRST_GAP)
    problem = [Piece.of(f"⚠ {facts.problem}", style="bold red", keep=True)] if facts.problem else []
    bottom, _ = _fill_most(problem + spilled + second, width, SECOND_GAP, " ")
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    text.append_text(top)
    text.append("\n")
    text.append_text(bottom)
    return text


def _pieces(live: LiveChute | None, facts: HeaderFacts) -> tuple[list[Piece], list[Piece]]:
    title = f" {live.name if live and live.name else facts.ref} "
    name = Piece.of(title, style="bold reverse", keep=True)
    if live is None:
        return [name], [] if facts.problem else [Piece.of("loading…", style="dim")]
    if live.deleted:
        gone = Piece.of("deleted, or no longer shared with you", "deleted or unshared")
        return [name, Piece.of("✕ GONE", style="bold red"), gone], [
            Piece.of("the chute is gone: press esc to go back", "press esc to go back", style="dim")
        ]
    total, verified, active = live.counts()
    state = (
        Piece.of("● HOT", style="bold green")
        if live.hot
        else Piece.of("○ COLD", style="bold yellow" if facts.warming else "dim")
    )
    if facts.stale_for is not None:  # what the last good poll said, and how old that is
        age = duration(facts.stale_for)
        word = state.forms[0]
        state = Piece.of(f"{word} (stale {age})", f"{word}?", style="bold yellow")
    first = [
        name,
        state,
        Piece.of(
            f"{plural(total, 'instance')} · {verified} verified · {active} active",
            f"{total} inst ({verified} verified, {active} active)",
        ),
    ]
    summary = live.warmup_summary()
    if summary is not None:
        first.append(Piece.of(summary, style="bold cyan"))
    if not live.hot and not facts.warming:
        first.append(Piece.of("press w to warm up", "w warms up", style="dim"))
    if facts.hourly is not None:
        first.append(
            Piece.of(f"${facts.hourly:,.2f}/h now", style="bold" if facts.hourly else "dim")
        )
    second = [
        Piece.of(
            f"GPUs: needs {live.gpu_requirement()}",
            f"needs {live.gpu_requirement(names=False)}",
            style="dim",
        ),
    ]
    running = live.running_gpus()
    if "?" not in running and running != "none":
        second.append(Piece.of(f"running {running}", style="dim"))
    second.append(Piece.of(f"poll {facts.poll:g} s", style="dim"))
    if facts.last_poll is not None and not facts.problem:
        when = stamp(facts.last_poll)[:8]
        second.append(Piece.of(f"updated {when}", f"at {when}", style="dim"))
    return first, second


def _fill_in_order(pieces: list[Piece], width: int, gap: str) -> tuple[Text, list[Piece]]:
    """Each piece in its longest form that fits, in order; the pieces that do not fit."""
    text = Text(end="")
    left: list[Piece] = []
    for piece in pieces:
        sep = gap if text.cell_len else ""
        room = width - text.cell_len - cell_len(sep)
        form = next((form for form in piece.forms if cell_len(form) <= room), None)
        if form is None and piece.keep and room > 1:
            form = _cut(piece.forms[-1], room)
        if form is None:
            left.append(piece)
            continue
        text.append(sep)
        text.append(form, style=piece.style)
    return text, left


def _fill_most(pieces: list[Piece], width: int, gap: str, lead: str) -> tuple[Text, list[Piece]]:
    """As many pieces as fit on one line, in order, each as long as the room left allows;
    the pieces left over."""
    room = width - cell_len(lead)
    chosen: list[tuple[Piece, str]] = []
    left: list[Piece] = []
    for piece in pieces:  # first: which pieces fit, in their shortest forms
        need = cell_len(gap) if chosen else 0
        shortest = piece.forms[-1]
        if cell_len(shortest) + need <= room:
            chosen.append((piece, shortest))
            room -= cell_len(shortest) + need
        elif piece.keep and room - need > 1:
            chosen.append((piece, _cut(shortest, room - need)))
            room = 0
        else:
            left.append(piece)
    text = Text(lead, end="")
    for index, (piece, form) in enumerate(chosen):  # then: longer forms, while room is left
        for longer in piece.forms:  # longest first: the first that fits is the one
            extra = cell_len(longer) - cell_len(form)
            if extra <= room:
                if extra > 0:
                    form, room = longer, room - extra
                break
        text.append(gap if index else "")
        text.append(form, style=piece.style)
    return text, left


def _cut(text: str, room: int) -> str:
    """`text` in at most `room` cells, ending in `…` when shortened."""
    if cell_len(text) <= room:
        return text
    kept = ""
    for char in text:
        if cell_len(kept + char) > room - 1:
            break
        kept += char
    return kept + "…"
