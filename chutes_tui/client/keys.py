"""API keys and secrets on the wire: shared by the client and the sandbox.

A new key's secret (`secret_key`) comes once, in the reply that creates it; a secret's value
goes once, in the request that creates it. Neither is ever in a list, and neither shows in
a model's repr.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from chutes_tui.client.models import ApiModel, Timestamp


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
