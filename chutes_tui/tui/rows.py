"""The dashboard's list rows: small frozen records built once per refresh from the API's JSON.

Plain dataclasses, not pydantic models: a 10,000-chute account is read on every refresh,
and the list path stays as cheap as the dicts it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from chutes_tui.core.formatting import gpu_summary, hourly_usd
from chutes_tui.core.pricing import GpuTable

Raw = dict[str, Any]


@dataclass(frozen=True)
class ChuteRow:
    chute_id: str
    name: str
    hot: bool
    instances: int
    usd_hour: float | None
    gpus: str
    invocations: int
    slug: str | None
    created_at: str | None
    image_id: str | None
    public: bool
    owner_id: str | None
    shared: bool = False  # shared with the user: the API never lists these, they opened it

    @classmethod
    def from_api(cls, raw: Raw, table: GpuTable | None, shared: bool = False) -> ChuteRow:
        return cls(
            chute_id=raw["chute_id"],
            name=raw["name"],
            hot=bool(raw.get("hot")),
            instances=len(raw.get("instances") or []),
            usd_hour=hourly_usd(raw),
            gpus=gpu_summary(raw, table),
            invocations=int(raw.get("invocation_count") or 0),
            slug=raw.get("slug"),
            created_at=raw.get("created_at"),
            image_id=(raw.get("image") or {}).get("image_id") or raw.get("image_id"),
            public=bool(raw.get("public")),
            owner_id=(raw.get("user") or {}).get("user_id") or raw.get("user_id"),
            shared=shared,
        )


@dataclass(frozen=True)
class ImageRow:
    image_id: str
    name: str
    tag: str
    status: str
    public: bool
    owner: str | None
    owner_id: str | None
    created_at: str | None
    build_started_at: str | None
    build_completed_at: str | None
    chutes_version: str | None
    patch_version: str | None
    readme: str | None
    used_by: tuple[str, ...] = ()  # names of the chutes that use it (from the chutes list)

    @classmethod
    def from_api(cls, raw: Raw) -> ImageRow:
        user = raw.get("user") or {}
        return cls(
            image_id=raw["image_id"],
            name=raw["name"],
            tag=raw["tag"],
            status=raw.get("status") or "",
            public=bool(raw.get("public")),
            owner=user.get("username"),
            owner_id=user.get("user_id") or raw.get("user_id"),
            created_at=raw.get("created_at"),
            build_started_at=raw.get("build_started_at"),
            build_completed_at=raw.get("build_completed_at"),
            chutes_version=raw.get("chutes_version"),
            patch_version=raw.get("patch_version"),
            readme=raw.get("readme"),
        )

    @property
    def label(self) -> str:
        return f"{self.owner or '?'}/{self.name}:{self.tag}"

    def used(self, by: dict[str, tuple[str, ...]]) -> ImageRow:
        users = by.get(self.image_id, ())
        return self if users == self.used_by else replace(self, used_by=users)


@dataclass(frozen=True)
class ShareRow:
    chute_id: str
    shared_to: str  # a user id: the API reports shares by id only
    shared_at: str
    chute: str  # the chute's name when known, else its id
    user: str  # the user's name when chutes-tui learned it, else their id
    marked: bool = False

    @property
    def key(self) -> str:
        return f"{self.chute_id}:{self.shared_to}"


def images_in_use(chutes: list[ChuteRow]) -> dict[str, tuple[str, ...]]:
    """Which chutes use each image, by image id."""
    users: dict[str, list[str]] = {}
    for chute in chutes:
        if chute.image_id:
            users.setdefault(chute.image_id, []).append(chute.name)
    return {image_id: tuple(names) for image_id, names in users.items()}
