"""Pydantic models of the Chutes API wire format, shared by the client and the sandbox.

Response models accept unknown keys (newer servers add fields); request models describe
exactly what SDK 0.6.9 sends. Checks that need the GPU table read it from the validation
context (``{"gpu_names": {...}}``), so the client can parse without one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)

T = TypeVar("T")


def _wire_time(value: datetime) -> str:
    """ISO-8601 with microseconds; aware times end in `Z` as the API writes them."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text + "Z" if value.utcoffset() is not None else text


Timestamp = Annotated[datetime, PlainSerializer(_wire_time, return_type=str, when_used="json")]


class ApiModel(BaseModel):
    """Base for response objects: tolerant of fields added by newer servers."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class UserRef(ApiModel):
    username: str
    user_id: str
    logo_id: str | None = None
    logo: str | None = None
    created_at: Timestamp | None = None


class User(ApiModel):
    """`GET /users/me` (SelfResponse)."""

    username: str
    user_id: str
    logo_id: str | None = None
    logo: str | None = None
    created_at: Timestamp | None = None
    hotkey: str | None = None
    coldkey: str | None = None
    payment_address: str | None = None
    permissions_bitmask: int = 0
    permissions: list[str] = Field(default_factory=list)
    balance: float | None = 0.0
    netuids: list[int] | None = None
    quotas: list[Any] | None = None


class NameCheck(ApiModel):
    valid: bool
    available: bool


class Image(ApiModel):
    image_id: str
    name: str
    tag: str
    readme: str = ""
    public: bool = False
    status: str
    created_at: Timestamp | None = None
    build_started_at: Timestamp | None = None
    build_completed_at: Timestamp | None = None
    user: UserRef | None = None
    logo_id: str | None = None
    logo: str | None = None
    patch_version: str | None = "initial"
    chutes_version: str | None = None

    @property
    def ready(self) -> bool:
        return self.status == "built and pushed"


class GpuNames:
    """Read the known GPU names from a validation context, if one was given."""

    @staticmethod
    def from_info(info: ValidationInfo) -> set[str] | None:
        context = info.context or {}
        names = context.get("gpu_names")
        return set(names) if names is not None else None


class NodeSelector(BaseModel):
    """Hardware requirements; `supported_gpus`/`compute_multiplier` are computed, not input."""

    model_config = ConfigDict(extra="ignore")

    gpu_count: int = Field(1, ge=1, le=8)
    min_vram_gb_per_gpu: int = Field(16, ge=16, le=140)
    max_hourly_price_per_gpu: float | None = Field(None, gt=0, lt=10)
    include: list[str] | None = None
    exclude: list[str] | None = None
    dynamic: bool | None = None

    @field_validator("include", "exclude")
    @classmethod
    def _known_gpus(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        known = GpuNames.from_info(info)
        if value is None or known is None:
            return value
        unknown = {name for name in value if name.lower() not in known}
        if unknown:
            raise ValueError(f"Invalid GPU identifiers `{info.field_name}`: {unknown}")
        return value


class NodeSelectorOut(NodeSelector):
    """A selector as the server returns it, with the computed keys."""

    compute_multiplier: float | None = None
    supported_gpus: list[str] = Field(default_factory=list)


class Cord(ApiModel):
    method: str = "POST"
    path: str
    function: str
    stream: bool = False
    passthrough: bool = False
    public_api_path: str | None = None
    public_api_method: str | None = None
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    output_content_type: str | None = None
    minimal_input_schema: dict[str, Any] | None = None


def _allowed_port(port: int) -> int:
    if port != 2202 and not 8002 <= port <= 65535:
        raise ValueError("port must be 2202 or in 8002-65535")
    return port


class JobPort(ApiModel):
    name: str
    port: int
    proto: str = "tcp"
    default: bool | None = None


class Job(ApiModel):
    name: str
    upload: bool = False
    timeout: int | None = None
    ports: list[JobPort] = Field(default_factory=list)
    disk_gb: int | None = None


class UsdTao(ApiModel):
    hour: float
    second: float


class PriceBlock(ApiModel):
    """`current_estimated_price`: always usd and tao, per hour and second."""

    usd: UsdTao
    tao: UsdTao
    per_million_tokens: dict[str, Any] | None = None
    per_step: dict[str, Any] | None = None
    hourly_price_range: dict[str, Any] | None = None


class Instance(ApiModel):
    """MinimalInstanceResponse, as embedded in a chute."""

    instance_id: str
    region: str = "n/a"
    active: bool = False
    verified: bool = False
    last_verified_at: Timestamp | None = None


class Chute(ApiModel):
    chute_id: str
    name: str
    tagline: str | None = ""
    readme: str | None = ""
    tool_description: str | None = None
    slug: str | None = None
    public: bool = False
    version: str
    standard_template: str | None = None
    cords: list[Cord] | None = None
    jobs: list[Job] | None = None
    cord_ref_id: str | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    image: Image
    user: UserRef
    supported_gpus: list[str] = Field(default_factory=list)
    node_selector: NodeSelectorOut
    invocation_count: int = 0
    current_estimated_price: PriceBlock | None = None
    instances: list[Instance] = Field(default_factory=list)
    logo_id: str | None = None
    logo: str | None = None
    openrouter: bool | None = False
    chutes_version: str | None = None
    revision: str | None = None
    concurrency: int | None = None
    boost: float | None = None
    max_instances: int | None = None
    scaling_threshold: float | None = None
    shutdown_after_seconds: int | None = None
    hot: bool = False


class Page(ApiModel, Generic[T]):
    """A list reply: `{total, page, limit, items, cord_refs}`."""

    total: int
    page: int
    limit: int
    items: list[T]
    cord_refs: dict[str, list[Cord]] | None = None


class Deleted(ApiModel):
    deleted: bool
    chute_id: str | None = None
    image_id: str | None = None


class Share(ApiModel):
    chute_id: str
    shared_by: str
    shared_to: str
    shared_at: Timestamp


class ShareRequest(BaseModel):
    chute_id_or_name: str
    user_id_or_name: str


class StatusReply(ApiModel):
    status: str


class WarmupEvent(ApiModel):
    """One `data:` line of the warmup stream."""

    status: Literal["cold", "hot"] | str
    log: str = ""


class Bounty(ApiModel):
    amount: float | None = None
    boost: float | None = None
    age_seconds: float | None = None
    created_at: float | None = None


class QuickInstance(ApiModel):
    instance_id: str
    active: bool = False
    gpu_count: int = 1
    gpu_model_name: str | None = None


class QuickWarmup(ApiModel):
    """`GET /chutes/warmup/{x}?quick=true`."""

    chute_id: str
    status: str
    instance_count: int = 0
    bounty: Bounty | None = None
    instances: list[QuickInstance] = Field(default_factory=list)

    @classmethod
    def from_chute(cls, chute: Chute) -> QuickWarmup:
        """The same facts read from the chute (for servers without a quick status)."""
        hot = [row for row in chute.instances if row.active and row.verified]
        return cls(
            chute_id=chute.chute_id,
            status="hot" if hot else "cold",
            instance_count=len(hot),
            instances=[
                QuickInstance(
                    instance_id=row.instance_id,
                    active=row.active,
                    gpu_count=chute.node_selector.gpu_count,
                )
                for row in chute.instances
            ],
        )


class GpuPrice(ApiModel):
    usd: UsdTao
    tao: UsdTao


class Pricing(ApiModel):
    """`GET /pricing`."""

    tao_usd: float
    compute_unit_estimate: dict[str, Any]
    gpu_price_estimates: dict[str, GpuPrice]


class CordIn(BaseModel):
    """A cord as SDK 0.6.9 sends it in a deploy body."""

    model_config = ConfigDict(extra="ignore")

    method: str = "POST"
    path: str
    public_api_path: str | None = None
    public_api_method: str | None = None
    stream: bool = False
    function: str
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    output_content_type: str | None = None
    minimal_input_schema: dict[str, Any] | None = None
    passthrough: bool = False


class JobPortIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    port: int
    proto: str = "tcp"

    @field_validator("port")
    @classmethod
    def _port(cls, port: int) -> int:
        return _allowed_port(port)


class JobIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ports: list[JobPortIn] = Field(default_factory=list)
    timeout: int | None = None
    name: str
    upload: bool = False


class DeployRequest(BaseModel):
    """The body of `POST /chutes/`, field for field as SDK 0.6.9 builds it."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=3, max_length=128)
    tagline: str | None = Field("", max_length=1024)
    readme: str | None = Field("", max_length=16384)
    tool_description: str | None = Field(None, max_length=16384)
    logo_id: str | None = None
    image: str
    public: bool
    standard_template: str | None = None
    node_selector: NodeSelector
    filename: str
    ref_str: str
    code: str = Field(max_length=150000)
    concurrency: int | None = Field(1, le=256)
    max_instances: int = Field(1, ge=1, le=100)
    scaling_threshold: float = Field(0.75, ge=0, le=1)
    shutdown_after_seconds: int = Field(300, ge=60, le=604800)
    allow_external_egress: bool | None = None
    encrypted_fs: bool | None = None
    tee: bool | None = None
    lock_modules: bool | None = None
    revision: str | None = None
    cords: list[CordIn] = Field(default_factory=list)
    jobs: list[JobIn] = Field(default_factory=list)

    @field_validator("node_selector", mode="before")
    @classmethod
    def _falsy_selector(cls, value: Any) -> Any:
        return value or {"gpu_count": 1}


