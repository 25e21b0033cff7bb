"""``POST /v1/traces``: the OTLP/HTTP trace receiver (protobuf or JSON, optionally gzip'd).

Per request: refuse at once when too many requests are already being decoded (503, so
memory stays bounded under overload), read the body while enforcing the size limit
(413), decode and normalize on the threadpool (CPU work off the event loop; 400 with
the location of the first problem), hand the batch to the single writer and answer 200
only after the commit. Spans re-sent with different content are reported in
``partial_success.rejected_spans``; identical re-sends are accepted silently.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tracejudge.errors import DecodeError
from tracejudge.ingest.otlp import DecodeLimits, payload_format
from tracejudge.ingest.pipeline import decode_and_normalize
from tracejudge.model import WriteResult
from tracejudge.server.deps import CurrentPrincipal, IngestQueueDep, SettingsDep
from tracejudge.server.errors import ApiError
from tracejudge.server.settings import Settings
from tracejudge.server.writes import busy, write_durably

__all__ = ["PROTOBUF", "router"]

PROTOBUF = "application/x-protobuf"

router = APIRouter(tags=["otlp"])

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
            spans, evaluations = await run_in_threadpool(
                partial(
                    decode_and_normalize,
                    body,
                    content_type=content_type or "",
                    content_encoding=request.headers.get("content-encoding"),
                    project=explicit,
                    limits=_limits(settings),
                )
            )
        except DecodeError as e:
            raise ApiError(413 if _over_limit(e) else 400, str(e)) from e
        del body  # free the raw bytes while waiting for the commit
    finally:
        state.inflight -= 1
    result = await write_durably(queue, settings, spans, evaluations)
    return _response(result, fmt)


@lru_cache(maxsize=8)
def _limits(settings: Settings) -> DecodeLimits:
    """The decoder's limits from the server settings."""
    return DecodeLimits(
        max_body_bytes=settings.max_body_bytes,
        max_decompressed_bytes=settings.max_decompressed_bytes,
        max_spans=settings.max_spans_per_request,
    )
