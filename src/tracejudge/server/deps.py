"""FastAPI dependencies as ``Annotated`` aliases: the store, settings, queue and caller.

Everything lives on ``app.state`` (set by :func:`tracejudge.server.app.create_app`), so
tests can build an app around any store, and override a dependency when they need to.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tracejudge.keys import KeyStore
from tracejudge.server.auth import Principal, authenticate
from tracejudge.server.ingest_queue import IngestQueue
from tracejudge.server.settings import Settings
from tracejudge.store.base import Store

__all__ = [
    "AfterSeqQuery",
    "BeforeQuery",
    "CurrentPrincipal",
    "IngestQueueDep",
    "KeyStoreDep",
    "LimitQuery",
    "ProjectQuery",
    "SettingsDep",
    "SpanIdPath",
    "StoreDep",
    "TraceIdPath",
    "TraceIdQuery",
    "get_principal",
]

# Declares the scheme in the OpenAPI schema; the check itself is ours (auto_error=False),
# because an open server (no keys yet) accepts requests without one.
_bearer = HTTPBearer(auto_error=False, description="A project API key: `tj_...`")


def _store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _queue(request: Request) -> IngestQueue:
    return request.app.state.queue  # type: ignore[no-any-return]


def _keys(request: Request) -> KeyStore:
    return request.app.state.keys  # type: ignore[no-any-return]


StoreDep = Annotated[Store, Depends(_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
IngestQueueDep = Annotated[IngestQueue, Depends(_queue)]
KeyStoreDep = Annotated[KeyStore, Depends(_keys)]


def get_principal(
    request: Request,
    keys: KeyStoreDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller (sync: FastAPI runs it on the threadpool, as it does I/O)."""
    return authenticate(keys, request.headers.get("authorization"))


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


# Query and path parameters shared by the routes; bounds keep values inside SQLite's int64.
_INT64_MAX = 2**63 - 1
ProjectQuery = Annotated[
    str | None,
    Query(min_length=1, description="project name; defaults to the API key's project"),
]
LimitQuery = Annotated[int, Query(ge=1, le=1000, description="page size")]
TraceIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="32 lowercase hex")]
SpanIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="16 lowercase hex")]
TraceIdQuery = Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$")]
BeforeQuery = Annotated[
    int | None,
    Query(ge=0, le=_INT64_MAX, description="start_ns cursor: traces that started earlier"),
]
AfterSeqQuery = Annotated[
    int | None,
    Query(ge=0, le=_INT64_MAX, description="ingest_seq cursor: spans stored after it"),
]
