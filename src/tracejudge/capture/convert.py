"""``ReadableSpan`` -> ``RawSpan``: the in-process twin of OTLP decoding.

The output must equal what :mod:`tracejudge.ingest.otlp` decodes from the OTLP protobuf of
the same span, so both paths store the same content hash: hex ids, tuples as lists, enum
names, an empty status message as None, scope as ``{name, version[, attributes]}``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, StatusCode

from tracejudge.ingest.raw import RawSpan

__all__ = ["attributes_dict", "to_raw_span", "to_raw_spans"]

_PLAIN_TYPES = frozenset((str, int, float, bool))
# Enum ``.name`` is a Python-level descriptor; a dict lookup is several times cheaper.
_KIND_NAMES = {kind: kind.name for kind in SpanKind}
_STATUS_NAMES = {code: code.name for code in StatusCode}


def _plain(value: Any) -> Any:
    """Attribute value as plain JSON types (the SDK stores sequences as tuples)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):  # not a valid OTel attribute, but be lenient
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def attributes_dict(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """A plain dict copy of an SDK attribute mapping.

    The SDK hands out its ``BoundedAttributes`` behind a ``mappingproxy``, whose
    ``items()`` walks the mapping in Python (~0.3 us an attribute); its ``copy()`` is one
    C-level dict copy. Values are then checked in one pass (also C-level) and only a
    mapping holding sequences or bytes is converted item by item.
    """
    if not attributes:
        return {}
    copy = getattr(attributes, "copy", None)
    out = copy() if copy is not None else None
    if type(out) is not dict:
        out = dict(attributes.items())
    if _PLAIN_TYPES.issuperset(map(type, out.values())):
        return out
    return {
        k: (v if not isinstance(v, tuple | list | bytes) else _plain(v)) for k, v in out.items()
    }


_TRACE_ID_END = 1 << 128
_SPAN_ID_END = 1 << 64


def _hex_trace(ctx: SpanContext) -> str:
    value = ctx.trace_id
    if type(value) is not int or not 0 <= value < _TRACE_ID_END:
        raise ValueError(f"trace id {value!r} is not a 128-bit unsigned int")
    return f"{value:032x}"


def _hex_span(ctx: SpanContext) -> str:
    value = ctx.span_id
    if type(value) is not int or not 0 <= value < _SPAN_ID_END:
        raise ValueError(f"span id {value!r} is not a 64-bit unsigned int")
    return f"{value:016x}"


def _time_ns(value: Any, what: str) -> int:
    if value is None:
        return 0
    if type(value) is not int:
        raise ValueError(f"{what} {value!r} is not an int of nanoseconds")
    return value


def _scope(span: ReadableSpan) -> dict[str, Any]:
    """``{name, version}`` as OTLP carries it (absent version: ""), plus attributes if any."""
    scope = span.instrumentation_scope
    if scope is None:
        return {"name": "", "version": ""}
    out: dict[str, Any] = {"name": scope.name, "version": scope.version or ""}
    if scope.attributes:
        out["attributes"] = attributes_dict(scope.attributes)
    return out


def to_raw_span(span: ReadableSpan) -> RawSpan:
    """Convert one finished SDK span.

    Raises ValueError for a span without a context, or whose name, ids or times have
    types OTLP could not carry either (the SDK does not check what apps pass it): the
    result keeps :class:`RawSpan`'s promises, which the ingest write path relies on.
    """
    return _convert(span, attributes_dict(span.resource.attributes), _scope(span))


def to_raw_spans(spans: Iterable[ReadableSpan]) -> list[RawSpan]:
    """Convert a batch; spans of one resource (scope) share one ``resource`` (``scope``)
    dict, as the OTLP decoder gives them, so the store serializes each once a batch.

    Raises ValueError as :func:`to_raw_span` does.
    """
    resources: dict[int, tuple[object, dict[str, Any]]] = {}
    scopes: dict[int, tuple[object, dict[str, Any]]] = {}
    out: list[RawSpan] = []
    for span in spans:
        sdk_resource = span.resource
        hit = resources.get(id(sdk_resource))
        if hit is None or hit[0] is not sdk_resource:
            hit = resources[id(sdk_resource)] = (
                sdk_resource,
                attributes_dict(sdk_resource.attributes),
            )
        sdk_scope = span.instrumentation_scope
        scope = scopes.get(id(sdk_scope))
        if scope is None or scope[0] is not sdk_scope:
            scope = scopes[id(sdk_scope)] = (sdk_scope, _scope(span))
        out.append(_convert(span, hit[1], scope[1]))
    return out


def _convert(span: ReadableSpan, resource: dict[str, Any], scope: dict[str, Any]) -> RawSpan:
    ctx = span.context
    name = span.name
    if ctx is None:
        raise ValueError(f"span {name!r} has no span context")
    if type(name) is not str:
        raise ValueError(f"span name {name!r} is not a string")
    parent = span.parent
    status = span.status
    events = span.events  # each read of these builds a new tuple
    links = span.links
    return RawSpan(
        _hex_trace(ctx),
        _hex_span(ctx),
        _hex_span(parent) if parent is not None and parent.span_id else None,
        name,
        _KIND_NAMES[span.kind],
        _STATUS_NAMES[status.status_code],
        status.description or None,
        _time_ns(span.start_time, "start time"),
        _time_ns(span.end_time, "end time"),
        attributes_dict(span.attributes),
        [
            {"name": e.name, "time_ns": e.timestamp, "attributes": attributes_dict(e.attributes)}
            for e in events
        ]
        if events
        else [],
        [
            {
                "trace_id": _hex_trace(link.context),
                "span_id": _hex_span(link.context),
                "attributes": attributes_dict(link.attributes),
            }
            for link in links
        ]
        if links
        else [],
        resource,
        scope,
    )
