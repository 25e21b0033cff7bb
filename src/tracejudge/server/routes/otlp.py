"""``POST /v1/traces``: the OTLP/HTTP trace receiver (protobuf or JSON, optionally gzip'd).

Per request: refuse at once when too many requests are already being decoded (503, so
memory stays bounded under overload), read the body while enforcing the size limit
(413), decode, normalize and prepare the rows off the event loop (400 with the location
of the first problem) -- on the ingest worker processes (:mod:`tracejudge.ingest.parallel`,
so decoding uses every core while the writer commits), or on the threadpool for small
bodies, where a process round trip costs more than it saves -- hand the rows to the single
writer and answer 200 only after the commit. Spans re-sent with different content are reported in
``partial_success.rejected_spans``; identical re-sends are accepted silently.
"""

from __future__ import annotations

import asyncio
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache, partial
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tracejudge.errors import DecodeError
from tracejudge.ingest.otlp import DecodeLimits, payload_format
from tracejudge.ingest.parallel import PreparedPayload, prepare_payload, shared_pool
from tracejudge.model import WriteResult
from tracejudge.server.deps import CurrentPrincipal, IngestQueueDep, SettingsDep
from tracejudge.server.errors import ApiError
from tracejudge.server.settings import Settings
from tracejudge.server.writes import busy, write_prepared_durably

__all__ = ["PROTOBUF", "router"]

PROTOBUF = "application/x-protobuf"

router = APIRouter(tags=["otlp"])

# Bodies from this size on are decoded on the worker processes; smaller ones (a few
# dozen spans) on the threadpool, where no pickling round trip is paid.
POOL_MIN_BYTES = 64 * 1024

_REQUEST_BODY = {
    "required": True,
    "content": {
        PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": {"type": "object"}},
    },
    "description": "An OTLP ExportTraceServiceRequest; Content-Encoding gzip is accepted.",
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Committed; partialSuccess lists spans rejected as conflicting"},
    400: {"description": "Undecodable body; the message names the location"},
    401: {"description": "Missing, unknown or revoked API key"},
    403: {"description": "The project header names another project than the key's"},
    413: {"description": "Body, decompressed body or span count over the limit"},
    415: {"description": "Content-Type is neither protobuf nor JSON"},
    503: {"description": "Overloaded; retry after Retry-After seconds"},
}


def _over_limit(error: DecodeError) -> bool:
    """Whether the decoder refused the size of the request rather than its content."""
    return "the limit of" in str(error)  # the decoder's wording for every size limit


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) as soon as it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"body: {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"body: more than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _response(result: WriteResult, fmt: str) -> Response:
    """An ``ExportTraceServiceResponse`` in the request's encoding."""
    rejected = len(result.conflicts)
    message = ""
    if rejected:
        shown = ", ".join(f"{t}/{s}" for t, s in result.conflicts[:5])
        message = (
            f"{rejected} spans were re-sent with content different from the stored, "
            f"write-once version and were rejected (trace/span: {shown})"
        )
    if fmt == "protobuf":
        msg = ExportTraceServiceResponse()
        if rejected:
            msg.partial_success.rejected_spans = rejected
            msg.partial_success.error_message = message
        return Response(msg.SerializeToString(), media_type=PROTOBUF)
    body: dict[str, Any] = {}
    if rejected:  # proto3 JSON mapping: int64 as a string
        body["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
    return Response(orjson.dumps(body), media_type="application/json")


@router.post(
    "/v1/traces",
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra={"requestBody": _REQUEST_BODY},
)
async def export_traces(
    request: Request,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    queue: IngestQueueDep,
) -> Response:
    """Receive an OTLP trace export; 200 means every accepted span is committed."""
    state = request.app.state
    if state.inflight >= settings.max_inflight_requests:
        raise busy(settings, "too many export requests in progress; retry later")
    state.inflight += 1
    try:
        content_type = request.headers.get("content-type")
        try:
            fmt = payload_format(content_type)
        except DecodeError as e:
            raise ApiError(415, str(e)) from e
        explicit = principal.scope(request.headers.get(settings.project_header) or None)
        body = await _read_body(request, settings.max_body_bytes)
        try:
            payload = await _prepare(
                body,
                content_type=content_type or "",
                content_encoding=request.headers.get("content-encoding"),
                project=explicit,
                limits=_limits(settings),
            )
        except DecodeError as e:
            raise ApiError(413 if _over_limit(e) else 400, str(e)) from e
        except BrokenProcessPool as e:  # a worker died; the next request gets fresh ones
            raise busy(settings, "decoder restarting; retry later") from e
        del body  # free the raw bytes while waiting for the commit
    finally:
        state.inflight -= 1
    result = await write_prepared_durably(queue, settings, payload.prepared)
    return _response(result, fmt)


async def _prepare(
    body: bytes,
    *,
    content_type: str,
    content_encoding: str | None,
    project: str | None,
    limits: DecodeLimits,
) -> PreparedPayload:
    """Decode, normalize and prepare ``body`` off the event loop (DecodeError as raised)."""
    if len(body) < POOL_MIN_BYTES:
        return await run_in_threadpool(
            partial(prepare_payload, body, content_type, content_encoding, project, limits)
        )
    future = shared_pool().submit(
        body,
        content_type=content_type,
        content_encoding=content_encoding,
        project=project,
        limits=limits,
    )
    return await asyncio.wrap_future(future)


@lru_cache(maxsize=8)
def _limits(settings: Settings) -> DecodeLimits:
    """The decoder's limits from the server settings."""
    return DecodeLimits(
        max_body_bytes=settings.max_body_bytes,
        max_decompressed_bytes=settings.max_decompressed_bytes,
        max_spans=settings.max_spans_per_request,
    )
