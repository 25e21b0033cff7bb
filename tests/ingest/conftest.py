"""Helpers for ingest tests: build OTLP requests with the real proto classes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from tracejudge.store import open_store
from tracejudge.store.sqlite import SQLiteStore

TRACE_ID = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
SPAN_ID = bytes.fromhex("b7ad6b7169203331")


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(any_value(v) for v in value)
        return out
    if isinstance(value, dict):
        out = AnyValue()
        out.kvlist_value.values.extend(kv(k, v) for k, v in value.items())
        return out
    return AnyValue(string_value=str(value))


def kv(key: str, value: Any) -> KeyValue:
    return KeyValue(key=key, value=any_value(value))


def make_span(
    attributes: dict[str, Any] | None = None,
    *,
    trace_id: bytes = TRACE_ID,
    span_id: bytes = SPAN_ID,
    parent: bytes = b"",
    name: str = "span",
    events: list[tuple[str, int, dict[str, Any]]] = (),  # type: ignore[assignment]
) -> Span:
    span = Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_001_000_000_000,
        attributes=[kv(k, v) for k, v in (attributes or {}).items()],
        status=Status(code=Status.STATUS_CODE_OK),
    )
    for ev_name, time_ns, ev_attrs in events:
        span.events.add(
            name=ev_name, time_unix_nano=time_ns, attributes=[kv(k, v) for k, v in ev_attrs.items()]
        )
    return span


def make_request(
    *span_groups: list[Span], resource: dict[str, Any] | None = None
) -> ExportTraceServiceRequest:
    """One ResourceSpans; one ScopeSpans per group."""
    res = Resource(attributes=[kv(k, v) for k, v in (resource or {"service.name": "svc"}).items()])
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=res,
                scope_spans=[ScopeSpans(spans=group) for group in span_groups],
            )
        ]
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = open_store(tmp_path / "t.db")
    try:
        yield s
    finally:
        s.close()


FIXTURES = Path(__file__).parent.parent / "fixtures" / "otlp"
