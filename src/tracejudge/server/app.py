"""The app factory: one FastAPI app around a store (OTLP receiver + REST API).

``create_app(store, settings)`` builds everything from its arguments (no engine made at
import time), so tests and ``tracejudge serve`` assemble the same app. Errors are
translated once, here: the REST API answers ``{"detail": ...}`` JSON, the OTLP receiver a
``google.rpc.Status`` in the request's encoding, as the OTLP/HTTP spec asks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]
from starlette.exceptions import HTTPException as StarletteHTTPException

from tracejudge.errors import ConfigurationError, TracejudgeError
from tracejudge.ingest.parallel import shared_pool
from tracejudge.keys import KeyStore
from tracejudge.server.errors import ApiError, status_for
from tracejudge.server.ingest_queue import IngestQueue
from tracejudge.server.routes import evaluations, health, otlp, projects, spans, traces
from tracejudge.server.routes import review as review_routes
from tracejudge.server.routes import tasks as tasks_routes
from tracejudge.server.settings import Settings
from tracejudge.server.task_worker import task_worker
from tracejudge.server.ui import mount_ui
from tracejudge.store.base import Store
from tracejudge.store.keys import SQLiteKeyStore
from tracejudge.store.tasks import SQLiteTaskStore

__all__ = ["API_PREFIX", "DB_ENV", "app_from_env", "create_app"]

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
DB_ENV = "TRACEJUDGE_DB"

# google.rpc.Code for the statuses the receiver answers with.
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 415: 3, 429: 8, 503: 14}


def create_app(
    store: Store,
    settings: Settings | None = None,
    *,
    keys: KeyStore | None = None,
    tasks: SQLiteTaskStore | None = None,
) -> FastAPI:
    """Build the server app over ``store``.

    Example::

        app = create_app(open_store("traces.db"), Settings(max_body_bytes=8 << 20))
        uvicorn.run(app, host="127.0.0.1", port=6464)

    :param keys: where API keys live; defaults to the ``api_keys`` table of the store's
        SQLite file (``store.path``).
    :param tasks: where eval tasks live; defaults to the store's SQLite file too.
    :raises ConfigurationError: no ``keys``/``tasks`` given and the store has no file path.

    The single writer thread starts here; it is stopped (after committing what is queued)
    when the app's lifespan ends. The eval-task worker (``settings.task_worker``) runs
    for the lifespan only: started once the app is up, stopped before the writer.
    """
    settings = settings or Settings()
    if keys is None or tasks is None:
        path = getattr(store, "path", None)
        if path is None:
            raise ConfigurationError("keys, tasks: required for a store without a file path")
        keys = keys if keys is not None else SQLiteKeyStore(path)
        tasks = tasks if tasks is not None else SQLiteTaskStore(path)
    queue = IngestQueue(
        store, max_spans=settings.queue_max_spans, write_batch_spans=settings.write_batch_spans
    )
    queue.start()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Ready means ready: the decode workers and the task worker (which waits for its
        # own start) are up before the first request is accepted, not started by it.
        decoders = asyncio.ensure_future(_start_decoders())
        async with task_worker(store, tasks, settings):
            await decoders
            yield
        await run_in_threadpool(queue.close)

    app = FastAPI(
        title="tracejudge",
        summary="Trace-native evaluation for LLM applications: OTLP receiver and REST API.",
        version="1",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.keys = keys
    app.state.tasks = tasks
    app.state.queue = queue
    app.state.inflight = 0  # export requests being read/decoded (event loop only)

    api = APIRouter(prefix=API_PREFIX)
    for module in (projects, traces, spans, evaluations, tasks_routes, review_routes):
        api.include_router(module.router)
    app.include_router(health.router)
    app.include_router(otlp.router)
    app.include_router(api)
    app.add_exception_handler(TracejudgeError, _handle_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _handle_http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _handle_unexpected)
    mount_ui(app)  # after the error handlers: UI paths get HTML error pages
    return app


async def _start_decoders() -> None:
    """Start the ingest decode workers; if they cannot start, say so and serve anyway
    (the first large export tries again, and answers 503 while it cannot)."""
    try:
        await run_in_threadpool(shared_pool().start)
    except Exception:
        logger.warning("the ingest decode workers did not start", exc_info=True)


def app_from_env() -> FastAPI:
    """App factory for ``serve --workers N`` (uvicorn imports it in each worker process):
    the store named by ``$TRACEJUDGE_DB``, settings from ``TRACEJUDGE_*`` variables.

    Each worker process has its own queue and writer thread; SQLite's write lock (with
    the store's busy timeout) serializes their transactions, so every 200 is still a commit.
    """
    from tracejudge.store import open_store

    return create_app(open_store(os.environ.get(DB_ENV) or None), Settings.from_env())


def _error_response(
    request: Request, status: int, message: str, headers: dict[str, str]
) -> Response:
    """An error body shaped for the caller: OTLP ``Status`` or REST ``{"detail": ...}``."""
    if request.url.path == "/v1/traces":
        code = _GRPC_CODES.get(status, 13)
        if "json" in request.headers.get("content-type", ""):
            body = orjson.dumps({"code": code, "message": message})
            return Response(body, status, headers, media_type="application/json")
        body = Status(code=code, message=message).SerializeToString()
        return Response(body, status, headers, media_type=otlp.PROTOBUF)
    return Response(
        orjson.dumps({"detail": message}), status, headers, media_type="application/json"
    )


async def _handle_error(request: Request, exc: TracejudgeError) -> Response:
    status = status_for(exc)
    headers = dict(exc.headers) if isinstance(exc, ApiError) else {}
    if status == 503:
        headers.setdefault("Retry-After", str(request.app.state.settings.retry_after_s))
        logger.warning("%s %s: 503: %s", request.method, request.url.path, exc)
    elif status >= 500:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _error_response(request, status, str(exc), headers)


async def _handle_http(request: Request, exc: StarletteHTTPException) -> Response:
    """Starlette's HTTP errors as usual, but a 405 lists in ``Allow`` every documented
    method of the path (Starlette names only the first matching route's, e.g. POST
    without GET)."""
    from fastapi.exception_handlers import http_exception_handler

    if exc.status_code == 405:
        methods = _documented_methods(request.app, request.url.path)
        if methods:
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(methods)}
    return await http_exception_handler(request, exc)


def _documented_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI schema documents for ``path`` (templates matched as regexes)."""
    table: list[tuple[re.Pattern[str], list[str]]] | None = getattr(app.state, "_methods", None)
    if table is None:
        table = [
            (
                re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"),
                sorted(m.upper() for m in item if m.upper() in _HTTP_METHODS),
            )
            for template, item in app.openapi().get("paths", {}).items()
        ]
        app.state._methods = table
    return sorted({m for pattern, methods in table if pattern.match(path) for m in methods})


_HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"})


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _error_response(request, 500, "internal server error", {})
