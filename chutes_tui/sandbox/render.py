"""Turning stored rows into the API's JSON, through the shared pydantic models."""

from __future__ import annotations

import json
import uuid
from typing import Any, TypedDict

from chutes_tui.client.models import Chute, Cord, Image, Instance, NodeSelector, User
from chutes_tui.core import pricing
from chutes_tui.sandbox.settings import SandboxSettings
from chutes_tui.sandbox.storage import ChuteRow, ImageRow, InstanceRow, Store, UserRow, present

LOGO_CDN = "https://logos.chutes.ai/logos/"
SCHEMA_KEYS = ("input_schema", "output_schema", "minimal_input_schema")

PERMISSIONS = {
    0: "Developer -- create images and chutes on the platform.",
    4: "Free account -- no deployment fees.",
    5: "Unlimited -- no rate limits.",
    11: "Allow deploying models publicly.",
}
SANDBOX_NOTE = "Sandbox -- local simulated Chutes API: no real GPUs, no real money."


def logo_url(logo_id: str | None) -> str | None:
    return f"{LOGO_CDN}{logo_id}.webp" if logo_id else None


class Owner(TypedDict):
    """What a rendered image or chute says of its owner (who may be gone)."""

    username: str
    user_id: str
    logo_id: str | None
    created_at: str | None


def user_ref(user: UserRow | Owner) -> dict[str, Any]:
    return {
        "username": user["username"],
        "user_id": user["user_id"],
        "logo_id": user["logo_id"],
        "logo": logo_url(user["logo_id"]),
        "created_at": user["created_at"],
    }


class Renderer:
    """Renders rows for one request, caching the owners it looks up."""

    def __init__(self, store: Store, settings: SandboxSettings) -> None:
        self.store = store
        self.settings = settings
        self._users: dict[str, UserRow | Owner] = {}
        self._images: dict[str, dict[str, Any]] = {}

    def owner(self, user_id: str) -> UserRow | Owner:
        if user_id not in self._users:
            self._users[user_id] = self.store.user(user_id) or {
                "username": "unknown",
                "user_id": user_id,
                "logo_id": None,
                "created_at": None,
            }
        return self._users[user_id]

    def me(self, user: UserRow, balance: float) -> dict[str, Any]:
        bits = user["permissions_bitmask"]
        permissions = [text for bit, text in PERMISSIONS.items() if bits & (1 << bit)]
        body = {
            **user_ref(user),
            "hotkey": user["hotkey"],
            "coldkey": user["coldkey"],
            "payment_address": user["payment_address"],
            "permissions_bitmask": bits,
            "permissions": [*permissions, SANDBOX_NOTE],
            "balance": round(balance, 6),
            "netuids": None,
            "quotas": None,
        }
        return User.model_validate(body).model_dump(mode="json")

    def _chute_image(self, image_id: str, image: ImageRow | None) -> dict[str, Any]:
        """A chute's image, rendered once per request however many chutes share it."""
        if image_id not in self._images:
            found = image or present(self.store.image(image_id), f"image {image_id}")
            self._images[image_id] = self.image(found)
        return self._images[image_id]

    def image(self, image: ImageRow) -> dict[str, Any]:
        body: dict[str, Any] = {
            key: image[key]
            for key in (
                "image_id",
                "name",
                "tag",
                "readme",
                "status",
                "created_at",
                "build_started_at",
                "build_completed_at",
                "logo_id",
                "patch_version",
                "chutes_version",
            )
        }
        body.update(
            public=bool(image["public"]),
            user=user_ref(self.owner(image["user_id"])),
            logo=logo_url(image["logo_id"]),
        )
        return Image.model_validate(body).model_dump(mode="json")

    def chute(
        self,
        chute: ChuteRow,
        instances: list[InstanceRow],
        image: ImageRow | None = None,
        listing: bool = False,
        include_schemas: bool = True,
    ) -> dict[str, Any]:
        spec = chute["spec"]
        table = self.settings.gpu_table
        selector = NodeSelector.model_validate(spec["node_selector"])
        supported = pricing.supported_gpus(selector, table)
        multiplier = pricing.compute_multiplier(selector, table) if supported else None
        price = (
            pricing.current_estimated_price(selector, table, self.settings.tao_usd)
            if supported
            else None
        )
        public = bool(chute["public"])
        cords = [self._cord(cord, include_schemas) for cord in spec.get("cords", [])]
        body = {
            "chute_id": chute["chute_id"],
            "name": chute["name"],
            "tagline": spec.get("tagline") or "",
            "readme": spec.get("readme") or "",
            "tool_description": spec.get("tool_description"),
            "slug": chute["slug"],
            "public": public,
            "version": chute["version"],
            "standard_template": spec.get("standard_template"),
            "cords": None if listing else cords,
            "jobs": spec.get("jobs", []),
            "cord_ref_id": cord_ref_id(spec.get("cords", []), chute["name"], spec)
            if listing
            else None,
            "created_at": chute["created_at"],
            "updated_at": chute["updated_at"],
            "image": self._chute_image(chute["image_id"], image),
            "user": user_ref(self.owner(chute["user_id"])),
            "supported_gpus": supported,
            "node_selector": {
                **selector.model_dump(exclude_none=True, exclude={"dynamic"}),
                "include": selector.include,
                "exclude": selector.exclude,
                "compute_multiplier": multiplier,
                "supported_gpus": supported,
            },
            "invocation_count": chute["invocation_count"],
            "current_estimated_price": price,
            "instances": [instance_out(row) for row in instances],
            "logo_id": spec.get("logo_id"),
            "logo": logo_url(spec.get("logo_id")),
            "openrouter": False,
            "chutes_version": spec.get("chutes_version"),
            "revision": spec.get("revision"),
            "concurrency": spec.get("concurrency"),
            "boost": None,
            "max_instances": None if public else spec.get("max_instances", 1),
            "scaling_threshold": None if public else spec.get("scaling_threshold", 0.75),
            "shutdown_after_seconds": None if public else spec.get("shutdown_after_seconds", 300),
            "hot": any(row["active"] and row["verified"] for row in instances),
        }
        return Chute.model_validate(body).model_dump(mode="json")

    def cords(self, chute: ChuteRow, include_schemas: bool = True) -> list[dict[str, Any]]:
        """A chute's cords as the API shows them (schemas blanked unless asked for)."""
        return [
            Cord.model_validate(self._cord(cord, include_schemas)).model_dump(mode="json")
            for cord in chute["spec"].get("cords", [])
        ]

    @staticmethod
    def _cord(cord: dict[str, Any], include_schemas: bool) -> dict[str, Any]:
        if include_schemas:
            return dict(cord)
        return {key: (None if key in SCHEMA_KEYS else value) for key, value in cord.items()}


def instance_out(row: InstanceRow) -> dict[str, Any]:
    return Instance.model_validate(
        {
            "instance_id": row["instance_id"],
            "region": row["region"],
            "active": bool(row["active"]),
            "verified": bool(row["verified"]),
            "last_verified_at": row["last_verified_at"],
        }
    ).model_dump(mode="json")


def cord_ref_id(cords: list[dict[str, Any]], name: str, spec: dict[str, Any]) -> str:
    """uuid5 of the compact cords JSON; vllm chutes blank their own name first."""
    text = json.dumps(cords, separators=(",", ":"))
    if spec.get("standard_template") == "vllm":
        text = text.replace(f'"default":"{name}"', '"default":""')
    return str(uuid.uuid5(uuid.NAMESPACE_OID, text))
