"""Image builds on the simulated clock: `pending build` → `building` → the final status.

An upload stores the build's whole script (its timed log lines, see `buildlog`) with two
deadlines on the sandbox's clock: when it starts building, and when it finishes. Lines are
released as the clock passes their time, so `--speed`, `--paused-clock` and advancing the
clock drive a build exactly as they drive instances; the simulator's tick writes the status
changes, and at the end the whole log, into the database. Everything lives in SQLite, so a
restarted sandbox carries on with a build where the clock says it is (a build whose script
cannot be read back fails with a status that says so).
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from dataclasses import dataclass

from chutes_tui.sandbox.buildlog import BUILT, BuildScript, LogLine
from chutes_tui.sandbox.settings import SandboxSettings
from chutes_tui.sandbox.storage import BuildRow, Store, now_iso

QUEUE_SECONDS = 4.0  # simulated seconds an upload waits for a builder
UNFINISHED = ("pending build", "building")
DUE_SLACK = 1e-5  # as lifecycle.DUE_SLACK: a clock moved in steps lands give or take this
LOST = "error: the build was interrupted and its state could not be recovered"


@dataclass(frozen=True)
class Build:
    """One running build, with each line's time on the sandbox's clock."""

    image_id: str
    lines: list[LogLine]
    times: list[float]
    start_due: float
    finish_due: float
    outcome: str

    def released(self, now: float) -> int:
        """How many lines the log holds at `now`."""
        return bisect.bisect_right(self.times, now + DUE_SLACK)

    def finished(self, now: float) -> bool:
        return now + DUE_SLACK >= self.finish_due


def encode(plan: BuildScript) -> str:
    lines = [[line.at, line.stream, line.text] for line in plan.lines]
    return json.dumps({"duration": plan.duration, "lines": lines}, separators=(",", ":"))


def _decode(row: BuildRow) -> Build | None:
    try:
        data = json.loads(row["script"] or "")
        duration = float(data["duration"])
        lines = [LogLine(float(at), str(stream), str(text)) for at, stream, text in data["lines"]]
    except (ValueError, TypeError, KeyError):
        return None
    start, finish = row["start_due"], row["finish_due"]
    span = (finish - start) / duration if duration > 0 else 0.0
    times = [start + line.at * span for line in lines]  # the deadlines' own pace
    return Build(row["image_id"], lines, times, start, finish, row["outcome"])


class Builder:
    """Every unfinished build of the sandbox, driven by the simulator's tick."""

    def __init__(self, store: Store, settings: SandboxSettings) -> None:
        self.store = store
        self.settings = settings
        self.clock = settings.clock
        self._active: dict[str, Build] = {}
        self._started: set[str] = set()

    def submit(
        self, db: sqlite3.Connection, image_id: str, dockerfile: str, plan: BuildScript
    ) -> None:
        """Queue a build, inside the transaction that creates its image."""
        start = self.clock.now() + self.settings.real(QUEUE_SECONDS)
        finish = start + self.settings.real(plan.duration)
        db.execute(
            "INSERT INTO builds (image_id, dockerfile, script, outcome, start_due, finish_due)"
            " VALUES (?,?,?,?,?,?)",
            (image_id, dockerfile, encode(plan), plan.status, start, finish),
        )

    def track(self, image_id: str) -> None:
        """After the upload's transaction: the tick looks after this build from now on."""
        row = self.store.one_as(BuildRow, "SELECT * FROM builds WHERE image_id = ?", image_id)
        build = _decode(row) if row else None
        if build is not None:
            self._active[image_id] = build
            self._started.discard(image_id)  # a deleted image's build, if it was rebuilt

    def resume(self) -> None:
        """After a start: pick up the builds an earlier run left unfinished."""
        rows = self.store.all_as(
            BuildRow,
            "SELECT b.* FROM builds b JOIN images i ON i.image_id = b.image_id"
            " WHERE i.status IN (?, ?)",
            *UNFINISHED,
        )
        building = {
            row["image_id"]
            for row in self.store.all("SELECT image_id FROM images WHERE status = 'building'")
        }
        for row in rows:
            build = _decode(row)
            if build is None:
                self._fail_lost(row["image_id"])
                continue
            self._active[build.image_id] = build
            if build.image_id in building:
                self._started.add(build.image_id)

    def running(self, image_id: str) -> Build | None:
        """The build behind an unfinished image, if the sandbox runs one (seeded images
        that only show a status have none)."""
        return self._active.get(image_id)

    def tick(self, now: float) -> None:
        for build in list(self._active.values()):
            if build.image_id not in self._started and build.start_due <= now + DUE_SLACK:
                self._started.add(build.image_id)
                self._start(build)
            if build.finished(now):
                self._finish(build)

    def _start(self, build: Build) -> None:
        with self.store.tx() as db:
            db.execute(
                "UPDATE images SET status = 'building', build_started_at = ?"
                " WHERE image_id = ? AND status = 'pending build'",
                (now_iso(), build.image_id),
            )

    def _finish(self, build: Build) -> None:
        """The final status and the whole log; the script is no longer needed."""
        self._active.pop(build.image_id, None)
        self._started.discard(build.image_id)
        text = "\n".join(line.text for line in build.lines)
        completed = now_iso() if build.outcome == BUILT else None
        with self.store.tx() as db:
            db.execute(
                "UPDATE images SET status = ?, build_log = ?, build_completed_at = ?"
                " WHERE image_id = ? AND status IN (?, ?)",
                (build.outcome, text, completed, build.image_id, *UNFINISHED),
            )
            db.execute("UPDATE builds SET script = NULL WHERE image_id = ?", (build.image_id,))

    def _fail_lost(self, image_id: str) -> None:
        with self.store.tx() as db:
            db.execute(
                "UPDATE images SET status = ?, build_log = ? WHERE image_id = ?",
                (LOST, LOST.removeprefix("error: "), image_id),
            )
