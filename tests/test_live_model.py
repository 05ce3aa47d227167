"""The live-view state model: instance diffing, hot flag, timeline, costs and warmup timing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chutes_tui.client.models import Chute, QuickWarmup, WarmupEvent
from chutes_tui.core.durations import duration
from chutes_tui.core.live import LiveChute, TimelineEvent
from chutes_tui.core.pricing import GpuTable

CHUTE_ID = "6a7d0454-b46f-52a4-942f-be82757ef170"
A = "4e659df8-f593-5013-8a52-14c904eadc1b"
B = "9b1c2d3e-0000-4000-8000-000000000002"
TABLE = GpuTable.load()
BIG_GPUS = ["a6000", "a6000_ada", "pro_6000", "a40", "l40", "l40s", "a100", "a100_sxm"]


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def instance(instance_id: str, active: bool = False, verified: bool = False) -> dict:
    return {
        "instance_id": instance_id,
        "region": "us-east",
        "active": active,
        "verified": verified,
        "last_verified_at": "2026-05-20T09:00:00.000000Z" if verified else None,
    }


def chute(*instances: dict, **changes: Any) -> Chute:
    data = {
        "chute_id": CHUTE_ID,
        "name": "hello-world",
        "version": "53db6ef5-cc5f-595d-b4fa-e0df3d716622",
        "image": {"image_id": "i-1", "name": "hello", "tag": "0.1", "status": "built and pushed"},
        "user": {"username": "demo", "user_id": "u-1"},
        "supported_gpus": ["a40", "l40"],
        "node_selector": {
            "gpu_count": 1,
            "min_vram_gb_per_gpu": 48,
            "supported_gpus": ["a40", "l40"],
        },
        "current_estimated_price": {
            "usd": {"hour": 0.5, "second": 0.5 / 3600},
            "tao": {"hour": 0.00125, "second": 0.00125 / 3600},
        },
        "instances": list(instances),
        "max_instances": 1,
        "shutdown_after_seconds": 300,
        "hot": any(row["active"] and row["verified"] for row in instances),
    }
    data.update(changes)
    return Chute.model_validate(data)


def quick(status: str, *rows: dict, count: int | None = None) -> QuickWarmup:
    routable = sum(1 for row in rows if row.get("active"))
    return QuickWarmup.model_validate(
        {
            "chute_id": CHUTE_ID,
            "status": status,
            "instance_count": routable if count is None else count,
            "bounty": None,
            "instances": list(rows),
        }
    )


def quick_row(instance_id: str, active: bool = False, gpu: str = "a40", count: int = 1) -> dict:
    return {"instance_id": instance_id, "active": active, "gpu_count": count, "gpu_model_name": gpu}


def cold(log: str = "waiting for instances ...") -> WarmupEvent:
    return WarmupEvent(status="cold", log=log)


def hot(log: str = "chute is hot, 1 instances available") -> WarmupEvent:
    return WarmupEvent(status="hot", log=log)


def kinds(events: list[TimelineEvent]) -> list[str]:
    return [event.kind for event in events]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --------------------------------------------------------------------------- lifecycle


def test_lifecycle_created_verified_active_gone_cold(clock):
    live = LiveChute(chute(), clock=clock)
    assert live.hot is False
    assert kinds(list(live.events)) == ["cold"]

    clock.advance(10)
    created = live.apply_chute(chute(instance(A)))
    assert kinds(created) == ["created"]
    assert created[0].instance_id == A and created[0].at == 1010
    assert live.counts() == (1, 0, 0)
    assert live.instances[A].first_seen == 1010

    clock.advance(20)
    assert kinds(live.apply_chute(chute(instance(A, verified=True)))) == ["verified"]
    assert live.counts() == (1, 1, 0)
    assert live.hot is False

    clock.advance(5)
    events = live.apply_chute(chute(instance(A, active=True, verified=True)))
    assert kinds(events) == ["active", "hot"]
    assert live.hot is True
    assert live.counts() == (1, 1, 1)
    assert live.instances[A].routable

    clock.advance(100)
    events = live.apply_chute(chute())
    assert kinds(events) == ["gone", "cold"]
    assert "gone after 2m05s" in events[0].text
    assert live.hot is False
    assert live.counts() == (0, 0, 0)


def test_gone_instances_are_kept_and_marked(clock):
    live = LiveChute(chute(instance(A, True, True), instance(B)), clock=clock)
    clock.advance(30)
    live.apply_chute(chute(instance(A, True, True)))
    gone = live.instances[B]
    assert gone.gone and gone.gone_at == 1030
    assert [state.instance_id for state in live.present()] == [A]
    assert list(live.instances) == [A, B]
    clock.advance(500)
    assert gone.age(clock.now) == 30
    assert live.apply_chute(chute(instance(A, True, True))) == []


def test_first_snapshot_reports_instances_as_seen_not_created(clock):
    live = LiveChute(chute(instance(A, True, True)), clock=clock)
    assert kinds(list(live.events)) == ["created", "hot"]
    assert "seen" in live.events[0].text and "verified, active" in live.events[0].text
    assert live.instances[A].short == A[:8]


def test_verification_lost_and_deactivation_are_reported(clock):
    live = LiveChute(chute(instance(A, True, True)), clock=clock)
    events = live.apply_chute(chute(instance(A, False, False)))
    assert kinds(events) == ["verified", "inactive", "cold"]
    assert "no longer verified" in events[0].text


def test_snapshot_of_another_chute_is_refused(clock):
    live = LiveChute(chute(), clock=clock)
    with pytest.raises(ValueError):
        live.apply_chute(chute(chute_id="00000000-0000-0000-0000-000000000000"))


def test_static_facts_are_kept():
    live = LiveChute(chute())
    assert live.name == "hello-world"
    assert live.chute_id == CHUTE_ID
    assert live.supported_gpus == ["a40", "l40"]
    assert live.price_hour == 0.5
    assert live.max_instances == 1 and live.shutdown_after_seconds == 300


VERIFIED_AT = datetime(2026, 5, 20, 9, 0, tzinfo=UTC).timestamp()  # instance(verified=True)


def test_an_instance_older_than_the_view_shows_its_age_from_the_api():
    clock = FakeClock(VERIFIED_AT + 600)  # the view opens 10 minutes after the verification
    live = LiveChute(chute(instance(A, True, True)), clock=clock)
    clock.advance(1)
    state = live.instances[A]
    assert state.age_text(clock.now) == "≥10m01s"  # not the 1 s the view has watched it
    assert not state.born_here
    assert live.events[0].shown == "running" and "created" not in live.events[0].text
    live.apply_chute(chute())
    assert live.events[-2].text.endswith("gone after at least 10m01s")


def test_an_instance_first_listed_later_but_verified_before_the_view_was_not_created():
    clock = FakeClock(VERIFIED_AT + 600)
    live = LiveChute(chute(), clock=clock)
    clock.advance(5)
    (event, _hot) = live.apply_chute(chute(instance(A, True, True)))
    assert event.shown == "running" and "seen" in event.text and "created" not in event.text
    assert live.instances[A].age_text(clock.now) == "≥10m05s"


def test_an_age_the_view_alone_knows_says_seen(clock):
    live = LiveChute(chute(instance(A)), clock=clock)  # not verified: no API timestamp
    clock.advance(4)
    assert live.instances[A].age_text(clock.now) == "seen 4s"
    clock.advance(20)
    live.apply_chute(chute())
    assert live.events[-1].text.endswith("gone, seen for 24s")
    clock.advance(5)
    live.apply_chute(chute(instance(B)))  # appears while the view watches: its age is known
    clock.advance(65)
    assert live.instances[B].born_here and live.events[-1].shown == "created"
    assert live.instances[B].age_text(clock.now) == "1m05s"


def test_a_chute_that_is_gone_takes_its_instances_and_its_warmup_with_it(clock):
    live = LiveChute(chute(instance(A, True, True)), clock=clock)
    live.warmup_started()
    events = live.chute_gone()
    assert kinds(events) == ["gone", "gone"]
    assert events[-1].instance_id is None and "chute is gone" in events[-1].text
    assert live.deleted and live.hot is False and live.present() == []
    assert live.counts() == (0, 0, 0) and not live.warming
    assert live.chute_gone() == []  # said once


# --------------------------------------------------------------------------- quick warmup


def test_quick_fills_gpus_and_keeps_verified(clock):
    live = LiveChute(chute(instance(A)), clock=clock)
    events = live.apply_quick(quick("cold", quick_row(A, gpu="h100")))
    assert events == []
    state = live.instances[A]
    assert (state.gpu_model_name, state.gpu_count) == ("h100", 1)
    assert state.verified is False

    events = live.apply_quick(quick("hot", quick_row(A, True, gpu="h100")))
    assert kinds(events) == ["active", "hot"]
    assert state.verified is False and not state.routable
    assert live.running_gpus() == "1× h100"


def test_quick_alone_creates_instances_with_unknown_verification(clock):
    live = LiveChute(clock=clock)
    assert live.hot is None
    events = live.apply_quick(quick("hot", quick_row(A, True, gpu="h100"), quick_row(B)))
    assert kinds(events) == ["created", "created", "hot"]
    assert live.instances[A].verified is None
    assert live.instances[A].routable
    assert live.counts() == (2, 1, 1)
    assert live.running_gpus() == "1× a40, 1× h100"


def test_quick_total_falls_back_to_instance_count(clock):
    live = LiveChute(chute(), clock=clock)
    events = live.apply_quick(quick("hot", count=2))
    assert kinds(events) == ["hot"]
    assert live.counts() == (2, 2, 2)
    assert live.present() == []
    assert live.hourly_now(TABLE) == pytest.approx(1.0)


def test_quick_with_empty_list_and_no_count_marks_instances_gone(clock):
    live = LiveChute(chute(instance(A)), clock=clock)
    events = live.apply_quick(quick("cold"))
    assert kinds(events) == ["gone"]
    assert live.counts() == (0, 0, 0)


def test_quick_list_wins_over_an_earlier_count(clock):
    live = LiveChute(chute(), clock=clock)
    live.apply_quick(quick("hot", count=3))
    live.apply_quick(quick("hot", quick_row(A, True)))
    assert live.counts() == (1, 1, 1)


# --------------------------------------------------------------------------- warmup stream


def test_cold_repeats_collapse_without_growing_the_timeline(clock):
    live = LiveChute(clock=clock)
    first = live.apply_warmup(cold())
    size = len(live.events)
    for _ in range(5):
        clock.advance(5)
        (event,) = live.apply_warmup(cold())
    assert len(live.events) == size
    assert event.count == 6 and event.at == clock.now
    assert live.events[-1] == event
    assert first[0].count == 1
    assert live.hot is False


def test_a_different_event_breaks_the_collapse(clock):
    live = LiveChute(clock=clock)
    live.apply_warmup(cold())
    live.note("note", "reconnecting")
    live.apply_warmup(cold())
    live.apply_warmup(cold("still waiting"))
    assert kinds(list(live.events)) == ["cold", "note", "cold", "cold"]
    assert all(event.count == 1 for event in live.events)


def test_unknown_stream_status_is_a_stream_event(clock):
    live = LiveChute(clock=clock)
    assert kinds(live.apply_warmup(WarmupEvent(status="odd", log="x"))) == ["stream"]
    assert live.hot is None


def test_max_events_bounds_the_timeline(clock):
    live = LiveChute(max_events=3, clock=clock)
    for index in range(10):
        live.note("note", f"notice {index}")
    assert len(live.events) == 3
    assert [event.text for event in live.events] == ["notice 7", "notice 8", "notice 9"]
    with pytest.raises(ValueError):
        LiveChute(max_events=0)


def test_note_rejects_unknown_kinds(clock):
    live = LiveChute(clock=clock)
    event = live.note("error", "403: not your chute", instance_id=A)
    assert (event.kind, event.instance_id, event.at) == ("error", A, clock.now)
    with pytest.raises(ValueError):
        live.note("bogus", "x")


# --------------------------------------------------------------------------- time to hot


def test_time_to_hot_freezes_at_hot_and_restarts_after_cold(clock):
    live = LiveChute(chute(), clock=clock)
    assert live.time_to_hot() is None
    assert live.warmup_started().kind == "warmup"
    assert live.warming
    clock.advance(40)
    assert live.time_to_hot() == 40
    assert live.time_to_hot(now=clock.now + 2) == 42

    clock.advance(2)
    (event,) = live.apply_warmup(hot())
    assert live.hot is True and not live.warming
    assert event.text.endswith("(after 42s)")
    clock.advance(300)
    assert live.time_to_hot() == 42

    live.warmup_started()
    assert live.time_to_hot() == 42

    live.apply_chute(chute())
    assert live.hot is False
    live.warmup_started()
    clock.advance(7)
    assert live.time_to_hot() == 7


def test_time_to_hot_also_stops_when_a_snapshot_says_hot(clock):
    live = LiveChute(chute(), clock=clock)
    live.warmup_started()
    clock.advance(65)
    events = live.apply_chute(chute(instance(A, True, True)))
    assert events[-1].text == "chute is hot after 1m05s"
    clock.advance(10)
    assert live.time_to_hot() == 65


def test_the_warmup_summary_says_what_happened_after_hot_went_cold(clock):
    live = LiveChute(chute(), clock=clock)
    assert live.warmup_summary() is None
    live.warmup_started()
    clock.advance(1)
    assert live.warmup_summary() == "warming 0:01"
    live.apply_chute(chute(instance(A, True, True)))
    clock.advance(90)
    assert live.warmup_summary() == "hot after 0:01"
    live.apply_chute(chute())  # shut down when idle: cold again
    clock.advance(30)
    assert live.hot is False and not live.warming
    assert live.warmup_summary() == "was hot after 0:01"  # not `warming`, and frozen
    live.warmup_started()
    clock.advance(5)
    assert live.warmup_summary() == "warming 0:05"


def test_a_warmup_that_stops_before_hot_stops_its_clock(clock):
    live = LiveChute(chute(), clock=clock)
    live.warmup_started()
    clock.advance(300)
    live.warmup_stopped()
    clock.advance(60)
    assert not live.warming
    assert live.warmup_summary() == "warmup stopped after 5:00"
    live.apply_chute(chute(instance(A, True, True)))  # hot later after all
    assert live.hot and live.warmup_summary() is None
    live.warmup_started()
    live.warmup_stopped()  # a warmup of a hot chute: nothing to stop
    assert live.warmup_summary() is None


# --------------------------------------------------------------------------- money and GPUs


def test_hourly_now_uses_the_gpu_table_when_the_model_is_known(clock):
    live = LiveChute(chute(instance(A, True, True), instance(B, True, True)), clock=clock)
    live.apply_quick(quick("hot", quick_row(A, True, "h100", 2), quick_row(B, True, "a40")))
    expected = 2 * TABLE.gpus["h100"].hourly_rate + TABLE.gpus["a40"].hourly_rate
    assert live.hourly_now(TABLE) == pytest.approx(expected)


def test_hourly_now_falls_back_to_the_chute_price(clock):
    live = LiveChute(chute(instance(A, True, True), instance(B)), clock=clock)
    assert live.hourly_now(TABLE) == pytest.approx(0.5)
    live.apply_quick(quick("hot", quick_row(A, True, "not_a_gpu"), quick_row(B)))
    assert live.hourly_now(TABLE) == pytest.approx(0.5)
    assert live.hourly_now() == pytest.approx(0.5)


def test_hourly_now_unknown_and_zero(clock):
    assert LiveChute(clock=clock).hourly_now(TABLE) is None
    assert LiveChute(chute(instance(A)), clock=clock).hourly_now(TABLE) == 0.0
    unpriced = LiveChute(chute(instance(A, True, True), current_estimated_price=None), clock=clock)
    assert unpriced.hourly_now(TABLE) is None
    stream_only = LiveChute(clock=clock)
    stream_only.apply_warmup(cold())
    assert stream_only.hourly_now(TABLE) == 0.0


def test_gpu_requirement_lists_a_few_supported_gpus():
    few = LiveChute(chute())
    assert few.gpu_requirement() == "1 × ≥48 GB (a40, l40)"
    many = LiveChute(
        chute(
            supported_gpus=BIG_GPUS,
            node_selector={"gpu_count": 2, "min_vram_gb_per_gpu": 48, "supported_gpus": BIG_GPUS},
        )
    )
    assert many.gpu_requirement() == "2 × ≥48 GB (a6000, a6000_ada, pro_6000, … 8 supported)"
    assert LiveChute().gpu_requirement() == "unknown"


def test_running_gpus_summarises_present_instances(clock):
    live = LiveChute(chute(instance(A, True, True), instance(B, True, True)), clock=clock)
    assert live.running_gpus() == "2× ?"
    live.apply_quick(quick("hot", quick_row(A, True, "h100", 2), quick_row(B, True, "a40")))
    assert live.running_gpus() == "2× h100, 1× a40"
    live.apply_chute(chute())
    assert live.running_gpus() == "none"


def test_duration_text():
    assert [duration(s) for s in (0, 42, 125, 3720)] == ["0s", "42s", "2m05s", "1h02m"]


def test_mark_gone_keeps_the_instance_and_says_so_once(clock) -> None:
    live = LiveChute(chute(instance("i-1", active=True, verified=True)), clock=clock)
    events = live.mark_gone("i-1")
    assert [event.kind for event in events] == ["gone"]
    assert live.instances["i-1"].gone and live.counts() == (0, 0, 0)
    assert live.mark_gone("i-1") == [] and live.mark_gone("unknown") == []


def test_an_events_channel_payload_goes_in_the_timeline_and_names_the_gpu(clock) -> None:
    live = LiveChute(chute(instance("i-1")), clock=clock)
    payload = {
        "reason": "instance_created",
        "message": "Miner 5X has provisioned an instance of chute c on 1xh100",
        "data": {"chute_id": "c", "instance_id": "i-1", "gpu_count": 1, "gpu_model_name": "h100"},
    }
    (event,) = live.apply_event(payload)
    assert event.kind == "event" and event.instance_id == "i-1"
    assert event.text.startswith("instance_created: Miner 5X")
    assert live.instances["i-1"].gpu_model_name == "h100"
    (hot,) = live.apply_event({"reason": "instance_hot", "data": {"chute_id": "c"}})
    assert hot.instance_id is None and hot.text == "instance_hot: instance_hot"


def test_only_the_newest_gone_instances_are_kept(clock) -> None:
    live = LiveChute(chute(*(instance(f"i-{n}") for n in range(5))), clock=clock)
    for n in range(5):
        clock.advance(1)
        live.mark_gone(f"i-{n}")
    live.apply_chute(chute(instance("i-new")))
    assert live.forget_gone(keep=2) == ["i-0", "i-1", "i-2"]
    assert set(live.instances) == {"i-3", "i-4", "i-new"}
    assert live.forget_gone(keep=2) == []


def test_repeated_events_without_an_instance_fold(clock) -> None:
    live = LiveChute(chute(), clock=clock)
    bounty = {"reason": "bounty_change", "message": "bounty (cold): 100", "data": {}}
    live.apply_event(bounty)
    clock.advance(1)
    (folded,) = live.apply_event(bounty)
    assert folded.count == 2 and len([e for e in live.events if e.kind == "event"]) == 1
