"""Who is calling: resolve ``Authorization: Bearer tj_...`` into a :class:`Principal`.

The server is open while no key exists (a local ``tracejudge serve`` just works); once
any active key exists every endpoint except ``/healthz`` needs one, and a key only ever
sees its own project. Missing or unknown keys get 401; naming another project gets 403;
ids of another project's records get 404 (their queries are scoped, so nothing leaks).
"""

from __future__ import annotations

from dataclasses import dataclass

from tracejudge.keys import ApiKey, KeyStore
from tracejudge.server.errors import ApiError

__all__ = ["Principal", "authenticate", "bearer_token"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tracejudge"'}


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a project key, or nobody in particular while the server has no keys."""

    key: ApiKey | None

    @property
    def project(self) -> str | None:
        """The only project this caller may touch, or None for any."""
        return self.key.project if self.key else None

    def scope(self, requested: str | None) -> str | None:
        """The project a request acts on: the key's own; naming another one is 403."""
        if self.key is None:
            return requested
        if requested is not None and requested != self.key.project:
            raise ApiError(403, f"this API key is not valid for project {requested!r}")
        return self.key.project


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(keys: KeyStore, authorization: str | None) -> Principal:
    """Check the presented key. Blocks on the key store; call it off the event loop.

    Raises :class:`ApiError` 401 when keys exist and the presented one is missing,
    unknown or revoked.
    """
    token = bearer_token(authorization)
    if token is not None:
        key = keys.verify(token)
        if key is not None:
            return Principal(key)
        if keys.has_active():
            raise ApiError(401, "invalid or revoked API key", _CHALLENGE)
        return Principal(None)  # a stale key against an open server: nothing to protect
    if keys.has_active():
        raise ApiError(401, "missing API key: send 'Authorization: Bearer tj_...'", _CHALLENGE)
    return Principal(None)
