"""Request authentication: API keys, and sr25519 hotkey signatures byte-compatible with the SDK.

A route either declares a purpose (the message is `ss58:nonce:purpose`) or, for POST, PUT
and PATCH without one, the message ends with the SHA-256 of the exact body bytes sent.
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass, field


def _ss58(public_key: bytes) -> str:
    import base58

    payload = b"\x2a" + public_key
    checksum = hashlib.blake2b(b"SS58PRE" + payload, digest_size=64).digest()[:2]
    return base58.b58encode(payload + checksum).decode()


def _seed_bytes(seed_hex: str) -> bytes:
    try:
        seed = bytes.fromhex(seed_hex.strip().removeprefix("0x"))
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise ValueError("hotkey_seed must be 64 hex characters")
    return seed


@functools.lru_cache(maxsize=4)
def _keypair(seed_hex: str) -> tuple[bytes, bytes]:
    import sr25519

    return sr25519.pair_from_seed(bytes.fromhex(seed_hex))


@dataclass(frozen=True)
class Hotkey:
    """An sr25519 key from the SDK's `hotkey_seed`; never shows the seed in its repr."""

    seed_hex: str = field(repr=False)
    ss58: str
    user_id: str | None = None

    @classmethod
    def from_seed(cls, seed_hex: str, user_id: str | None = None) -> Hotkey:
        """The key for a seed, its address worked out from the seed."""
        seed = _seed_bytes(seed_hex)
        return cls(seed.hex(), _ss58(_keypair(seed.hex())[0]), user_id)

    @classmethod
    def from_config(cls, seed_hex: str, ss58: str, user_id: str | None = None) -> Hotkey:
        """A key as the SDK config states it; the pair is checked when it first signs."""
        return cls(_seed_bytes(seed_hex).hex(), ss58, user_id)

    def check(self) -> None:
        """ValueError when the seed does not belong to the stated address."""
        derived = _ss58(_keypair(self.seed_hex)[0])
        if derived != self.ss58:
            raise ValueError(f"hotkey_seed does not belong to hotkey_ss58address {self.ss58}")

    def sign(self, message: bytes) -> str:
        import sr25519

        return sr25519.sign(_keypair(self.seed_hex), message).hex()

    def headers(
        self, purpose: str | None = None, body: bytes | None = None, nonce: int | None = None
    ) -> dict[str, str]:
        """Signed headers: the body-hash form when a body is given, else the purpose form."""
        nonce_text = str(int(time.time()) if nonce is None else nonce)
        if body is not None:
            tail = hashlib.sha256(body).hexdigest()
        elif purpose:
            tail = purpose
        else:
            raise ValueError("a signed request needs a purpose or a body")
        headers = {
            "X-Chutes-Hotkey": self.ss58,
            "X-Chutes-Nonce": nonce_text,
            "X-Chutes-Signature": self.sign(f"{self.ss58}:{nonce_text}:{tail}".encode()),
        }
        if self.user_id:
            headers["X-Chutes-UserID"] = self.user_id
        return headers


@dataclass(frozen=True)
class Credentials:
    """How to authenticate: an API key, a hotkey, or both (the key wins where no purpose fits)."""

    api_key: str | None = field(default=None, repr=False)
    hotkey: Hotkey | None = None

    @property
    def present(self) -> bool:
        return bool(self.api_key or self.hotkey)

    def headers(self, purpose: str | None, body: bytes | None, method: str) -> dict[str, str]:
        """Headers for one request. API keys work everywhere; hotkeys need a purpose or a body."""
        if self.api_key:
            return {"Authorization": self.api_key}
        if self.hotkey and purpose:
            return self.hotkey.headers(purpose=purpose)
        if self.hotkey and method in ("POST", "PUT", "PATCH"):
            return self.hotkey.headers(body=body or b"")
        return {}
