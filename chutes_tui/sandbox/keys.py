"""Sandbox-side identity: sr25519 hotkeys, ss58 addresses and API keys.

The sandbox keeps its own copy of the address maths on purpose: it is the server that
checks our client's signatures, so the two must not share a bug.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid

import base58
import sr25519

SS58_PREFIX = 42
API_KEY_RE = re.compile(r"^cpk_([0-9a-f]{32})\.([0-9a-f]{32})\.([A-Za-z0-9]{32})$")


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(b"SS58PRE" + payload, digest_size=64).digest()[:2]


def ss58_encode(public_key: bytes) -> str:
    payload = bytes([SS58_PREFIX]) + public_key
    return base58.b58encode(payload + _checksum(payload)).decode()


def ss58_decode(address: str) -> bytes:
    """The 32-byte public key inside an ss58 address; ValueError when it is not one."""
    raw = base58.b58decode(address)
    if len(raw) != 35 or raw[0] != SS58_PREFIX or _checksum(raw[:33]) != raw[33:]:
        raise ValueError(f"not an ss58 address: {address!r}")
    return raw[1:33]


def hotkey_from_seed(seed_hex: str) -> str:
    """The ss58 address of the sr25519 key made from a 32-byte hex mini-secret."""
    public, _ = sr25519.pair_from_seed(bytes.fromhex(seed_hex))
    return ss58_encode(public)


def verify(address: str, message: bytes, signature: bytes) -> bool:
    try:
        return bool(sr25519.verify(signature, message, ss58_decode(address)))
    except (ValueError, TypeError):
        return False


def new_api_key(user_id: str) -> tuple[str, str]:
    """A fresh `cpk_` key for a user: (api_key_id, secret)."""
    key_id = uuid.uuid4()
    tail = "".join(
        secrets.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        for _ in range(32)
    )
    secret = f"cpk_{key_id.hex}.{uuid.UUID(user_id).hex}.{tail}"
    return str(key_id), secret


def hash_api_key(secret: str) -> str:
    """Stored form of a key (the platform uses argon2; a sandbox needs only a one-way hash)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(secret), stored_hash)
