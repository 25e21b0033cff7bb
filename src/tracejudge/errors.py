"""Exceptions raised by tracejudge.

One base class with a shallow tree, so callers can catch broadly or precisely::

    TracejudgeError
    ├── ConfigurationError      bad argument or setting (names the argument)
    ├── DecodeError             an OTLP payload could not be decoded (nothing was written)
    ├── FilterSyntaxError       a span filter is outside the language (names its position)
    ├── PathError               an attribute path does not resolve (names the closest keys)
    ├── StoreError              the store refused or failed an operation
    │   └── SpanConflict        a re-sent span differs from the stored one
    └── NotFound
        ├── TraceNotFound
        └── SpanNotFound
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DecodeError",
    "FilterSyntaxError",
    "NotFound",
    "PathError",
    "SpanConflict",
    "SpanNotFound",
    "StoreError",
    "TraceNotFound",
    "TracejudgeError",
]


class TracejudgeError(Exception):
    """Base class of every error tracejudge raises on purpose."""


class ConfigurationError(TracejudgeError, ValueError):
    """A bad argument or setting; the message names it."""


class DecodeError(TracejudgeError, ValueError):
    """An OTLP payload (protobuf or JSON) could not be decoded.

    Decoding is all-or-nothing: when this is raised no span of the payload was stored.
    """


class FilterSyntaxError(TracejudgeError, ValueError):
    """A span filter expression is not valid; nothing ran.

    Carries ``position`` (1-based character column in ``expression``) and the expression,
    so a CLI or UI can point at the offending construct.
    """

    def __init__(self, message: str, position: int, expression: str) -> None:
        shown = expression if len(expression) <= 200 else expression[:200] + "..."
        super().__init__(f"{message} (at position {position} of filter {shown!r})")
        self.message = message
        self.position = position
        self.expression = expression


class PathError(TracejudgeError, LookupError):
    """An attribute path (``output``, ``trace.documents``, ``llm.output_messages.0...``) does
    not resolve on a span; carries the path and the closest keys that do exist."""

    def __init__(self, path: str, message: str, available: tuple[str, ...] = ()) -> None:
        hint = f"; closest: {', '.join(available)}" if available else ""
        super().__init__(f"path {path!r}: {message}{hint}")
        self.path = path
        self.available = available


class StoreError(TracejudgeError):
    """The store refused or failed an operation."""


class SpanConflict(StoreError):
    """A span was re-sent with content different from the stored, immutable one."""

    def __init__(self, trace_id: str, span_id: str) -> None:
        super().__init__(f"span {span_id} of trace {trace_id} was re-sent with different content")
        self.trace_id = trace_id
        self.span_id = span_id


class NotFound(TracejudgeError, LookupError):
    """A requested record does not exist."""


class TraceNotFound(NotFound):
    """No trace with this id (in this project)."""


class SpanNotFound(NotFound):
    """No span with this id (in this project)."""
