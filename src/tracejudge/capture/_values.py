"""Turning arbitrary Python values into OpenTelemetry attribute values.

Shared by ``observe`` and the ``span`` handle so both serialize the same way. Nothing here
raises: a value that cannot be serialized falls back to its ``repr`` (and a ``repr`` that
raises falls back to the type name), because capture must never break the host call.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["JSON_MIME", "TEXT_MIME", "json_text", "otel_value", "value_text"]

JSON_MIME = "application/json"
TEXT_MIME = "text/plain"

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_PRIMITIVES = (str, bool, int, float)


def _safe_repr(value: Any) -> str:
    """repr() that cannot raise."""
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def _default(value: Any) -> Any:
    """orjson fallback: pydantic models, sets and bytes get a JSON shape, the rest a repr."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json")
        except Exception:
            return _safe_repr(value)
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return _safe_repr(value)


def json_text(value: Any) -> str:
    """JSON text of ``value``; unserializable parts become their repr, never an exception."""
    try:
        return orjson.dumps(value, default=_default, option=_JSON_OPTIONS).decode()
    except Exception:
        return orjson.dumps(_safe_repr(value)).decode()


def value_text(value: Any) -> tuple[str, str]:
    """``(text, mime type)`` for an input/output value: strings stay plain text, the rest JSON."""
    if type(value) is str:
        return value, TEXT_MIME
    if isinstance(value, str):
        return str(value), TEXT_MIME
    try:
        return orjson.dumps(value, default=_default, option=_JSON_OPTIONS).decode(), JSON_MIME
    except Exception:
        return _safe_repr(value), TEXT_MIME


def otel_value(value: Any) -> Any:
    """A value OpenTelemetry accepts as an attribute: primitives and homogeneous primitive
    lists pass through; anything else (dicts, mixed lists, objects) becomes JSON text."""
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, list | tuple) and value:
        first = type(value[0])
        if first in _PRIMITIVES and all(type(v) is first for v in value):
            return list(value)
    if isinstance(value, list | tuple) and not value:
        return []
    return json_text(value)
