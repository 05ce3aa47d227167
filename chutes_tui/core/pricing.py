"""The GPU table and the money maths: supported GPUs, hourly price, deployment fee.

The table is data (``core/data/gpus.json``) because the platform changes its prices.
Its optional ``rules`` switch on the newer server filters: ``price_spread`` (keep GPUs
within that factor of the cheapest unless ``include`` is given, plus ``always_allowed``)
and ``amd_only`` (GPUs that never mix with others).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal

from chutes_tui.client.models import NodeSelector

FeeFormula = Literal["linear", "quadratic"]
DEFAULT_TABLE = "gpus.json"


class NoSupportedGpus(ValueError):
    """The node selector matches no GPU in the table."""


@dataclass(frozen=True)
class Gpu:
    name: str
    memory: int
    hourly_rate: float


@dataclass(frozen=True)
class GpuTable:
    gpus: dict[str, Gpu]
    price_spread: float | None = None
    always_allowed: frozenset[str] = field(default_factory=frozenset)
    amd_only: frozenset[str] = field(default_factory=frozenset)
    source: str = ""

    @classmethod
    def load(cls, path: str | Path | None = None) -> GpuTable:
        """Read a table file; without a path, the one shipped in the package."""
        if path is None:
            text = resources.files("chutes_tui.core.data").joinpath(DEFAULT_TABLE).read_text()
        else:
            text = Path(path).read_text()
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict) -> GpuTable:
        rules = data.get("rules") or {}
        gpus = {
            name: Gpu(name, int(spec["memory"]), float(spec["hourly_rate"]))
            for name, spec in data["gpus"].items()
        }
        return cls(
            gpus=gpus,
            price_spread=rules.get("price_spread"),
            always_allowed=frozenset(rules.get("always_allowed", ())),
            amd_only=frozenset(rules.get("amd_only", ())),
            source=data.get("source", ""),
        )

    def with_prices(self, served: object, source: str = "") -> GpuTable:
        """This table's rules over the GPUs and prices a server serves (`GET /nodes/supported`).

        The rules are the server's code, not its data, so they stay; a reply that is not a
        table of `{memory, hourly_rate}` raises ValueError.
        """
        if not isinstance(served, dict) or not served:
            raise ValueError("the GPU table is empty or not an object")
        gpus = {}
        for name, spec in served.items():
            if not isinstance(spec, dict):
                raise ValueError(f"GPU {name!r} has no memory and hourly_rate")
            try:
                memory, rate = int(spec["memory"]), float(spec["hourly_rate"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"GPU {name!r} has no usable memory and hourly_rate") from None
            if not 0 < rate < float("inf"):
                raise ValueError(f"GPU {name!r} has an hourly rate of {rate}")
            gpus[str(name)] = Gpu(str(name), memory, rate)
        return GpuTable(gpus, self.price_spread, self.always_allowed, self.amd_only, source)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.gpus)

    @cached_property
    def max_rate(self) -> float:
        """The basis price: compute multipliers are rates divided by this."""
        return max(gpu.hourly_rate for gpu in self.gpus.values())

    def multiplier(self, name: str) -> float:
        return self.gpus[name].hourly_rate / self.max_rate

    def raw(self) -> dict[str, dict]:
        """The table as `GET /nodes/supported` serves it."""
        return {
            gpu.name: {"memory": gpu.memory, "hourly_rate": gpu.hourly_rate}
            for gpu in self.gpus.values()
        }


def supported_gpus(selector: NodeSelector, table: GpuTable) -> list[str]:
    """The GPUs a selector admits, in table order."""
    include = {name.lower() for name in selector.include} if selector.include else None
    exclude = {name.lower() for name in selector.exclude or ()}
    names = [
        gpu.name
        for gpu in table.gpus.values()
        if (include is None or gpu.name in include)
        and gpu.name not in exclude
        and gpu.memory >= selector.min_vram_gb_per_gpu
        and (
            selector.max_hourly_price_per_gpu is None
            or gpu.hourly_rate <= selector.max_hourly_price_per_gpu
        )
    ]
    if table.price_spread and include is None and names:
        cheapest = min(table.gpus[name].hourly_rate for name in names)
        limit = table.price_spread * cheapest
        names = [
            name
            for name in names
            if table.gpus[name].hourly_rate <= limit or name in table.always_allowed
        ]
    if len(names) > 1 and any(name in table.amd_only for name in names):
        names = [name for name in names if name not in table.amd_only]
    return names


def _cheapest(selector: NodeSelector, table: GpuTable) -> tuple[list[str], float]:
    names = supported_gpus(selector, table)
    if not names:
        raise NoSupportedGpus("No supported GPUs based on node selector!")
    return names, min(table.multiplier(name) for name in names)


def compute_multiplier(selector: NodeSelector, table: GpuTable) -> float:
    """`gpu_count x min(rate / max_rate)` over the supported GPUs."""
    _, cheapest = _cheapest(selector, table)
    return selector.gpu_count * cheapest


def hourly_price(selector: NodeSelector, table: GpuTable) -> float:
    """Estimated USD per hour for one instance: `gpu_count x cheapest rate`."""
    return table.max_rate * compute_multiplier(selector, table)


def hourly_range(selector: NodeSelector, table: GpuTable) -> tuple[float, float]:
    """Cheapest and dearest USD per hour for one instance over the supported GPUs."""
    names, _ = _cheapest(selector, table)
    rates = [table.gpus[name].hourly_rate for name in names]
    return selector.gpu_count * min(rates), selector.gpu_count * max(rates)


def current_estimated_price(
    selector: NodeSelector, table: GpuTable, tao_usd: float
) -> dict[str, dict]:
    """The `current_estimated_price` block of a private chute."""
    hour = hourly_price(selector, table)
    low, high = hourly_range(selector, table)
    return {
        "usd": {"hour": hour, "second": hour / 3600},
        "tao": {"hour": hour / tao_usd, "second": hour / 3600 / tao_usd},
        "hourly_price_range": {
            "usd": {"min": low, "max": high},
            "tao": {"min": low / tao_usd, "max": high / tao_usd},
        },
    }


def deployment_fee(
    selector: NodeSelector, table: GpuTable, formula: FeeFormula = "linear"
) -> float:
    """The one-off fee for creating a chute (updates are free).

    Linear: `3 x gpu_count x cheapest rate`. Quadratic (2025 servers) counts the GPUs twice.
    """
    fee = hourly_price(selector, table) * 3
    if formula == "quadratic":
        fee *= selector.gpu_count
    return fee


def gpu_price_estimates(table: GpuTable, tao_usd: float) -> dict[str, dict]:
    """Per-GPU hourly and per-second prices, as `GET /pricing` reports them."""
    return {
        gpu.name: {
            "usd": {"hour": gpu.hourly_rate, "second": gpu.hourly_rate / 3600},
            "tao": {"hour": gpu.hourly_rate / tao_usd, "second": gpu.hourly_rate / 3600 / tao_usd},
        }
        for gpu in table.gpus.values()
    }
