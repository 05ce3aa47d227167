"""The GPU table and money maths (contract §5.5 and §9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chutes_tui.client.models import NodeSelector
from chutes_tui.core.pricing import (
    GpuTable,
    NoSupportedGpus,
    compute_multiplier,
    current_estimated_price,
    deployment_fee,
    gpu_price_estimates,
    hourly_price,
    hourly_range,
    supported_gpus,
)

TABLE_2025_PATH = Path(__file__).parent / "data" / "gpus_2025.json"
T2025 = GpuTable.load(TABLE_2025_PATH)
T2026 = GpuTable.load()
NAMES_2025 = list(T2025.gpus)
NAMES_2026 = list(T2026.gpus)


def sel(**kwargs) -> NodeSelector:
    return NodeSelector(**kwargs)


# --------------------------------------------------------------------------- loading


def test_load_2025_table_from_path():
    assert len(T2025.gpus) == 26
    assert "b300" not in T2025.gpus
    assert T2025.price_spread is None
    assert T2025.always_allowed == frozenset()
    assert T2025.amd_only == frozenset()
    assert T2025.max_rate == pytest.approx(3.50)
    assert "2025" in T2025.source


def test_load_without_argument_gives_packaged_table():
    table = GpuTable.load()
    assert len(table.gpus) == 27
    assert "b300" in table.gpus
    assert table.gpus["b300"].memory == 288
    assert table.gpus["b300"].hourly_rate == pytest.approx(4.5)
    assert table.max_rate == pytest.approx(4.50)
    assert table.price_spread == pytest.approx(2.5)
    assert table.always_allowed == frozenset({"pro_6000"})
    assert table.amd_only == frozenset({"mi300x"})


def test_load_accepts_str_path():
    assert GpuTable.load(str(TABLE_2025_PATH)) == T2025


def test_names_property():
    assert frozenset(NAMES_2025) == T2025.names
    assert frozenset(NAMES_2026) == T2026.names


def test_raw_shape_matches_file():
    raw = T2025.raw()
    on_disk = json.loads(TABLE_2025_PATH.read_text())["gpus"]
    assert list(raw) == list(on_disk)
    for name, spec in raw.items():
        assert set(spec) == {"memory", "hourly_rate"}
        assert isinstance(spec["memory"], int)
        assert isinstance(spec["hourly_rate"], float)
        assert spec == {
            "memory": on_disk[name]["memory"],
            "hourly_rate": pytest.approx(on_disk[name]["hourly_rate"]),
        }


def test_raw_round_trips_through_from_dict():
    rebuilt = GpuTable.from_dict({"gpus": T2026.raw()})
    assert rebuilt.gpus == T2026.gpus
    assert rebuilt.price_spread is None  # no rules in raw()


def test_from_dict_without_rules_key():
    table = GpuTable.from_dict({"gpus": {"x": {"memory": "24", "hourly_rate": "1"}}})
    assert table.gpus["x"].memory == 24
    assert table.gpus["x"].hourly_rate == 1.0
    assert table.price_spread is None
    assert table.source == ""


# ------------------------------------------------------------------ §5.5 worked examples

# (selector kwargs, supported-set cheapest rate, est_hour, [S25] quadratic fee, linear fee)
WORKED_EXAMPLES = [
    pytest.param({}, 0.10, 0.10, 0.30, 0.30, id="default"),
    pytest.param({"min_vram_gb_per_gpu": 24}, 0.12, 0.12, 0.36, 0.36, id="1gpu-24gb"),
    pytest.param(
        {"gpu_count": 2, "min_vram_gb_per_gpu": 80}, 0.60, 1.20, 7.20, 3.60, id="2gpu-80gb"
    ),
    pytest.param(
        {"gpu_count": 8, "min_vram_gb_per_gpu": 140}, 2.10, 16.80, 403.20, 50.40, id="8gpu-140gb"
    ),
    pytest.param({"include": ["h100"]}, 1.50, 1.50, 4.50, 4.50, id="include-h100"),
]


@pytest.mark.parametrize(("kwargs", "cheapest", "est_hour", "quadratic", "linear"), WORKED_EXAMPLES)
def test_worked_examples_2025(kwargs, cheapest, est_hour, quadratic, linear):
    selector = sel(**kwargs)
    names = supported_gpus(selector, T2025)
    assert min(T2025.gpus[n].hourly_rate for n in names) == pytest.approx(cheapest)
    assert hourly_price(selector, T2025) == pytest.approx(est_hour)
    assert deployment_fee(selector, T2025) == pytest.approx(linear)
    assert deployment_fee(selector, T2025, "linear") == pytest.approx(linear)
    assert deployment_fee(selector, T2025, "quadratic") == pytest.approx(quadratic)
    # the 402 notice shows round(fee, 2)
    assert round(deployment_fee(selector, T2025, "quadratic"), 2) == quadratic
    assert round(deployment_fee(selector, T2025, "linear"), 2) == linear


def test_worked_example_supported_sets_2025():
    assert supported_gpus(sel(), T2025) == NAMES_2025
    assert "a4000" not in supported_gpus(sel(min_vram_gb_per_gpu=24), T2025)
    assert supported_gpus(sel(gpu_count=2, min_vram_gb_per_gpu=80), T2025) == [
        "pro_6000",
        "a100",
        "a100_sxm",
        "h100",
        "h100_nvl",
        "h100_sxm",
        "h800",
        "h20",
        "h200",
        "mi300x",
        "b200",
    ]
    # the 2025 table has no rules, so mi300x stays next to nvidia GPUs
    assert supported_gpus(sel(gpu_count=8, min_vram_gb_per_gpu=140), T2025) == [
        "h200",
        "mi300x",
        "b200",
    ]
    assert supported_gpus(sel(include=["h100"]), T2025) == ["h100"]


# ------------------------------------------------------------ hourly price / multiplier

# §9 "[S25] mult" column, rounded to 4 places
S25_MULT = {
    "3090": 0.0343, "4090": 0.0714, "5090": 0.1000, "a4000": 0.0286, "a4000_ada": 0.0314,
    "a5000": 0.0514, "a6000": 0.0943, "a6000_ada": 0.1029, "pro_6000": 0.3143, "l4": 0.0486,
    "a10": 0.0714, "a40": 0.1000, "l40": 0.1000, "l40s": 0.1171, "a100_40gb": 0.1571,
    "a100_40gb_sxm": 0.1629, "a100": 0.1714, "a100_sxm": 0.1771, "h100": 0.4286,
    "h100_nvl": 0.4429, "h100_sxm": 0.4857, "h800": 0.3714, "h20": 0.1714, "h200": 0.6571,
    "mi300x": 0.6000, "b200": 1.0000,
}  # fmt: skip


def test_s25_multiplier_column():
    assert set(S25_MULT) == set(NAMES_2025)
    for name, mult in S25_MULT.items():
        assert T2025.multiplier(name) == pytest.approx(mult, abs=5e-5), name
        assert compute_multiplier(sel(include=[name]), T2025) == pytest.approx(mult, abs=5e-5)


def test_single_gpu_hourly_price_is_its_rate_2025():
    for name, gpu in T2025.gpus.items():
        assert hourly_price(sel(include=[name]), T2025) == pytest.approx(gpu.hourly_rate)


def test_single_gpu_hourly_price_is_its_rate_2026():
    for name, gpu in T2026.gpus.items():
        assert supported_gpus(sel(include=[name]), T2026) == [name]
        assert hourly_price(sel(include=[name]), T2026) == pytest.approx(gpu.hourly_rate)
        assert T2026.multiplier(name) == pytest.approx(gpu.hourly_rate / 4.5)


def test_compute_multiplier_examples():
    # §5.1 example: h100 + h100_sxm, 80 GB -> 0.42857 and $1.50/h
    selector = sel(min_vram_gb_per_gpu=80, include=["h100", "h100_sxm"])
    assert supported_gpus(selector, T2025) == ["h100", "h100_sxm"]
    assert compute_multiplier(selector, T2025) == pytest.approx(0.42857, abs=1e-5)
    assert hourly_price(selector, T2025) == pytest.approx(1.5)
    # gpu_count multiplies
    selector4 = sel(gpu_count=4, min_vram_gb_per_gpu=80, include=["h100", "h100_sxm"])
    assert compute_multiplier(selector4, T2025) == pytest.approx(4 * 1.5 / 3.5)
    assert hourly_price(selector4, T2025) == pytest.approx(6.0)
    # default selector, 2025: a4000 at 0.10 of 3.50
    assert compute_multiplier(sel(), T2025) == pytest.approx(0.1 / 3.5)
    # b200 is the basis -> 1.0 per GPU
    assert compute_multiplier(sel(gpu_count=3, include=["b200"]), T2025) == pytest.approx(3.0)


def test_hourly_price_carries_float_noise_but_approximates():
    # §5.5: floating-point error shows up, e.g. 0.12000000000000001
    price = hourly_price(sel(min_vram_gb_per_gpu=24), T2025)
    assert price == pytest.approx(0.12)


def test_hourly_range_examples():
    low, high = hourly_range(sel(gpu_count=2, min_vram_gb_per_gpu=80), T2025)
    assert low == pytest.approx(1.20)
    assert high == pytest.approx(7.00)  # 2 x b200
    low, high = hourly_range(sel(include=["h100"]), T2025)
    assert low == high == pytest.approx(1.5)


def test_2026_default_price_and_fee():
    # cheapest is a4000 at 0.20
    assert hourly_price(sel(), T2026) == pytest.approx(0.20)
    assert deployment_fee(sel(), T2026) == pytest.approx(0.60)
    assert deployment_fee(sel(gpu_count=2), T2026, "quadratic") == pytest.approx(2.40)
    # after the spread filter the dearest left is pro_6000 (always allowed)
    assert hourly_range(sel(), T2026) == (pytest.approx(0.20), pytest.approx(1.80))


# ----------------------------------------------------------------------- 2026 rules


def test_2026_price_spread_applies_without_include():
    names = supported_gpus(sel(), T2026)
    # limit = 2.5 x 0.20 = 0.50, so a6000/a40 at exactly 0.50 stay in
    assert names == [
        "3090",
        "4090",
        "a4000",
        "a4000_ada",
        "a5000",
        "a6000",
        "pro_6000",
        "l4",
        "a10",
        "a40",
    ]
    cheapest = min(T2026.gpus[n].hourly_rate for n in names)
    for name in names:
        assert T2026.gpus[name].hourly_rate <= 2.5 * cheapest or name == "pro_6000"
    assert "5090" not in names  # 0.70 > 0.50
    assert "h100" not in names


def test_2026_price_spread_not_applied_with_include():
    names = supported_gpus(sel(include=["a4000", "h200", "b300"]), T2026)
    assert names == ["a4000", "h200", "b300"]
    assert hourly_range(sel(include=["a4000", "h200", "b300"]), T2026) == (
        pytest.approx(0.20),
        pytest.approx(4.5),
    )


def test_2026_price_spread_relative_to_cheapest_after_filters():
    # >= 80 GB: cheapest is a100/h20 at 1.20, limit 3.00, so mi300x would fit the
    # spread but is dropped for mixing; b200/b300 at 4.50 are out.
    names = supported_gpus(sel(min_vram_gb_per_gpu=80), T2026)
    assert names == [
        "pro_6000",
        "a100",
        "a100_sxm",
        "h100",
        "h100_nvl",
        "h100_sxm",
        "h800",
        "h20",
        "h200",
    ]


def test_2026_exclude_can_grow_the_set():
    # the spread is relative to the cheapest GPU left, so excluding the cheap ones
    # lets dearer ones in: this is why the monotonicity property uses the 2025 table
    before = supported_gpus(sel(min_vram_gb_per_gpu=24), T2026)
    after = supported_gpus(
        sel(min_vram_gb_per_gpu=24, exclude=["3090", "a5000", "l4", "a10"]), T2026
    )
    assert "5090" not in before
    assert "5090" in after and "a6000_ada" in after and "l40s" in after


def test_2026_pro_6000_always_allowed():
    # 24 GB: cheapest 0.25, limit 0.625; pro_6000 (1.80) kept anyway
    names = supported_gpus(sel(min_vram_gb_per_gpu=24), T2026)
    assert "pro_6000" in names
    assert "a6000_ada" not in names  # 0.75 > 0.625 and not always allowed
    # ...but only if it passes the other filters
    assert "pro_6000" not in supported_gpus(sel(exclude=["pro_6000"]), T2026)
    assert "pro_6000" not in supported_gpus(sel(max_hourly_price_per_gpu=1.0), T2026)
    assert "pro_6000" not in supported_gpus(sel(min_vram_gb_per_gpu=97), T2026)


def test_2026_pro_6000_not_in_2025_rules():
    # the 2025 table has no rules: no spread filter at all
    assert supported_gpus(sel(), T2025) == NAMES_2025


def test_2026_mi300x_dropped_when_mixed():
    names = supported_gpus(sel(min_vram_gb_per_gpu=140), T2026)
    assert names == ["h200", "b200", "b300"]
    assert supported_gpus(sel(include=["mi300x", "h200"]), T2026) == ["h200"]
    assert supported_gpus(sel(include=["mi300x", "b200", "b300"]), T2026) == ["b200", "b300"]


def test_2026_mi300x_kept_alone():
    assert supported_gpus(sel(include=["mi300x"]), T2026) == ["mi300x"]
    assert supported_gpus(sel(include=["MI300X"]), T2026) == ["mi300x"]
    assert hourly_price(sel(gpu_count=8, include=["mi300x"]), T2026) == pytest.approx(24.0)
    alone = sel(min_vram_gb_per_gpu=140, exclude=["h200", "b200", "b300"])
    assert supported_gpus(alone, T2026) == ["mi300x"]
    # include + filters that leave mi300x alone
    # include + a memory filter that leaves mi300x alone
    alone = sel(min_vram_gb_per_gpu=140, include=["mi300x", "a100"])
    assert supported_gpus(alone, T2026) == ["mi300x"]


def test_2025_mi300x_mixes():
    assert "mi300x" in supported_gpus(sel(include=["mi300x", "h200"]), T2025)


# ----------------------------------------------------------- max price, case, errors


def test_max_hourly_price_per_gpu_filter():
    names = supported_gpus(sel(max_hourly_price_per_gpu=0.25), T2025)
    assert names == ["3090", "4090", "a4000", "a4000_ada", "a5000", "l4", "a10"]
    # boundary: a rate equal to the cap is kept
    assert "a10" in names and "4090" in names
    names = supported_gpus(sel(min_vram_gb_per_gpu=80, max_hourly_price_per_gpu=1.5), T2025)
    assert names == ["pro_6000", "a100", "a100_sxm", "h100", "h800", "h20"]
    assert hourly_range(sel(min_vram_gb_per_gpu=80, max_hourly_price_per_gpu=1.5), T2025) == (
        pytest.approx(0.6),
        pytest.approx(1.5),
    )
    # the cap also applies to an explicit include
    assert supported_gpus(sel(include=["h100", "a100"], max_hourly_price_per_gpu=1.0), T2025) == [
        "a100"
    ]


def test_max_hourly_price_per_gpu_filter_2026():
    names = supported_gpus(sel(min_vram_gb_per_gpu=80, max_hourly_price_per_gpu=1.5), T2026)
    assert names == ["a100", "a100_sxm", "h800", "h20"]


def test_include_case_insensitive():
    upper = supported_gpus(sel(include=["H100", "A100_SXM"]), T2025)
    lower = supported_gpus(sel(include=["h100", "a100_sxm"]), T2025)
    assert upper == lower == ["a100_sxm", "h100"]  # table order, table spelling
    assert hourly_price(sel(include=["H100"]), T2025) == pytest.approx(1.5)


def test_exclude_case_insensitive():
    upper = supported_gpus(sel(exclude=["A4000", "A4000_Ada"]), T2025)
    lower = supported_gpus(sel(exclude=["a4000", "a4000_ada"]), T2025)
    assert upper == lower
    assert "a4000" not in upper and "a4000_ada" not in upper
    assert hourly_price(sel(exclude=["A4000", "A4000_ADA"]), T2025) == pytest.approx(0.12)


def test_include_and_exclude_together():
    assert supported_gpus(sel(include=["h100", "h200"], exclude=["H100"]), T2025) == ["h200"]


def test_empty_include_means_no_include():
    assert supported_gpus(sel(include=[]), T2025) == NAMES_2025
    assert supported_gpus(sel(include=[]), T2026) == supported_gpus(sel(), T2026)


IMPOSSIBLE = [
    pytest.param(T2025, {"include": ["a4000"], "min_vram_gb_per_gpu": 24}, id="include-too-small"),
    pytest.param(T2025, {"max_hourly_price_per_gpu": 0.05}, id="too-cheap"),
    pytest.param(T2025, {"include": ["h100"], "exclude": ["h100"]}, id="include-excluded"),
    pytest.param(
        T2026,
        {"min_vram_gb_per_gpu": 140, "exclude": ["h200", "b200", "b300", "mi300x"]},
        id="2026-all-excluded",
    ),
    pytest.param(
        T2026, {"min_vram_gb_per_gpu": 140, "max_hourly_price_per_gpu": 2.0}, id="2026-big-cheap"
    ),
]


@pytest.mark.parametrize(("table", "kwargs"), IMPOSSIBLE)
def test_no_supported_gpus(table, kwargs):
    selector = sel(**kwargs)
    assert supported_gpus(selector, table) == []
    for fn in (compute_multiplier, hourly_price, hourly_range, deployment_fee):
        with pytest.raises(NoSupportedGpus, match="No supported GPUs based on node selector!"):
            fn(selector, table)
    with pytest.raises(NoSupportedGpus):
        deployment_fee(selector, table, "quadratic")
    with pytest.raises(NoSupportedGpus):
        current_estimated_price(selector, table, 400.0)


def test_no_supported_gpus_is_value_error():
    assert issubclass(NoSupportedGpus, ValueError)


# ------------------------------------------------------------ current_estimated_price


def test_current_estimated_price_shape_and_values():
    selector = sel(min_vram_gb_per_gpu=80, include=["h100", "h100_sxm"])
    block = current_estimated_price(selector, T2025, 400.0)
    assert set(block) == {"usd", "tao", "hourly_price_range"}
    assert set(block["usd"]) == {"hour", "second"}
    assert set(block["tao"]) == {"hour", "second"}
    assert set(block["hourly_price_range"]) == {"usd", "tao"}
    assert set(block["hourly_price_range"]["usd"]) == {"min", "max"}
    assert set(block["hourly_price_range"]["tao"]) == {"min", "max"}
    # §5.1 example values
    assert block["usd"]["hour"] == pytest.approx(1.5)
    assert block["usd"]["second"] == pytest.approx(0.000416, rel=1e-2)
    assert block["tao"]["hour"] == pytest.approx(0.00375)
    assert block["tao"]["second"] == pytest.approx(1.04e-06, rel=1e-2)
    assert block["hourly_price_range"]["usd"] == {
        "min": pytest.approx(1.5),
        "max": pytest.approx(1.7),
    }
    assert block["hourly_price_range"]["tao"] == {
        "min": pytest.approx(1.5 / 400),
        "max": pytest.approx(1.7 / 400),
    }


@pytest.mark.parametrize("table", [T2025, T2026], ids=["2025", "2026"])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"gpu_count": 3, "min_vram_gb_per_gpu": 48}, {"gpu_count": 8, "include": ["h200"]}],
)
@pytest.mark.parametrize("tao_usd", [400.0, 12.5])
def test_current_estimated_price_invariants(table, kwargs, tao_usd):
    selector = sel(**kwargs)
    block = current_estimated_price(selector, table, tao_usd)
    usd, tao, rng = block["usd"], block["tao"], block["hourly_price_range"]
    assert usd["hour"] == pytest.approx(hourly_price(selector, table))
    assert usd["second"] == pytest.approx(usd["hour"] / 3600)
    assert tao["hour"] == pytest.approx(usd["hour"] / tao_usd)
    assert tao["second"] == pytest.approx(usd["second"] / tao_usd)
    assert tao["second"] == pytest.approx(tao["hour"] / 3600)
    assert rng["usd"]["min"] <= rng["usd"]["max"]
    assert rng["tao"]["min"] <= rng["tao"]["max"]
    assert rng["usd"]["min"] == pytest.approx(usd["hour"])
    assert rng["tao"]["min"] == pytest.approx(rng["usd"]["min"] / tao_usd)
    assert rng["tao"]["max"] == pytest.approx(rng["usd"]["max"] / tao_usd)


def test_current_estimated_price_validates_as_price_block():
    from chutes_tui.client.models import PriceBlock

    block = PriceBlock.model_validate(current_estimated_price(sel(), T2026, 400.0))
    assert block.usd.hour == pytest.approx(0.2)
    assert block.hourly_price_range is not None


def test_gpu_price_estimates():
    estimates = gpu_price_estimates(T2025, 400.0)
    assert list(estimates) == NAMES_2025
    for name, est in estimates.items():
        rate = T2025.gpus[name].hourly_rate
        assert est["usd"] == {"hour": pytest.approx(rate), "second": pytest.approx(rate / 3600)}
        assert est["tao"] == {
            "hour": pytest.approx(rate / 400),
            "second": pytest.approx(rate / 3600 / 400),
        }


# ------------------------------------------------------------------- property tests


def _case_mix(names: list[str]):
    """Names from the table, each possibly upper-cased."""
    return st.lists(
        st.sampled_from(names).flatmap(lambda n: st.sampled_from([n, n.upper(), n.title()])),
        max_size=len(names),
    )


def selectors(names: list[str], rates: list[float]):
    return st.builds(
        NodeSelector,
        gpu_count=st.integers(1, 8),
        min_vram_gb_per_gpu=st.integers(16, 140),
        max_hourly_price_per_gpu=st.one_of(
            st.none(),
            st.sampled_from(rates),
            st.floats(min_value=0.01, max_value=9.99, allow_nan=False),
        ),
        include=st.one_of(st.none(), _case_mix(names)),
        exclude=st.one_of(st.none(), _case_mix(names)),
    )


RATES_2025 = sorted({g.hourly_rate for g in T2025.gpus.values()})
RATES_2026 = sorted({g.hourly_rate for g in T2026.gpus.values()})
SEL_2025 = selectors(NAMES_2025, RATES_2025)
SEL_2026 = selectors(NAMES_2026, RATES_2026)
PROPS = settings(max_examples=200, deadline=None)


def _lower(names: list[str] | None) -> set[str] | None:
    return None if names is None else {n.lower() for n in names}


def _check_filters(selector: NodeSelector, table: GpuTable, names: list[str]) -> None:
    include = _lower(selector.include)
    exclude = _lower(selector.exclude) or set()
    for name in names:
        gpu = table.gpus[name]
        assert gpu.memory >= selector.min_vram_gb_per_gpu
        assert name not in exclude
        if include:
            assert name in include
        if selector.max_hourly_price_per_gpu is not None:
            assert gpu.hourly_rate <= selector.max_hourly_price_per_gpu
    # a subsequence of table order, without duplicates
    order = list(table.gpus)
    assert names == sorted(set(names), key=order.index)


@PROPS
@given(SEL_2025)
def test_prop_supported_respects_filters_2025(selector):
    _check_filters(selector, T2025, supported_gpus(selector, T2025))


@PROPS
@given(SEL_2025)
def test_prop_no_rules_means_exactly_the_filters(selector):
    # the 2025 table has no rules: supported == every GPU passing the plain filters
    include = _lower(selector.include)
    exclude = _lower(selector.exclude) or set()
    cap = selector.max_hourly_price_per_gpu
    expected = [
        g.name
        for g in T2025.gpus.values()
        if (not include or g.name in include)
        and g.name not in exclude
        and g.memory >= selector.min_vram_gb_per_gpu
        and (cap is None or g.hourly_rate <= cap)
    ]
    assert supported_gpus(selector, T2025) == expected


@PROPS
@given(SEL_2025)
def test_prop_fees_and_multiplier_2025(selector):
    names = supported_gpus(selector, T2025)
    if not names:
        with pytest.raises(NoSupportedGpus):
            compute_multiplier(selector, T2025)
        return
    hour = hourly_price(selector, T2025)
    cheapest = min(T2025.gpus[n].hourly_rate for n in names)
    assert hour == pytest.approx(selector.gpu_count * cheapest)
    linear = deployment_fee(selector, T2025, "linear")
    assert linear == pytest.approx(3 * hour)
    assert deployment_fee(selector, T2025) == linear
    assert deployment_fee(selector, T2025, "quadratic") == pytest.approx(
        linear * selector.gpu_count
    )
    one = selector.model_copy(update={"gpu_count": 1})
    assert compute_multiplier(selector, T2025) == pytest.approx(
        selector.gpu_count * compute_multiplier(one, T2025)
    )
    assert hourly_price(selector, T2025) == pytest.approx(
        selector.gpu_count * hourly_price(one, T2025)
    )
    low, high = hourly_range(selector, T2025)
    assert low <= high
    assert low == pytest.approx(hour)


@PROPS
@given(SEL_2025, _case_mix(NAMES_2025))
def test_prop_more_exclude_never_grows_2025(selector, extra):
    before = set(supported_gpus(selector, T2025))
    more = selector.model_copy(update={"exclude": [*(selector.exclude or []), *extra]})
    after = set(supported_gpus(more, T2025))
    assert after <= before
    assert not after & _lower(extra)


@PROPS
@given(SEL_2025, st.integers(16, 140))
def test_prop_more_vram_never_grows_2025(selector, vram):
    low, high = sorted((selector.min_vram_gb_per_gpu, vram))
    small = selector.model_copy(update={"min_vram_gb_per_gpu": low})
    big = selector.model_copy(update={"min_vram_gb_per_gpu": high})
    assert set(supported_gpus(big, T2025)) <= set(supported_gpus(small, T2025))


@PROPS
@given(SEL_2026)
def test_prop_supported_respects_filters_2026(selector):
    names = supported_gpus(selector, T2026)
    _check_filters(selector, T2026, names)
    # rules only ever remove GPUs
    plain = GpuTable(gpus=T2026.gpus)
    assert set(names) <= set(supported_gpus(selector, plain))
    # mi300x never mixes
    if "mi300x" in names:
        assert names == ["mi300x"]
    # spread, only without include
    if names and not selector.include:
        cheapest = min(T2026.gpus[n].hourly_rate for n in names)
        for name in names:
            assert T2026.gpus[name].hourly_rate <= 2.5 * cheapest or name == "pro_6000"


@PROPS
@given(SEL_2026)
def test_prop_fees_2026(selector):
    if not supported_gpus(selector, T2026):
        with pytest.raises(NoSupportedGpus):
            deployment_fee(selector, T2026)
        return
    hour = hourly_price(selector, T2026)
    assert deployment_fee(selector, T2026) == pytest.approx(3 * hour)
    assert deployment_fee(selector, T2026, "quadratic") == pytest.approx(
        3 * hour * selector.gpu_count
    )
    block = current_estimated_price(selector, T2026, 400.0)
    assert block["usd"]["second"] == pytest.approx(block["usd"]["hour"] / 3600)
    rng = block["hourly_price_range"]["usd"]
    assert rng["min"] <= rng["max"]
