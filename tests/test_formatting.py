"""One formatter per value, shared by the dashboard and the headless tables."""

from __future__ import annotations

from chutes_tui.core.formatting import gpu_summary, hourly_usd, plural, short_time, usd_hour
from chutes_tui.core.pricing import GpuTable


def test_the_gpu_summary_names_the_cheapest_supported_gpu() -> None:
    table = GpuTable.load()
    gpus = ["h100", "a6000", "l40s"]
    chute = {"supported_gpus": gpus, "node_selector": {"gpu_count": 2, "min_vram_gb_per_gpu": 48}}
    cheapest = min(gpus, key=lambda name: table.gpus[name].hourly_rate)
    assert gpu_summary(chute, table) == f"2x {cheapest} +2 ≥48GB"
    assert gpu_summary({"node_selector": {}}) == "1x none ≥16GB"


def test_prices_times_and_plurals() -> None:
    assert hourly_usd({"current_estimated_price": {"usd": {"hour": 0.2}}}) == 0.2
    assert hourly_usd({}) is None
    assert (usd_hour(1234.5), usd_hour(None)) == ("$1,234.50", "-")
    assert short_time("2026-11-30T14:12:45.1Z") == "2026-11-30 14:12"
    assert (plural(1, "instance"), plural(0, "instance"), plural(2, "entry", "entries")) == (
        "1 instance",
        "0 instances",
        "2 entries",
    )
