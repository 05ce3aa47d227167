"""Finding images and chutes by id or name, with the platform's visibility rules.

A chute is visible when it is public, owned by the caller, or shared with the caller.
Names resolve as an exact id first, then a case-insensitive full name preferring the
caller's own chute, then shared, then public; `user/name` also names the owner explicitly,
and among equally visible matches that user's chute wins over one literally named so.
"""

from __future__ import annotations

import uuid

from chutes_tui.sandbox.storage import ChuteRow, ImageRow, Store, UserRow


def image_uid(username: str, name: str, tag: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{username}/{name}:{tag}".lower()))


def chute_uid(username: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{username}::chute::{name}"))


def image_visible(image: ImageRow, user: UserRow | None) -> bool:
    return bool(image["public"]) or (user is not None and image["user_id"] == user["user_id"])


def find_image(store: Store, ref: str, user: UserRow | None) -> ImageRow | None:
    """An image by id or `[username/]name:tag` (username defaults to the caller)."""
    ref = ref.strip("/")
    image = store.image(ref)
    if image is None and ":" in ref:
        owner_part, _, name_tag = ref.rpartition("/") if "/" in ref else ("", "", ref)
        name, _, tag = name_tag.partition(":")
        owner_name = owner_part or (user["username"] if user else "")
        owner = store.find_user(owner_name) if owner_name else None
        if owner and name and tag:
            image = store.image(image_uid(owner["username"], name, tag))
    if image is None or not image_visible(image, user):
        return None
    return image


def _rank(chute: ChuteRow, user: UserRow | None, store: Store) -> int | None:
    """0 own, 1 shared, 2 public; None when the caller may not see it."""
    if user is not None and chute["user_id"] == user["user_id"]:
        return 0
    if user is not None and store.shared_with(chute["chute_id"], user["user_id"]):
        return 1
    if chute["public"]:
        return 2
    return None


def chute_visible(store: Store, chute: ChuteRow, user: UserRow | None) -> bool:
    return _rank(chute, user, store) is not None


def find_chute(store: Store, ref: str, user: UserRow | None) -> ChuteRow | None:
    """A visible chute by id, name, or `owner/name`."""
    ref = ref.lstrip("/")
    chute = store.chute(ref)
    if chute is not None:
        return chute if chute_visible(store, chute, user) else None
    candidates = store.all_as(ChuteRow, "SELECT * FROM chutes WHERE name = ? COLLATE NOCASE", ref)
    owner = None
    if "/" in ref:
        owner_name, _, name = ref.partition("/")
        owner = store.find_user(owner_name)
        if owner is not None:
            candidates += store.all_as(
                ChuteRow,
                "SELECT * FROM chutes WHERE user_id = ? AND name = ? COLLATE NOCASE",
                owner["user_id"],
                name,
            )
    owner_id = owner["user_id"] if owner else None
    ranked = [
        (rank, chute["user_id"] != owner_id, chute["created_at"], chute)
        for chute in candidates
        if (rank := _rank(chute, user, store)) is not None
    ]
    ranked.sort(key=lambda entry: entry[:3])
    return ranked[0][3] if ranked else None


def find_owned_chute(store: Store, ref: str, user: UserRow) -> ChuteRow | None:
    """A chute the caller owns, by exact id or case-insensitive name."""
    return store.one_as(
        ChuteRow,
        "SELECT * FROM chutes WHERE user_id = ? AND (chute_id = ? OR name = ? COLLATE NOCASE)",
        user["user_id"],
        ref,
        ref,
    )
