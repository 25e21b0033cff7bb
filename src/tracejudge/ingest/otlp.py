"""Decode OTLP ``ExportTraceServiceRequest`` payloads (protobuf or JSON) into :class:`RawSpan`.

Pure functions over bytes: the OTLP/HTTP receiver, ``tracejudge import`` and the benchmark
all call :func:`decode_request`. Decoding is all-or-nothing: the whole payload is checked
before any span is returned, and every problem raises :class:`~tracejudge.errors.DecodeError`
naming where it is, e.g. ``resourceSpans[0].scopeSpans[1].spans[3].traceId: expected 16
bytes, got 5``. Locations use the OTLP/JSON (camelCase) field names for both encodings.

Attribute values become plain JSON types (``bytes`` -> base64 text, ``kvlist`` -> dict,
``array`` -> list) and are kept exactly as sent, however long: size limits apply to the
request as a whole (:class:`DecodeLimits`), never to one value.

The ``resource`` and ``scope`` dicts of spans that share a ``ResourceSpans``/``ScopeSpans``
are the same objects (decoding is the ingest hot path); treat them as read-only.
"""

from __future__ import annotations

import base64
import binascii
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from google.protobuf.message import DecodeError as _ProtobufDecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tracejudge.errors import ConfigurationError, DecodeError
from tracejudge.ingest.raw import RawSpan

__all__ = [
    "DEFAULT_LIMITS",
    "DecodeLimits",
    "decode_json",
    "decode_protobuf",
    "decode_request",
    "decompress",
    "payload_format",
]

_MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Bounds on one request; exceeding any raises ``DecodeError`` before anything is kept."""

    max_body_bytes: int = 64 * _MiB
    """Largest body accepted as received (compressed or not)."""
    max_decompressed_bytes: int = 128 * _MiB
    """Largest body after gzip/deflate: stops decompression bombs early."""
    max_spans: int = 100_000
    """Most spans in one request."""
    max_depth: int = 32
    """Deepest nesting of array/kvlist attribute values (JSON; protobuf parsing caps at 100)."""

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_decompressed_bytes", "max_spans", "max_depth"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ConfigurationError(f"{name}: expected a positive int, got {value!r}")


DEFAULT_LIMITS = DecodeLimits()

_KIND_NAMES = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
_STATUS_NAMES = ("UNSET", "OK", "ERROR")
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1


# --- transport -------------------------------------------------------------------------------
def payload_format(content_type: str | None) -> str:
    """``"protobuf"`` or ``"json"`` for an HTTP ``Content-Type``; DecodeError otherwise."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("application/x-protobuf", "application/protobuf", "application/octet-stream"):
        return "protobuf"
    if media == "application/json" or media.endswith("+json"):
        return "json"
    raise DecodeError(
        f"Content-Type: unsupported {content_type!r} "
        "(expected application/x-protobuf or application/json)"
    )


def decompress(body: bytes, content_encoding: str | None, *, max_bytes: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate, identity), never producing over ``max_bytes``.

    Reads at most ``max_bytes + 1`` bytes of output, so a bomb costs no more memory than
    an honest body at the limit.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(body) > max_bytes:
            raise DecodeError(f"body: {len(body)} bytes exceeds the limit of {max_bytes}")
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise DecodeError(f"Content-Encoding: unsupported {content_encoding!r}")
    out: list[bytes] = []
    size = 0
    data = body
    try:
        while data:
            # wbits 47 = auto-detect gzip or zlib header; "deflate" may also be raw.
            d = zlib.decompressobj(47 if encoding != "deflate" or data[:1] == b"\x78" else -15)
            chunk = d.decompress(data, max_bytes - size + 1)
            size += len(chunk)
            out.append(chunk)
            if size > max_bytes or d.unconsumed_tail:
                raise DecodeError(f"body: decompressed size exceeds the limit of {max_bytes} bytes")
            if not d.eof:
                raise DecodeError(f"body: truncated {encoding} stream")
            data = d.unused_data  # gzip allows several members back to back
            if data.strip(b"\x00") == b"":
                break
    except zlib.error as exc:
        raise DecodeError(f"body: invalid {encoding} data ({exc})") from None
    return b"".join(out)