class ChuteUpdate(BaseModel):
    """The body of `PUT /chutes/{x}`."""

    model_config = ConfigDict(extra="ignore")

    tagline: str | None = None
    readme: str | None = None
    tool_description: str | None = None
    logo_id: str | None = None
    max_instances: int | None = Field(None, ge=1, le=100)
    scaling_threshold: float | None = Field(None, ge=0, le=1)
    shutdown_after_seconds: int | None = Field(None, ge=60, le=604800)


class InvocationUsage(ApiModel):
    """A row of `GET /invocations/usage`: one chute's amount and calls on one day (all users)."""

    chute_id: str
    date: str
    usd_amount: float
    invocation_count: int


class UsageBucket(ApiModel):
    """A row of `GET /users/me/usage`: what the caller was billed in one hour (per chute when
    asked for); credits from shared users' calls are negative."""

    bucket: datetime
    chute_id: str | None = None
    amount: float
    count: int


class UsagePage(ApiModel):
    total: int
    page: int
    limit: int
    items: list[UsageBucket]


class ChuteUtilization(ApiModel):
    """A row of `GET /chutes/utilization`; private chutes are named `[private chute]`."""

    chute_id: str
    name: str | None = None
    utilization_current: float = 0.0
    utilization_1h: float = 0.0
    total_requests_1h: int = 0
    completed_requests_1h: int = 0
    rate_limited_requests_1h: int = 0
    total_instance_count: int = 0
    active_instance_count: int = 0


