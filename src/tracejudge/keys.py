"""Project API keys: how they are made, stored and checked.

A key looks like ``tj_<43 url-safe chars>``; it is shown once, at creation, and only
its sha256 is stored together with a short lookup prefix. Checking a presented key
finds the candidate rows by prefix and compares hashes with :func:`hmac.compare_digest`,
so timing does not reveal how much of a guess was right. A key belongs to exactly one
project and is revocable; storage is behind the small :class:`KeyStore` protocol
(:mod:`tracejudge.store.keys` implements it on the SQLite file).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "KEY_PREFIX",
    "ApiKey",
    "KeyStore",
    "hash_key",
    "key_matches",
    "lookup_prefix",
    "new_secret",
]

KEY_PREFIX = "tj_"
_LOOKUP_CHARS = 8  # characters after "tj_" stored in clear to find the row


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    id: str
    project: str
    name: str | None
    prefix: str  # "tj_" + the first characters of the secret, safe to display
    created_at_ns: int
    revoked_at_ns: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at_ns is None


def new_secret() -> str:
    """A fresh random key: ``tj_`` + 32 random bytes, url-safe base64."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def lookup_prefix(key: str) -> str | None:
    """The stored lookup prefix of a presented key, or None if it cannot be one of ours."""
    if not key.startswith(KEY_PREFIX) or len(key) < len(KEY_PREFIX) + _LOOKUP_CHARS:
        return None
    return key[: len(KEY_PREFIX) + _LOOKUP_CHARS]


def hash_key(key: str) -> str:
    """The stored form of a key (sha256 hex); the secret itself is never stored."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_matches(key: str, stored_hash: str) -> bool:
    """Constant-time check of a presented key against a stored hash."""
    return hmac.compare_digest(hash_key(key), stored_hash)


@runtime_checkable
class KeyStore(Protocol):
    """Where keys live. Methods may block on I/O; the server calls them off the event loop."""

    def create(self, project: str, name: str | None = None) -> tuple[ApiKey, str]:
        """Store a new key for ``project``; returns the record and the secret (shown once)."""
        ...

    def verify(self, key: str) -> ApiKey | None:
        """The active key record matching ``key``, or None (unknown, malformed or revoked)."""
        ...

    def revoke(self, key_id_or_prefix: str) -> ApiKey:
        """Revoke a key by id or displayed prefix; raises NotFound if there is none."""
        ...

    def list_keys(self, project: str | None = None) -> list[ApiKey]:
        """Keys (active and revoked), oldest first."""
        ...

    def has_active(self) -> bool:
        """True once any unrevoked key exists: from then on every request needs one."""
        ...