def decode_request(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None = None,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> list[RawSpan]:
    """Decode one OTLP/HTTP traces request body into spans (all or nothing).

    Example::

        spans = decode_request(body, "application/x-protobuf", "gzip")

    Raises:
        DecodeError: unsupported content type or encoding, a body over ``limits``, or any
            malformed field (the message names its location).
    """
    fmt = payload_format(content_type)
    if len(body) > limits.max_body_bytes:
        raise DecodeError(f"body: {len(body)} bytes exceeds the limit of {limits.max_body_bytes}")
    data = decompress(body, content_encoding, max_bytes=limits.max_decompressed_bytes)
    return decode_protobuf(data, limits) if fmt == "protobuf" else decode_json(data, limits)


# --- protobuf ----------------------------------------------------------------------------------
_PB_SCALARS = frozenset(("string_value", "int_value", "double_value", "bool_value"))


def _pb_value(v: Any) -> Any:
    """AnyValue message -> plain JSON value."""
    which = v.WhichOneof("value")
    if which in _PB_SCALARS:
        return getattr(v, which)
    if which == "array_value":
        return [_pb_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(v.bytes_value).decode("ascii")
    return None


def _pb_attrs(kvs: Any) -> dict[str, Any]:
    """Repeated KeyValue -> dict (later duplicates win)."""
    out: dict[str, Any] = {}
    for kv in kvs:
        v = kv.value
        text = v.string_value  # most values are non-empty strings: skip WhichOneof for them
        if text:
            out[kv.key] = text
        else:
            which = v.WhichOneof("value")
            out[kv.key] = getattr(v, which) if which in _PB_SCALARS else _pb_value(v)
    return out


def _pb_scope(scope: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": scope.name, "version": scope.version}
    if len(scope.attributes):
        out["attributes"] = _pb_attrs(scope.attributes)
    return out


def _id_error(loc: str, field: str, raw: bytes, size: int) -> DecodeError:
    if len(raw) != size:
        return DecodeError(f"{loc}.{field}: expected {size} bytes, got {len(raw)}")
    return DecodeError(f"{loc}.{field}: all-zero id is invalid")


def decode_protobuf(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> list[RawSpan]:
    """Decode a binary ``ExportTraceServiceRequest`` (already decompressed).

    Raises:
        DecodeError: unparsable bytes (including invalid UTF-8), bad ids, unknown enum
            values, or more than ``limits.max_spans`` spans.
    """
    if len(data) > limits.max_decompressed_bytes:
        raise DecodeError(
            f"body: {len(data)} bytes exceeds the limit of {limits.max_decompressed_bytes}"
        )
    try:
        request = ExportTraceServiceRequest.FromString(data)
    except (_ProtobufDecodeError, RuntimeError, ValueError) as exc:
        raise DecodeError(f"body: not a valid protobuf ExportTraceServiceRequest ({exc})") from None
    total = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    if total > limits.max_spans:
        raise DecodeError(f"body: {total} spans exceeds the limit of {limits.max_spans}")

    out: list[RawSpan] = []
    append = out.append
    hex_cache: dict[bytes, str] = {}  # spans of a batch share trace ids
    kind_names, status_names = _KIND_NAMES, _STATUS_NAMES
    for ri, rs in enumerate(request.resource_spans):
        resource = _pb_attrs(rs.resource.attributes)
        for si, ss in enumerate(rs.scope_spans):
            scope = _pb_scope(ss.scope)
            for pi, sp in enumerate(ss.spans):
                tid, sid, pid = sp.trace_id, sp.span_id, sp.parent_span_id
                if len(tid) != 16 or tid == _ZERO_TRACE:
                    raise _id_error(_pb_loc(ri, si, pi), "traceId", tid, 16)
                if len(sid) != 8 or sid == _ZERO_SPAN:
                    raise _id_error(_pb_loc(ri, si, pi), "spanId", sid, 8)
                if pid and len(pid) != 8:
                    raise _id_error(_pb_loc(ri, si, pi), "parentSpanId", pid, 8)
                trace_hex = hex_cache.get(tid)
                if trace_hex is None:
                    trace_hex = hex_cache[tid] = tid.hex()
                kind, status = sp.kind, sp.status
                code = status.code
                if not 0 <= kind < 6:
                    raise DecodeError(f"{_pb_loc(ri, si, pi)}.kind: unknown value {kind}")
                if not 0 <= code < 3:
                    raise DecodeError(f"{_pb_loc(ri, si, pi)}.status.code: unknown value {code}")
                events = (
                    [
                        {
                            "name": ev.name,
                            "time_ns": ev.time_unix_nano,
                            "attributes": _pb_attrs(ev.attributes),
                        }
                        for ev in sp.events
                    ]
                    if len(sp.events)
                    else []
                )
                links = _pb_links(sp.links, ri, si, pi) if len(sp.links) else []
                # Positional, in field order: cheaper than 14 keywords on the hot path.
                append(
                    RawSpan(
                        trace_hex,
                        sid.hex(),
                        pid.hex() if pid and pid != _ZERO_SPAN else None,
                        sp.name,
                        kind_names[kind],
                        status_names[code],
                        status.message or None,
                        sp.start_time_unix_nano,
                        sp.end_time_unix_nano,
                        _pb_attrs(sp.attributes),
                        events,
                        links,
                        resource,
                        scope,
                    )
                )
    return out


def _pb_loc(ri: int, si: int, pi: int) -> str:
    return f"resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]"


def _pb_links(links: Any, ri: int, si: int, pi: int) -> list[dict[str, Any]]:
    out = []
    for li, link in enumerate(links):
        tid, sid = link.trace_id, link.span_id
        loc = f"{_pb_loc(ri, si, pi)}.links[{li}]"
        if len(tid) != 16 or tid == _ZERO_TRACE:
            raise _id_error(loc, "traceId", tid, 16)
        if len(sid) != 8 or sid == _ZERO_SPAN:
            raise _id_error(loc, "spanId", sid, 8)
        out.append(
            {"trace_id": tid.hex(), "span_id": sid.hex(), "attributes": _pb_attrs(link.attributes)}
        )
    return out


# --- JSON --------------------------------------------------------------------------------------
def _get(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """A field by its OTLP/JSON (camelCase) name, or its proto (snake_case) name."""
    value = obj.get(camel)
    return obj.get(snake) if value is None and snake != camel else value


def _obj(value: Any, loc: str, *, optional: bool = True) -> dict[str, Any]:
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise DecodeError(f"{loc}: expected an object, got {_type_name(value)}")
    return value


def _list(value: Any, loc: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError(f"{loc}: expected an array, got {_type_name(value)}")
    return value


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}.get(
        type(value), "object"
    )


def _str(value: Any, loc: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DecodeError(f"{loc}: expected a string, got {_type_name(value)}")
    return value


def _int(value: Any, loc: str, lo: int, hi: int) -> int:
    """int64/uint64 from a JSON number or decimal string (proto3 JSON allows both)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise DecodeError(f"{loc}: expected an integer, got boolean")
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            raise DecodeError(f"{loc}: expected an integer, got {value[:40]!r}") from None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise DecodeError(f"{loc}: expected an integer, got {_type_name(value)} {value!r}")
    if not lo <= number <= hi:
        raise DecodeError(f"{loc}: {number} is out of range")
    return number


def _double(value: Any, loc: str) -> float:
    if isinstance(value, bool):
        raise DecodeError(f"{loc}: expected a number, got boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
        if value in special:
            return special[value]
        try:
            return float(value)
        except ValueError:
            pass
    raise DecodeError(f"{loc}: expected a number, got {_type_name(value)}")


def _b64(value: str, loc: str) -> bytes:
    try:
        if "-" in value or "_" in value:
            return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError(f"{loc}: invalid base64") from None


def _json_id(value: Any, loc: str, size: int) -> bytes:
    """Id bytes from hex (the OTLP/JSON spec) or base64 (protobuf's generic JSON mapping)."""
    text = _str(value, loc)
    if len(text) == 2 * size:
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise DecodeError(f"{loc}: invalid hex id {text!r}") from None
    raw = _b64(text, loc) if text else b""
    if len(raw) != size:
        raise DecodeError(f"{loc}: expected {size} bytes, got {len(raw)}")
    return raw


def _required_id(value: Any, loc: str, size: int) -> str:
    raw = _json_id(value, loc, size)
    if raw == bytes(size):
        raise DecodeError(f"{loc}: all-zero id is invalid")
    return raw.hex()


def _enum(value: Any, loc: str, names: tuple[str, ...], prefix: str) -> str:
    if value is None:
        return names[0]
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(names):
            return names[value]
    elif isinstance(value, str):
        short = value.removeprefix(prefix)
        if short in names:
            return short
    raise DecodeError(f"{loc}: unknown value {value!r}")


class _JsonDecoder:
    """Walks one parsed OTLP/JSON request; holds the limits and the span budget."""

    def __init__(self, limits: DecodeLimits) -> None:
        self.limits = limits

    def value(self, av: Any, loc: str, depth: int = 0) -> Any:
        """AnyValue object -> plain JSON value."""
        if depth > self.limits.max_depth:
            raise DecodeError(f"{loc}: nested deeper than {self.limits.max_depth} levels")
        av = _obj(av, loc)
        if not av:
            return None
        if len(av) != 1:
            raise DecodeError(f"{loc}: expected one value field, got {sorted(av)}")
        ((field, v),) = av.items()
        converter = self._converters.get(field)
        if converter is None:
            raise DecodeError(f"{loc}: unknown value field {field!r}")
        return converter(self, v, f"{loc}.{field}", depth)

    def _array(self, v: Any, loc: str, depth: int) -> list[Any]:
        values = _list(_obj(v, loc).get("values"), f"{loc}.values")
        return [self.value(x, f"{loc}.values[{i}]", depth + 1) for i, x in enumerate(values)]

    def _kvlist(self, v: Any, loc: str, depth: int) -> dict[str, Any]:
        return self.attrs(_obj(v, loc).get("values"), f"{loc}.values", depth + 1)

    def _string(self, v: Any, loc: str, depth: int) -> str:
        return _str(v, loc)

    def _bool(self, v: Any, loc: str, depth: int) -> bool:
        if not isinstance(v, bool):
            raise DecodeError(f"{loc}: expected a boolean, got {_type_name(v)}")
        return v

    def _intv(self, v: Any, loc: str, depth: int) -> int:
        return _int(v, loc, _INT64_MIN, _INT64_MAX)

    def _doublev(self, v: Any, loc: str, depth: int) -> float:
        return _double(v, loc)

    def _bytes(self, v: Any, loc: str, depth: int) -> str:
        # Re-encode so protobuf and JSON of the same bytes give the same text.
        return base64.b64encode(_b64(_str(v, loc), loc)).decode("ascii")

    _converters: dict[str, Callable[[_JsonDecoder, Any, str, int], Any]] = {
        "stringValue": _string,
        "string_value": _string,
        "boolValue": _bool,
        "bool_value": _bool,
        "intValue": _intv,
        "int_value": _intv,
        "doubleValue": _doublev,
        "double_value": _doublev,
        "arrayValue": _array,
        "array_value": _array,
        "kvlistValue": _kvlist,
        "kvlist_value": _kvlist,
        "bytesValue": _bytes,
        "bytes_value": _bytes,
    }

    def attrs(self, kvs: Any, loc: str, depth: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, kv in enumerate(_list(kvs, loc)):
            kv_loc = f"{loc}[{i}]"
            kv = _obj(kv, kv_loc, optional=False)
            key = _str(kv.get("key"), f"{kv_loc}.key")
            out[key] = self.value(kv.get("value"), f"{kv_loc}.value", depth)
        return out

    def request(self, doc: Any) -> list[RawSpan]:
        doc = _obj(doc, "body", optional=False)
        out: list[RawSpan] = []
        for ri, rs in enumerate(
            _list(_get(doc, "resourceSpans", "resource_spans"), "resourceSpans")
        ):
            rloc = f"resourceSpans[{ri}]"
            rs = _obj(rs, rloc, optional=False)
            res = _obj(rs.get("resource"), f"{rloc}.resource")
            resource = self.attrs(res.get("attributes"), f"{rloc}.resource.attributes")
            scope_list = _list(_get(rs, "scopeSpans", "scope_spans"), f"{rloc}.scopeSpans")
            for si, ss in enumerate(scope_list):
                sloc = f"{rloc}.scopeSpans[{si}]"
                ss = _obj(ss, sloc, optional=False)
                sc = _obj(ss.get("scope"), f"{sloc}.scope")
                scope: dict[str, Any] = {
                    "name": _str(sc.get("name"), f"{sloc}.scope.name"),
                    "version": _str(sc.get("version"), f"{sloc}.scope.version"),
                }
                scope_attrs = self.attrs(sc.get("attributes"), f"{sloc}.scope.attributes")
                if scope_attrs:
                    scope["attributes"] = scope_attrs
                for pi, sp in enumerate(_list(ss.get("spans"), f"{sloc}.spans")):
                    if len(out) >= self.limits.max_spans:
                        raise DecodeError(
                            f"body: more than the limit of {self.limits.max_spans} spans"
                        )
                    out.append(self.span(sp, f"{sloc}.spans[{pi}]", resource, scope))
        return out

    def span(self, sp: Any, loc: str, resource: dict[str, Any], scope: dict[str, Any]) -> RawSpan:
        sp = _obj(sp, loc, optional=False)
        parent_value = _get(sp, "parentSpanId", "parent_span_id")
        parent = _json_id(parent_value, f"{loc}.parentSpanId", 8) if parent_value else b""
        status = _obj(sp.get("status"), f"{loc}.status")
        message = _str(status.get("message"), f"{loc}.status.message")
        return RawSpan(
            trace_id=_required_id(_get(sp, "traceId", "trace_id"), f"{loc}.traceId", 16),
            span_id=_required_id(_get(sp, "spanId", "span_id"), f"{loc}.spanId", 8),
            parent_span_id=parent.hex() if parent and parent != _ZERO_SPAN else None,
            name=_str(sp.get("name"), f"{loc}.name"),
            otel_kind=_enum(sp.get("kind"), f"{loc}.kind", _KIND_NAMES, "SPAN_KIND_"),
            status_code=_enum(
                status.get("code"), f"{loc}.status.code", _STATUS_NAMES, "STATUS_CODE_"
            ),
            status_message=message or None,
            start_ns=_int(
                _get(sp, "startTimeUnixNano", "start_time_unix_nano"),
                f"{loc}.startTimeUnixNano",
                0,
                _UINT64_MAX,
            ),
            end_ns=_int(
                _get(sp, "endTimeUnixNano", "end_time_unix_nano"),
                f"{loc}.endTimeUnixNano",
                0,
                _UINT64_MAX,
            ),
            attributes=self.attrs(sp.get("attributes"), f"{loc}.attributes"),
            events=[
                self.event(ev, f"{loc}.events[{i}]")
                for i, ev in enumerate(_list(sp.get("events"), f"{loc}.events"))
            ],
            links=[
                self.link(lk, f"{loc}.links[{i}]")
                for i, lk in enumerate(_list(sp.get("links"), f"{loc}.links"))
            ],
            resource=resource,
            scope=scope,
        )

    def event(self, ev: Any, loc: str) -> dict[str, Any]:
        ev = _obj(ev, loc, optional=False)
        return {
            "name": _str(ev.get("name"), f"{loc}.name"),
            "time_ns": _int(
                _get(ev, "timeUnixNano", "time_unix_nano"), f"{loc}.timeUnixNano", 0, _UINT64_MAX
            ),
            "attributes": self.attrs(ev.get("attributes"), f"{loc}.attributes"),
        }

    def link(self, lk: Any, loc: str) -> dict[str, Any]:
        lk = _obj(lk, loc, optional=False)
        return {
            "trace_id": _required_id(_get(lk, "traceId", "trace_id"), f"{loc}.traceId", 16),
            "span_id": _required_id(_get(lk, "spanId", "span_id"), f"{loc}.spanId", 8),
            "attributes": self.attrs(lk.get("attributes"), f"{loc}.attributes"),
        }


def decode_json(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> list[RawSpan]:
    """Decode an OTLP/JSON ``ExportTraceServiceRequest`` (already decompressed).

    Accepts hex ids (the OTLP/JSON spec) and base64 ids (protobuf's generic JSON mapping),
    enums as ints or names, 64-bit ints as numbers or strings, camelCase or snake_case names.

    Raises:
        DecodeError: not JSON, wrong JSON types, bad ids, or over ``limits``.
    """
    if len(data) > limits.max_decompressed_bytes:
        raise DecodeError(
            f"body: {len(data)} bytes exceeds the limit of {limits.max_decompressed_bytes}"
        )
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"body: not valid JSON ({exc})") from None
    return _JsonDecoder(limits).request(doc)