class LedgerEntry(ApiModel):
    """A row of the sandbox's `GET /_sandbox/ledger` (no such route on the platform)."""

    bucket: datetime
    chute_id: str
    kind: str
    amount: float
    count: int = 0


# API keys and secrets: a new key's secret comes once, in the reply that creates it; a
# secret's value goes once, in the request that creates it; neither shows in a repr.


class ApiKeyScope(ApiModel):
    """One scope: an object type, maybe one object, maybe one action (None: every action).

    The platform's reply names the action `method` (and leaves it empty); `action` is
    what a request sends, and what the sandbox replies with as well.
    """

    scope_id: str | None = None
    object_type: str
    object_id: str | None = None
    action: str | None = None
    method: str | None = None

    @property
    def verb(self) -> str | None:
        return self.action or self.method


class ApiKey(ApiModel):
    """`GET /api_keys/` items."""

    api_key_id: str
    user_id: str
    admin: bool
    name: str
    created_at: Timestamp | None = None
    last_used_at: Timestamp | None = None
    scopes: list[ApiKeyScope] | None = None


class ApiKeyCreated(ApiKey):
    """`POST /api_keys/`: the key, and its secret this once."""

    secret_key: str = Field(repr=False)


class ApiKeyDeleted(ApiModel):
    api_key_id: str
    deleted: bool


class ScopeRequest(BaseModel):
    object_type: str
    object_id: str | None = None
    action: Literal["read", "write", "delete", "invoke"] | None = None


class ApiKeyRequest(BaseModel):
    """What `chutes keys create` sends: `scopes` is left out for an admin key."""

    admin: bool
    name: str
    scopes: list[ScopeRequest] | None = Field(default_factory=list)


class Secret(ApiModel):
    """`GET /secrets/` items: never the value. `purpose` is the chute's id."""

    secret_id: str
    purpose: str
    key: str
    created_at: Timestamp | None = None


class SecretDeleted(ApiModel):
    secret_id: str
    status: str | None = None


class SecretRequest(BaseModel):
    """What `chutes secrets create` sends; `purpose` is a chute's name or id."""

    purpose: str
    key: str
    value: str = Field(repr=False)
