"""The data the dashboard keeps fresh, and how it is summarised for tables."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


@dataclass
class Feed:
    """One list: its rows, when they last arrived, and the last failure."""

    rows: list[Row] = field(default_factory=list)
    loaded_at: float | None = None
    error: str | None = None
    loading: bool = False
    partial: bool = False  # only the first page of the first load is in

    @property
    def loaded(self) -> bool:
        return self.loaded_at is not None

    @property
    def stale(self) -> bool:
        """Data is on screen but the latest refresh failed."""
        return self.loaded and self.error is not None

    def age(self, now: float | None = None) -> float:
        return (now or time.time()) - (self.loaded_at or 0)


def gpu_summary(chute: Row) -> str:
    """`2x a6000 +8 ≥48GB`: GPU count, the cheapest supported GPU and how many others."""
    selector = chute.get("node_selector") or {}
    gpus = chute.get("supported_gpus") or selector.get("supported_gpus") or []
    names = (gpus[0] + (f" +{len(gpus) - 1}" if len(gpus) > 1 else "")) if gpus else "none"
    vram = selector.get("min_vram_gb_per_gpu", 16)
    return f"{selector.get('gpu_count', 1)}x {names} ≥{vram}GB"


def hourly_price(chute: Row) -> float | None:
    price = chute.get("current_estimated_price") or {}
    return (price.get("usd") or {}).get("hour")


def chutes_by_image(chutes: list[Row]) -> dict[str, list[str]]:
    """Which chutes use each image, by image id."""
    users: dict[str, list[str]] = {}
    for chute in chutes:
        image_id = (chute.get("image") or {}).get("image_id")
        if image_id:
            users.setdefault(image_id, []).append(chute["name"])
    return users


def short_time(stamp: str | None) -> str:
    return (stamp or "")[:16].replace("T", " ")
