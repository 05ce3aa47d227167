"""Wire-format models: the deploy body (contract §5.4, §9) and tolerant response models."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from chutes_tui.client.models import (
    Chute,
    DeployRequest,
    Image,
    JobPortIn,
    NodeSelector,
    NodeSelectorOut,
)
from chutes_tui.core.pricing import GpuTable
from tests.conftest import deploy_body

GPU_NAMES = set(GpuTable.load().names)
CONTEXT = {"gpu_names": GPU_NAMES}


def sdk_body(**overrides) -> dict:
    """A deploy body as SDK 0.6.9 sends it."""
    return deploy_body(
        **{"name": "hello-world", "tagline": "demo", "code": "print(1)", **overrides}
    )


def with_selector(**selector) -> dict:
    body = sdk_body()
    body["node_selector"] = {**body["node_selector"], **selector}
    return body


# ----------------------------------------------------------------------- DeployRequest


def test_minimal_sdk_body_parses():
    req = DeployRequest.model_validate(sdk_body())
    assert req.name == "hello-world"
    assert req.image == "demo/hello:0.1"
    assert req.public is False
    assert req.node_selector == NodeSelector(gpu_count=1, min_vram_gb_per_gpu=16)
    assert req.filename == "hello.py"
    assert req.ref_str == "hello:chute"
    assert req.code == "print(1)"
    assert req.concurrency == 1
    assert req.max_instances == 1
    assert req.scaling_threshold == 0.75
    assert req.shutdown_after_seconds == 300
    assert len(req.cords) == 1
    assert req.cords[0].path == "/echo"
    assert req.cords[0].function == "echo"
    assert req.jobs == []
    assert req.revision is None
    assert req.tee is False


def test_minimal_sdk_body_parses_with_gpu_context():
    req = DeployRequest.model_validate(sdk_body(), context=CONTEXT)
    assert req.node_selector.gpu_count == 1


def test_defaults_when_optional_fields_missing():
    body = sdk_body()
    optional = (
        "tagline", "readme", "concurrency", "max_instances", "scaling_threshold",
        "shutdown_after_seconds", "cords", "jobs", "logo_id", "standard_template",
    )  # fmt: skip
    for key in optional:
        del body[key]
    req = DeployRequest.model_validate(body)
    assert req.tagline == ""
    assert req.readme == ""
    assert req.concurrency == 1
    assert req.max_instances == 1
    assert req.scaling_threshold == 0.75
    assert req.shutdown_after_seconds == 300
    assert req.cords == []
    assert req.jobs == []


@pytest.mark.parametrize("missing", ["name", "image", "public", "node_selector", "filename",
                                     "ref_str", "code"])  # fmt: skip
def test_required_fields(missing):
    body = sdk_body()
    del body[missing]
    with pytest.raises(ValidationError) as err:
        DeployRequest.model_validate(body)
    assert err.value.errors()[0]["loc"] == (missing,)


def test_unknown_fields_ignored():
    body = sdk_body(logging_enabled=True, use_rolling_update=True, something_new={"a": 1})
    body["node_selector"]["supported_gpus"] = ["h100"]
    body["node_selector"]["compute_multiplier"] = 0.5
    body["node_selector"]["mystery"] = 1
    body["cords"][0]["extra_cord_field"] = "x"
    body["jobs"] = [{"name": "j", "ports": [{"name": "p", "port": 8002, "weird": 1}], "zzz": 2}]
    req = DeployRequest.model_validate(body)
    dumped = req.model_dump()
    assert "logging_enabled" not in dumped
    assert "use_rolling_update" not in dumped
    assert "something_new" not in dumped
    # computed selector keys are dropped on input
    assert "supported_gpus" not in dumped["node_selector"]
    assert "compute_multiplier" not in dumped["node_selector"]
    assert "mystery" not in dumped["node_selector"]
    assert "extra_cord_field" not in dumped["cords"][0]
    assert "zzz" not in dumped["jobs"][0]
    assert "weird" not in dumped["jobs"][0]["ports"][0]


@pytest.mark.parametrize("falsy", [None, {}, [], 0, False, ""])
def test_falsy_node_selector_becomes_one_gpu(falsy):
    req = DeployRequest.model_validate(sdk_body(node_selector=falsy))
    assert req.node_selector.gpu_count == 1
    assert req.node_selector == NodeSelector(gpu_count=1)
    assert req.node_selector.min_vram_gb_per_gpu == 16


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_instances", 0),
        ("max_instances", 101),
        ("shutdown_after_seconds", 10),
        ("shutdown_after_seconds", 59),
        ("shutdown_after_seconds", 604801),
        ("scaling_threshold", 1.5),
        ("scaling_threshold", -0.1),
        ("concurrency", 257),
        ("code", "x" * 150001),
        ("name", "ab"),
        ("name", "a" * 129),
        ("tagline", "t" * 1025),
        ("readme", "r" * 16385),
        ("tool_description", "d" * 16385),
    ],
)
def test_deploy_bounds_rejected(field, value):
    with pytest.raises(ValidationError) as err:
        DeployRequest.model_validate(sdk_body(**{field: value}))
    assert err.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_instances", 1),
        ("max_instances", 100),
        ("shutdown_after_seconds", 60),
        ("shutdown_after_seconds", 604800),
        ("scaling_threshold", 0),
        ("scaling_threshold", 1),
        ("concurrency", 256),
        ("concurrency", None),
        ("code", "x" * 150000),
        ("name", "abc"),
        ("name", "a" * 128),
        ("tagline", None),
    ],
)
def test_deploy_bounds_accepted(field, value):
    req = DeployRequest.model_validate(sdk_body(**{field: value}))
    assert getattr(req, field) == value


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("gpu_count", 9),
        ("gpu_count", 0),
        ("min_vram_gb_per_gpu", 8),
        ("min_vram_gb_per_gpu", 15),
        ("min_vram_gb_per_gpu", 141),
        ("max_hourly_price_per_gpu", 0),
        ("max_hourly_price_per_gpu", 10),
        ("max_hourly_price_per_gpu", -1),
    ],
)
def test_node_selector_bounds_rejected(key, value):
    with pytest.raises(ValidationError) as err:
        DeployRequest.model_validate(with_selector(**{key: value}))
    assert err.value.errors()[0]["loc"] == ("node_selector", key)
    with pytest.raises(ValidationError):
        NodeSelector.model_validate({key: value})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("gpu_count", 1),
        ("gpu_count", 8),
        ("min_vram_gb_per_gpu", 16),
        ("min_vram_gb_per_gpu", 140),
        ("max_hourly_price_per_gpu", 0.01),
        ("max_hourly_price_per_gpu", 9.99),
        ("max_hourly_price_per_gpu", None),
    ],
)
def test_node_selector_bounds_accepted(key, value):
    req = DeployRequest.model_validate(with_selector(**{key: value}))
    assert getattr(req.node_selector, key) == value


def test_node_selector_defaults():
    selector = NodeSelector()
    assert selector.gpu_count == 1
    assert selector.min_vram_gb_per_gpu == 16
    assert selector.max_hourly_price_per_gpu is None
    assert selector.include is None
    assert selector.exclude is None


# ------------------------------------------------------------- GPU names via context


@pytest.mark.parametrize("field", ["include", "exclude"])
def test_unknown_gpu_passes_without_context(field):
    selector = NodeSelector.model_validate({field: ["h100", "nope_gpu"]})
    assert getattr(selector, field) == ["h100", "nope_gpu"]
    req = DeployRequest.model_validate(with_selector(**{field: ["nope_gpu"]}))
    assert getattr(req.node_selector, field) == ["nope_gpu"]


def test_unknown_gpu_in_include_rejected_with_context():
    with pytest.raises(ValidationError) as err:
        NodeSelector.model_validate({"include": ["h100", "nope_gpu"]}, context=CONTEXT)
    message = err.value.errors()[0]["msg"]
    assert "Invalid GPU identifiers `include`" in message
    assert "nope_gpu" in message
    assert "h100" not in message  # only the unknown names are listed
    assert err.value.errors()[0]["loc"] == ("include",)


def test_unknown_gpu_in_exclude_rejected_with_context():
    with pytest.raises(ValidationError) as err:
        NodeSelector.model_validate({"exclude": ["zz9"]}, context=CONTEXT)
    assert "Invalid GPU identifiers `exclude`" in str(err.value)
    assert "Invalid GPU identifiers `include`" not in str(err.value)


def test_unknown_gpu_rejected_inside_deploy_request_with_context():
    body = with_selector(include=["h100", "tpu_v5"])
    DeployRequest.model_validate(body)  # fine without a table
    with pytest.raises(ValidationError) as err:
        DeployRequest.model_validate(body, context=CONTEXT)
    assert "Invalid GPU identifiers `include`" in str(err.value)
    assert err.value.errors()[0]["loc"] == ("node_selector", "include")


def test_gpu_name_check_ignores_case():
    selector = NodeSelector.model_validate(
        {"include": ["H100", "A100_Sxm"], "exclude": ["MI300X"]}, context=CONTEXT
    )
    assert selector.include == ["H100", "A100_Sxm"]  # kept as sent
    assert selector.exclude == ["MI300X"]


def test_gpu_name_check_with_other_table():
    table_2025 = {"gpu_names": {"h100", "a100"}}
    NodeSelector.model_validate({"include": ["h100"]}, context=table_2025)
    with pytest.raises(ValidationError, match="Invalid GPU identifiers `include`"):
        NodeSelector.model_validate({"include": ["b300"]}, context=table_2025)
    assert "b300" in GPU_NAMES
    NodeSelector.model_validate({"include": ["b300"]}, context=CONTEXT)


def test_context_without_gpu_names_skips_check():
    selector = NodeSelector.model_validate({"include": ["nope"]}, context={"other": 1})
    assert selector.include == ["nope"]


def test_none_and_empty_lists_pass_with_context():
    selector = NodeSelector.model_validate({"include": None, "exclude": []}, context=CONTEXT)
    assert selector.include is None
    assert selector.exclude == []


# ---------------------------------------------------------------------------- job ports


@pytest.mark.parametrize("port", [2202, 8002, 8080, 65535])
def test_job_port_accepted(port):
    body = sdk_body(cords=[], jobs=[{"name": "train", "ports": [{"name": "p", "port": port}]}])
    req = DeployRequest.model_validate(body)
    assert req.jobs[0].ports[0].port == port
    assert req.jobs[0].ports[0].proto == "tcp"
    assert req.jobs[0].upload is False


@pytest.mark.parametrize("port", [8001, 8000, 2201, 2203, 22, 0, 65536, -1])
def test_job_port_rejected(port):
    body = sdk_body(cords=[], jobs=[{"name": "train", "ports": [{"name": "p", "port": port}]}])
    with pytest.raises(ValidationError) as err:
        DeployRequest.model_validate(body)
    assert "port must be 2202 or in 8002-65535" in str(err.value)
    assert err.value.errors()[0]["loc"] == ("jobs", 0, "ports", 0, "port")
    with pytest.raises(ValidationError):
        JobPortIn(name="p", port=port)


# ----------------------------------------------------------------- response models

USER = {
    "username": "alice",
    "user_id": "9d3c0000-0000-0000-0000-000000000000",
    "logo_id": None,
    "created_at": "2026-05-20T09:00:00.000000Z",
    "logo": None,
}

IMAGE = {
    "image_id": "3ace52f4-d2ac-50d4-9787-9280dc76c2bd",
    "name": "hello",
    "tag": "0.1",
    "readme": "",
    "public": False,
    "status": "built and pushed",
    "created_at": "2026-05-20T09:00:00.000000Z",
    "build_started_at": "2026-05-20T09:00:00.000000Z",
    "build_completed_at": "2026-05-20T09:00:00.000000Z",
    "user": USER,
    "logo_id": None,
    "patch_version": "initial",
    "logo": None,
}

CHUTE = {
    "chute_id": "e8888eec-9b86-57ca-9325-7ce09d1b61e4",
    "name": "hello-world",
    "tagline": "demo",
    "readme": "",
    "public": False,
    "version": "0a4f6b1e-0000-5000-8000-000000000000",
    "tool_description": None,
    "slug": "alice-hello-world",
    "standard_template": None,
    "cords": [
        {
            "method": "POST",
            "path": "/echo",
            "function": "echo",
            "stream": False,
            "passthrough": False,
            "public_api_path": "/echo",
            "public_api_method": "POST",
            "input_schema": {},
            "output_schema": {},
            "output_content_type": None,
            "minimal_input_schema": {},
        }
    ],
    "jobs": [],
    "cord_ref_id": None,
    "created_at": "2026-05-20T09:00:00.000000Z",
    "updated_at": "2026-05-20T09:00:00.000000Z",
    "image": IMAGE,
    "user": USER,
    "supported_gpus": ["h100", "h100_sxm"],
    "node_selector": {
        "gpu_count": 1,
        "min_vram_gb_per_gpu": 80,
        "include": ["h100", "h100_sxm"],
        "exclude": None,
        "compute_multiplier": 0.42857,
        "supported_gpus": ["h100", "h100_sxm"],
    },
    "invocation_count": 0,
    "current_estimated_price": {
        "usd": {"hour": 1.5, "second": 0.000416},
        "tao": {"hour": 0.00375, "second": 1.04e-06},
    },
    "instances": [
        {
            "instance_id": "b3f0",
            "region": "n/a",
            "active": True,
            "verified": True,
            "last_verified_at": "2026-05-20T09:00:00.000000Z",
        }
    ],
    "logo_id": None,
    "openrouter": False,
    "chutes_version": "0.6.9",
    "revision": None,
    "concurrency": 1,
    "boost": None,
    "max_instances": 1,
    "scaling_threshold": 0.75,
    "shutdown_after_seconds": 300,
    "logo": None,
    "hot": True,
}


def test_image_parses_contract_example():
    image = Image.model_validate(IMAGE)
    assert image.ready
    assert image.user is not None and image.user.username == "alice"
    assert not Image.model_validate({**IMAGE, "status": "building"}).ready


def test_image_accepts_extra_fields():
    image = Image.model_validate({**IMAGE, "chutes_version": "0.6.9", "brand_new": [1, 2]})
    assert image.chutes_version == "0.6.9"
    assert image.model_extra == {"brand_new": [1, 2]}
    assert image.model_dump()["brand_new"] == [1, 2]


def test_chute_parses_contract_example():
    chute = Chute.model_validate(CHUTE)
    assert chute.chute_id == "e8888eec-9b86-57ca-9325-7ce09d1b61e4"
    assert chute.image.ready
    assert isinstance(chute.node_selector, NodeSelectorOut)
    assert chute.node_selector.compute_multiplier == pytest.approx(0.42857)
    assert chute.node_selector.supported_gpus == ["h100", "h100_sxm"]
    assert chute.current_estimated_price is not None
    assert chute.current_estimated_price.usd.hour == 1.5
    assert chute.instances[0].active and chute.instances[0].verified
    assert chute.hot is True


def test_chute_accepts_extra_fields():
    data = copy.deepcopy(CHUTE)
    data.update(
        {
            "preemptible": False,
            "allow_external_egress": None,
            "effective_compute_multiplier": 0.5,
            "compute_multiplier_factors": {"base": 0.5},
            "bounty": None,
            "lock_modules": False,
            "execution_backend": "hosted",
            "disabled": False,
            "logging_enabled": True,
        }
    )
    data["image"]["unknown_image_key"] = "x"
    data["user"]["unknown_user_key"] = 1
    data["instances"][0]["gpu"] = "h100"
    data["cords"][0]["new_cord_key"] = True
    data["current_estimated_price"]["per_million_tokens"] = {"input": {"usd": 1, "tao": 2}}
    data["current_estimated_price"]["input_cache_read"] = {"usd": 0.1}
    chute = Chute.model_validate(data)
    assert chute.model_extra is not None
    assert chute.model_extra["execution_backend"] == "hosted"
    assert chute.model_extra["effective_compute_multiplier"] == 0.5
    assert chute.image.model_extra == {"unknown_image_key": "x"}
    assert chute.user.model_extra == {"unknown_user_key": 1}
    assert chute.instances[0].model_extra == {"gpu": "h100"}
    assert chute.cords is not None and chute.cords[0].model_extra == {"new_cord_key": True}
    assert chute.current_estimated_price is not None
    assert chute.current_estimated_price.per_million_tokens is not None


def test_chute_list_item_with_null_cords_and_nullable_scaling():
    # list responses carry cords=null; public chutes have null scaling fields
    data = {
        **CHUTE,
        "cords": None,
        "cord_ref_id": "ffffffff-0000-5000-8000-000000000000",
        "max_instances": None,
        "scaling_threshold": None,
        "shutdown_after_seconds": None,
        "current_estimated_price": None,
    }
    chute = Chute.model_validate(data)
    assert chute.cords is None
    assert chute.max_instances is None


def test_chute_missing_required_field_rejected():
    data = copy.deepcopy(CHUTE)
    del data["version"]
    with pytest.raises(ValidationError):
        Chute.model_validate(data)


def test_chute_selector_not_checked_against_gpu_table():
    # without a context, response models parse whatever GPU names the server sends
    data = copy.deepcopy(CHUTE)
    data["node_selector"]["include"] = ["future_gpu"]
    chute = Chute.model_validate(data)
    assert chute.node_selector.include == ["future_gpu"]
