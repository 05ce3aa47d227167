"""The state behind a chute's live view: its instances, hot flag, costs and a timeline.

Snapshots (the chute detail, quick warmup) and warmup-stream events go in; each `apply_*`
returns the timeline events it added, so a view can render only what changed. Both
snapshot shapes list every instance, so an id missing from one means the instance is gone.
Gone instances stay in `instances`, marked with `gone_at`.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from chutes_tui.client.models import (
    Bounty,
    Chute,
    NodeSelectorOut,
    QuickWarmup,
    WarmupEvent,
)
from chutes_tui.core.durations import duration, stopwatch
from chutes_tui.core.pricing import GpuTable

EventKind = Literal[
    "warmup",
    "cold",
    "hot",
    "created",
    "verified",
    "active",
    "inactive",
    "gone",
    "stream",
    "error",
    "note",
    "event",
]
KINDS: frozenset[str] = frozenset(get_args(EventKind))
AgeBasis = Literal["born", "verified", "seen"]  # what an instance's age is counted from
DEFAULT_MAX_EVENTS = 500
SHOWN_GPUS = 3


@dataclass(slots=True)
class InstanceState:
    """One instance as last reported; `verified` is None until the chute detail says.

    How old it is depends on what is known: `born_here` when the view saw it appear (then
    `first_seen` is within a poll of its start); else the API's earliest `last_verified_at`
    bounds its age from below; else only the view's own first sighting is known.
    """

    instance_id: str
    first_seen: float
    born_here: bool = False
    verified_since: float | None = None  # the earliest `last_verified_at`, epoch seconds
    region: str = "n/a"
    active: bool = False
    verified: bool | None = None
    last_verified_at: datetime | None = None
    gpu_model_name: str | None = None
    gpu_count: int | None = None
    gone_at: float | None = None

    @property
    def short(self) -> str:
        return self.instance_id[:8]

    @property
    def gone(self) -> bool:
        return self.gone_at is not None

    @property
    def routable(self) -> bool:
        """Active and verified; activation follows verification, so unknown counts as yes."""
        return self.active and self.verified is not False

    def age(self, now: float) -> float:
        """Seconds since first seen, stopped when the instance went away."""
        end = self.gone_at if self.gone_at is not None else now
        return max(0.0, end - self.first_seen)

    def lifetime(self, now: float) -> tuple[AgeBasis, float]:
        """How long it has been up (until gone), and what that number rests on."""
        end = self.gone_at if self.gone_at is not None else now
        if self.born_here:
            return "born", max(0.0, end - self.first_seen)
        if self.verified_since is not None and self.verified_since < self.first_seen:
            return "verified", max(0.0, end - self.verified_since)
        return "seen", max(0.0, end - self.first_seen)

    def age_text(self, now: float) -> str:
        """`3m05s` (seen starting), `≥10m02s` (verified that long ago) or `seen 4s`."""
        basis, seconds = self.lifetime(now)
        prefix = {"born": "", "verified": "≥", "seen": "seen "}[basis]
        return prefix + duration(seconds)

    def gpus(self) -> str | None:
        """GPU count and model (a multiplication sign between); None while unknown."""
        if not self.gpu_model_name:
            return None
        return f"{self.gpu_count or 1}× {self.gpu_model_name}"


@dataclass(slots=True, frozen=True)
class TimelineEvent:
    """One line of the timeline; `count` > 1 means it replaced the identical event before it.

    `label` is the word the timeline shows when the kind would mislead: an instance that
    was already up when the view opened is `created` as far as the view goes, not in fact.
    """

    at: float
    kind: str
    text: str
    instance_id: str | None = None
    count: int = 1
    label: str | None = None

    @property
    def shown(self) -> str:
        return self.label or self.kind


@dataclass(slots=True, frozen=True)
class _Sighting:
    """One instance row of a snapshot; None means the snapshot does not say."""

    instance_id: str
    active: bool
    verified: bool | None = None
    region: str | None = None
    last_verified_at: datetime | None = None
    gpu_model_name: str | None = None
    gpu_count: int | None = None


def _state_words(state: InstanceState) -> str:
    words = [state.region if state.region != "n/a" else "", state.gpus() or ""]
    if state.verified:
        words.append("verified")
    words.append("active" if state.active else "inactive")
    return ", ".join(word for word in words if word)


class LiveChute:
    """Everything known about one chute while its live view is open."""

    def __init__(
        self,
        chute: Chute | None = None,
        *,
        max_events: int = DEFAULT_MAX_EVENTS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_events < 1:
            raise ValueError("the timeline keeps at least one event")
        self.clock = clock
        self.opened = clock()  # instances verified before this existed before the view
        self.events: deque[TimelineEvent] = deque(maxlen=max_events)
        self.instances: dict[str, InstanceState] = {}
        self.chute: Chute | None = None
        self.chute_id: str | None = None
        self.name: str | None = None
        self.node_selector: NodeSelectorOut | None = None
        self.supported_gpus: list[str] = []
        self.price_hour: float | None = None
        self.max_instances: int | None = None
        self.shutdown_after_seconds: int | None = None
        self.bounty: Bounty | None = None
        self.deleted = False  # the API answered 404: the chute is gone, nothing to warm up
        self._hot: bool | None = None
        self._snapshots = 0
        self._unlisted = 0
        self._warm_start: float | None = None
        self._warm_end: float | None = None
        self._warm_gave_up = False  # the last warmup ended without the chute going hot
        if chute is not None:
            self.apply_chute(chute)

    # ------------------------------------------------------------------ inputs

    def apply_chute(self, chute: Chute) -> list[TimelineEvent]:
        """Take a chute detail: its instance list is complete, its `hot` flag authoritative."""
        self._check_id(chute.chute_id)
        self._keep_facts(chute)
        sightings = [
            _Sighting(
                row.instance_id,
                row.active,
                row.verified,
                row.region,
                row.last_verified_at,
            )
            for row in chute.instances
        ]
        self._unlisted = 0
        events = self._sync(sightings)
        return events + self._set_hot(chute.hot)

    def apply_quick(self, quick: QuickWarmup) -> list[TimelineEvent]:
        """Take a quick warmup: fills GPUs; an empty list with a count keeps the instances."""
        self._check_id(quick.chute_id)
        self.bounty = quick.bounty
        events: list[TimelineEvent] = []
        if quick.instances or not quick.instance_count:
            sightings = [
                _Sighting(
                    row.instance_id,
                    row.active,
                    gpu_model_name=row.gpu_model_name,
                    gpu_count=row.gpu_count,
                )
                for row in quick.instances
            ]
            events = self._sync(sightings)
            self._unlisted = 0
        else:
            self._snapshots += 1
            self._unlisted = quick.instance_count
        if quick.status in ("hot", "cold"):
            events += self._set_hot(quick.status == "hot")
        return events

    def apply_warmup(self, event: WarmupEvent) -> list[TimelineEvent]:
        """Take one warmup-stream event; repeated identical `cold` lines collapse into one."""
        text = event.log or f"chute is {event.status}"
        if event.status == "hot":
            self._hot = True
            elapsed = self._stop_clock()
            suffix = f" (after {duration(elapsed)})" if elapsed is not None else ""
            return [self._emit("hot", text + suffix)]
        if event.status == "cold":
            self._hot = False
            return [self._repeat_or_emit("cold", text)]
        return [self._emit("stream", f"{event.status}: {text}")]

    def warmup_started(self) -> TimelineEvent:
        """Record a warmup request; (re)starts the time-to-hot clock unless the chute is hot."""
        now = self.clock()
        if self._hot:
            return self._emit("warmup", "warmup requested; chute is already hot", at=now)
        self._warm_start, self._warm_end, self._warm_gave_up = now, None, False
        return self._emit("warmup", "warmup requested; waiting for a routable instance", at=now)

    def warmup_stopped(self) -> None:
        """The warmup's stream ended; if the chute is not hot yet, its clock stops here."""
        if self.warming:
            self._warm_end, self._warm_gave_up = self.clock(), True

    def apply_event(self, payload: dict[str, Any]) -> list[TimelineEvent]:
        """One payload of the platform's events channel, in the server's own words.

        The chute detail stays the truth about instances (the caller polls it after an
        event); an `instance_created` event also tells which GPU the instance runs on.
        """
        reason = str(payload.get("reason") or "event")
        raw = payload.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        instance_id = data.get("instance_id")
        state = self.instances.get(instance_id) if isinstance(instance_id, str) else None
        if state is not None and reason == "instance_created":
            state.gpu_model_name = data.get("gpu_model_name") or state.gpu_model_name
            state.gpu_count = data.get("gpu_count") or state.gpu_count
        text = f"{reason}: {payload.get('message') or reason}"
        if isinstance(instance_id, str) and instance_id:
            return [self._emit("event", text, instance_id)]
        return [self._repeat_or_emit("event", text)]  # e.g. the same bounty, again

    def forget_gone(self, keep: int) -> list[str]:
        """Drop all but the `keep` most recently gone instances; returns the dropped ids.

        Gone instances are kept so the user sees them go, but not forever: a chute that
        scales up and down all day would otherwise grow without bound.
        """
        gone = sorted(
            ((s.gone_at, s.instance_id) for s in self.instances.values() if s.gone_at is not None),
            key=lambda pair: pair[0],
        )
        dropped = [instance_id for _, instance_id in gone[: max(0, len(gone) - keep)]]
        for instance_id in dropped:
            del self.instances[instance_id]
        return dropped

    def mark_gone(self, instance_id: str) -> list[TimelineEvent]:
        """An instance the API says no longer exists (its log stream got a 404)."""
        state = self.instances.get(instance_id)
        if state is None or state.gone:
            return []
        return [self._gone(state)]

    def chute_gone(self) -> list[TimelineEvent]:
        """The API no longer knows the chute (deleted, or no longer shared with you)."""
        if self.deleted:
            return []
        self.deleted = True
        self.warmup_stopped()
        events = [self._gone(state) for state in self.present()]
        self._hot, self._unlisted = False, 0
        text = "chute is gone: the API no longer knows it (deleted, or no longer shared with you)"
        return [*events, self._emit("gone", text)]

    def note(self, kind: str, text: str, instance_id: str | None = None) -> TimelineEvent:
        """Add a notice of our own (reconnecting, an error explained, …)."""
        if kind not in KINDS:
            raise ValueError(f"unknown timeline event kind: {kind!r}")
        return self._emit(kind, text, instance_id)

    # ------------------------------------------------------------------ queries

    @property
    def hot(self) -> bool | None:
        """Whether some instance is routable; None until a snapshot or the stream says."""
        return self._hot

    @property
    def warming(self) -> bool:
        """A warmup was started and the chute has not gone hot since."""
        return self._warm_start is not None and self._warm_end is None

    def present(self) -> list[InstanceState]:
        """Instances not gone, in the order they were first seen."""
        return [state for state in self.instances.values() if not state.gone]

    def counts(self) -> tuple[int, int, int]:
        """`(total, verified, active)` over present instances (or a quick warmup's count)."""
        present = self.present()
        verified = sum(1 for state in present if state.verified or state.routable)
        active = sum(1 for state in present if state.active)
        extra = self._unlisted
        return max(len(present), extra), max(verified, extra), max(active, extra)

    def hourly_now(self, table: GpuTable | None = None) -> float | None:
        """USD per hour of the routable instances; None if any of their rates is unknown."""
        if not self._snapshots:
            return 0.0 if self._hot is False else None
        routable = [state for state in self.present() if state.routable]
        rates = [self._rate(state, table) for state in routable]
        rates += [self.price_hour] * max(0, self._unlisted - len(routable))
        if any(rate is None for rate in rates):
            return None
        return float(sum(rate for rate in rates if rate is not None))

    def time_to_hot(self, now: float | None = None) -> float | None:
        """Seconds since the warmup started, frozen when the chute went hot."""
        if self._warm_start is None:
            return None
        end = self._warm_end
        if end is None:
            end = self.clock() if now is None else now
        return max(0.0, end - self._warm_start)

    def warmup_summary(self, now: float | None = None) -> str | None:
        """The last warmup in a few words: `warming 0:12`, `hot after 0:42`, `was hot after
        0:42` (it went cold again since) or `warmup stopped after 5:00`; None before any."""
        elapsed = self.time_to_hot(now)
        if elapsed is None:
            return None
        if self.warming:
            return f"warming {stopwatch(elapsed)}"
        if self._warm_gave_up:
            return f"warmup stopped after {stopwatch(elapsed)}"
        return f"{'hot' if self._hot else 'was hot'} after {stopwatch(elapsed)}"

    def gpu_requirement(self, names: bool = True) -> str:
        """GPU count, minimum VRAM and (with `names`) the first few supported GPUs."""
        selector = self.node_selector
        if selector is None:
            return "unknown"
        need = f"{selector.gpu_count} × ≥{selector.min_vram_gb_per_gpu} GB"
        if not names:
            return need
        return f"{need} ({_gpu_list(self.supported_gpus or selector.supported_gpus)})"

    def running_gpus(self) -> str:
        """GPUs of the present instances per model, most first; `?` for unknown models."""
        totals: Counter[str] = Counter()
        for state in self.present():
            totals[state.gpu_model_name or "?"] += state.gpu_count or 1
        if not totals:
            return "none"
        ranked = sorted(totals.items(), key=lambda item: (item[0] == "?", -item[1], item[0]))
        return ", ".join(f"{count}× {name}" for name, count in ranked)

    # ------------------------------------------------------------------ internals

    def _emit(
        self,
        kind: str,
        text: str,
        instance_id: str | None = None,
        at: float | None = None,
        label: str | None = None,
    ) -> TimelineEvent:
        at = self.clock() if at is None else at
        event = TimelineEvent(at, kind, text, instance_id, label=label)
        self.events.append(event)
        return event

    def _repeat_or_emit(self, kind: str, text: str) -> TimelineEvent:
        """Fold an event identical to the last one into it (count + 1, new time)."""
        last = self.events[-1] if self.events else None
        if last is None or last.kind != kind or last.text != text:
            return self._emit(kind, text)
        folded = replace(last, at=self.clock(), count=last.count + 1)
        self.events[-1] = folded
        return folded

    def _check_id(self, chute_id: str) -> None:
        if self.chute_id is not None and chute_id != self.chute_id:
            raise ValueError(f"snapshot of chute {chute_id} given to the view of {self.chute_id}")
        self.chute_id = chute_id

    def _keep_facts(self, chute: Chute) -> None:
        self.chute = chute
        self.name = chute.name
        self.node_selector = chute.node_selector
        self.supported_gpus = list(chute.supported_gpus or chute.node_selector.supported_gpus)
        price = chute.current_estimated_price
        self.price_hour = price.usd.hour if price is not None else None
        self.max_instances = chute.max_instances
        self.shutdown_after_seconds = chute.shutdown_after_seconds

    def _sync(self, sightings: list[_Sighting]) -> list[TimelineEvent]:
        """Diff a complete instance list against what is known."""
        first = self._snapshots == 0
        self._snapshots += 1
        events: list[TimelineEvent] = []
        for sighting in sightings:
            state = self.instances.get(sighting.instance_id)
            if state is None or state.gone:
                events.append(self._appeared(sighting, first))
            else:
                events += self._changed(state, sighting)
        seen = {sighting.instance_id for sighting in sightings}
        for state in self.present():
            if state.instance_id not in seen:
                events.append(self._gone(state))
        return events

    def _appeared(self, sighting: _Sighting, first: bool) -> TimelineEvent:
        state = InstanceState(sighting.instance_id, first_seen=self.clock())
        _fill(state, sighting)
        state.active = sighting.active
        state.verified = sighting.verified
        back = sighting.instance_id in self.instances
        self.instances[sighting.instance_id] = state
        older = state.verified_since is not None and state.verified_since < self.opened
        state.born_here = not (first or back or older)
        verb = "is back" if back else "created" if state.born_here else "seen"
        text = f"instance {state.short} {verb} ({_state_words(state)})"
        label = (
            None if state.born_here else "back" if back else "running" if state.active else "seen"
        )
        return self._emit("created", text, state.instance_id, label=label)

    def _changed(self, state: InstanceState, sighting: _Sighting) -> list[TimelineEvent]:
        _fill(state, sighting)
        events: list[TimelineEvent] = []
        if sighting.verified is not None and sighting.verified != state.verified:
            was_known = state.verified is not None
            state.verified = sighting.verified
            if sighting.verified or was_known:
                text = "verified" if sighting.verified else "is no longer verified"
                events.append(self._instance_event("verified", state, text))
        if sighting.active != state.active:
            state.active = sighting.active
            kind = "active" if sighting.active else "inactive"
            events.append(self._instance_event(kind, state, f"is {kind}"))
        return events

    def _gone(self, state: InstanceState) -> TimelineEvent:
        now = self.clock()
        state.gone_at = now
        basis, seconds = state.lifetime(now)
        lived = {"born": "gone after", "verified": "gone after at least", "seen": "gone, seen for"}
        return self._instance_event("gone", state, f"{lived[basis]} {duration(seconds)}")

    def _instance_event(self, kind: str, state: InstanceState, text: str) -> TimelineEvent:
        return self._emit(kind, f"instance {state.short} {text}", state.instance_id)

    def _set_hot(self, hot: bool) -> list[TimelineEvent]:
        if hot == self._hot:
            return []
        self._hot = hot
        if not hot:
            return [self._emit("cold", "chute is cold: no routable instance")]
        elapsed = self._stop_clock()
        suffix = f" after {duration(elapsed)}" if elapsed is not None else ""
        return [self._emit("hot", f"chute is hot{suffix}")]

    def _stop_clock(self) -> float | None:
        """Freeze a running time-to-hot clock; the frozen time, or None if none ran."""
        if self._warm_gave_up:  # hot after all, later: that warmup's clock says nothing now
            self._warm_start, self._warm_gave_up = None, False
        if not self.warming:
            return None
        self._warm_end = self.clock()
        return self.time_to_hot()

    def _rate(self, state: InstanceState, table: GpuTable | None) -> float | None:
        name = (state.gpu_model_name or "").lower()
        if table is not None and name in table.gpus:
            return table.gpus[name].hourly_rate * (state.gpu_count or 1)
        return self.price_hour


def _fill(state: InstanceState, sighting: _Sighting) -> None:
    """Copy the facts a snapshot reports (other than active/verified) onto an instance."""
    if sighting.region is not None:
        state.region = sighting.region
    if sighting.last_verified_at is not None:
        state.last_verified_at = sighting.last_verified_at
        at = api_epoch(sighting.last_verified_at)
        if state.verified_since is None or at < state.verified_since:
            state.verified_since = at
    if sighting.gpu_model_name is not None:
        state.gpu_model_name = sighting.gpu_model_name
    if sighting.gpu_count is not None:
        state.gpu_count = sighting.gpu_count


def api_epoch(moment: datetime) -> float:
    """Epoch seconds of an API timestamp; one without a zone is UTC, as the API means it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _gpu_list(names: list[str]) -> str:
    """`a40, l40, l40s`, or the first few and how many in all."""
    if not names:
        return "none supported"
    if len(names) <= SHOWN_GPUS + 1:
        return ", ".join(names)
    return f"{', '.join(names[:SHOWN_GPUS])}, … {len(names)} supported"
