"""How values read, the same in the dashboard's tables and the headless tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chutes_tui.core.pricing import GpuTable

Raw = Mapping[str, Any]


def hourly_usd(chute: Raw) -> float | None:
    """The API's current estimate of one instance's hourly price, when it gives one."""
    price = chute.get("current_estimated_price") or {}
    value = (price.get("usd") or {}).get("hour")
    return float(value) if value is not None else None


def usd_hour(value: float | None) -> str:
    return f"${value:,.2f}" if value is not None else "-"


def cheapest_first(names: list[str], table: GpuTable | None) -> list[str]:
    """GPU names with the cheapest first (by the table's hourly rate; unknown ones last)."""
    if table is None:
        return list(names)
    known = table.gpus

    def rate(name: str) -> float:
        return known[name].hourly_rate if name in known else float("inf")

    return sorted(names, key=lambda name: (rate(name), names.index(name)))


def gpu_summary(chute: Raw, table: GpuTable | None = None) -> str:
    """`2x a6000 +8 ≥48GB`: GPU count, the cheapest supported GPU and how many others."""
    selector = chute.get("node_selector") or {}
    gpus = cheapest_first(
        list(chute.get("supported_gpus") or selector.get("supported_gpus") or []), table
    )
    names = (gpus[0] + (f" +{len(gpus) - 1}" if len(gpus) > 1 else "")) if gpus else "none"
    vram = selector.get("min_vram_gb_per_gpu", 16)
    return f"{selector.get('gpu_count', 1)}x {names} ≥{vram}GB"


def short_time(stamp: str | None) -> str:
    """`2026-11-30 14:12` from an ISO timestamp; empty when there is none."""
    return (stamp or "")[:16].replace("T", " ")


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 instance`, `2 instances`."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"
