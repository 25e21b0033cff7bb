"""``@observe``: one span per call of a function, with its input and output.

Works on plain, async, generator and async-generator functions (and methods: ``self`` /
``cls`` are left out of the input). Everything that can be worked out once per function
(name, kind attribute, parameter names, signature) is computed at decoration time so a call
costs little more than the bare OpenTelemetry SDK; see ``bench/sdk_overhead.py``.

Capture never changes what the function does: serialization problems fall back to
``repr``, a failure inside the tracing code is logged and the function runs untraced, and
the function's own exceptions are recorded on the span and re-raised unchanged.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span as OTelSpan
from opentelemetry.trace import Status, StatusCode

from tracejudge import semconv
from tracejudge.capture._state import current_tracer
from tracejudge.capture._values import TEXT_MIME, value_text
from tracejudge.errors import ConfigurationError
from tracejudge.model import SpanKind

__all__ = ["observe", "record_exception", "set_output", "validate_kind"]

_log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
_SELF_NAMES = frozenset({"self", "cls"})
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_KINDS = frozenset(k.value for k in SpanKind)


def validate_kind(kind: str) -> str:
    """The OpenInference span kind in upper case; ConfigurationError naming ``kind`` if unknown."""
    if not isinstance(kind, str) or kind.upper() not in _KINDS:
        raise ConfigurationError(f"kind: expected one of {sorted(_KINDS)}, got {kind!r}")
    return kind.upper()


def record_exception(span: OTelSpan, exc: BaseException) -> None:
    """ERROR status plus an ``exception`` event; never raises."""
    try:
        try:
            message = f"{type(exc).__name__}: {exc}"
        except Exception:
            message = type(exc).__name__
        span.record_exception(exc, escaped=True)
        span.set_status(Status(StatusCode.ERROR, message))
    except Exception:
        _log.debug("tracejudge: could not record an exception on a span", exc_info=True)


def set_output(span: OTelSpan, value: Any) -> None:
    """``output.value`` and its mime type; None means no output. Never raises."""
    if value is None:
        return
    try:
        text, mime = value_text(value)
        span.set_attributes({semconv.OUTPUT_VALUE: text, semconv.OUTPUT_MIME_TYPE: mime})
    except Exception:
        _log.debug("tracejudge: could not record an output", exc_info=True)


def _collected_output(items: list[Any]) -> Any:
    """What a generator produced: joined text when it yielded strings, else the list."""
    if items and all(type(i) is str for i in items):
        return "".join(items)
    return items


class _Plan:
    """Per-function facts computed once at decoration time."""

    __slots__ = ("n_pos", "name", "names", "sig", "skip_first", "static", "var_kw")

    def __init__(self, fn: Callable[..., Any], kind: str, name: str | None) -> None:
        qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
        self.name = name or (qualname or repr(fn)).rsplit("<locals>.", 1)[-1]
        self.static: dict[str, Any] = {semconv.OI_SPAN_KIND: kind}
        if kind == SpanKind.TOOL:
            self.static[semconv.TOOL_NAME] = self.name
        try:
            self.sig: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            self.sig = None
        params = list(self.sig.parameters.values()) if self.sig else []
        self.skip_first = bool(params) and params[0].name in _SELF_NAMES
        positional: list[str] = []
        for p in params:
            if p.kind not in _POSITIONAL:
                break
            positional.append(p.name)
        # The fast path zips positional arguments with these names (no Signature.bind).
        self.n_pos = len(positional)
        self.names = tuple(positional[1:] if self.skip_first else positional)
        self.var_kw = next((p.name for p in params if p.kind is p.VAR_KEYWORD), None)

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name, without ``self``/``cls``."""
        if not kwargs and len(args) <= self.n_pos:
            if self.skip_first:
                args = args[1:]
            return dict(zip(self.names, args, strict=False))
        if self.sig is None:
            return {"args": list(args), "kwargs": kwargs}
        try:
            bound = dict(self.sig.bind_partial(*args, **kwargs).arguments)
        except TypeError:  # the call itself will fail; still show what was passed
            return {"args": list(args), "kwargs": kwargs}
        if self.skip_first:
            bound.pop(next(iter(self.sig.parameters)), None)
        if self.var_kw is not None and self.var_kw in bound:
            bound.update(bound.pop(self.var_kw))
        return bound

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> OTelSpan | None:
        """Start the span with kind and input set; None if tracing itself failed."""
        try:
            attrs = dict(self.static)
            arguments = self.arguments(args, kwargs)
            if len(arguments) == 1:
                (only,) = arguments.values()
                if type(only) is str:
                    attrs[semconv.INPUT_VALUE] = only
                    attrs[semconv.INPUT_MIME_TYPE] = TEXT_MIME
                    return current_tracer().start_span(self.name, attributes=attrs)
            if arguments:
                text, mime = value_text(arguments)
                attrs[semconv.INPUT_VALUE] = text
                attrs[semconv.INPUT_MIME_TYPE] = mime
            return current_tracer().start_span(self.name, attributes=attrs)
        except Exception:
            _log.warning("tracejudge: could not start a span for %s", self.name, exc_info=True)
            return None


def _end(span: OTelSpan) -> None:
    try:
        span.end()
    except Exception:
        _log.debug("tracejudge: could not end a span", exc_info=True)


def _wrap_function(fn: Callable[..., Any], plan: _Plan) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = plan.start(args, kwargs)
        if span is None:
            return fn(*args, **kwargs)
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            otel_context.detach(token)
            record_exception(span, exc)
            _end(span)
            raise
        otel_context.detach(token)
        set_output(span, result)
        _end(span)
        return result

    return wrapper


def _wrap_coroutine(fn: Callable[..., Any], plan: _Plan) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = plan.start(args, kwargs)
        if span is None:
            return await fn(*args, **kwargs)
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            otel_context.detach(token)
            record_exception(span, exc)
            _end(span)
            raise
        otel_context.detach(token)
        set_output(span, result)
        _end(span)
        return result

    return wrapper


def _wrap_generator(fn: Callable[..., Any], plan: _Plan) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        span = plan.start(args, kwargs)
        if span is None:
            return (yield from fn(*args, **kwargs))
        ctx = trace.set_span_in_context(span)
        gen = fn(*args, **kwargs)
        items: list[Any] = []
        sent: Any = None
        pending: BaseException | None = None
        try:
            while True:
                # Our span is current only while the body runs, not while the consumer does.
                token = otel_context.attach(ctx)
                try:
                    item = gen.send(sent) if pending is None else gen.throw(pending)
                finally:
                    otel_context.detach(token)
                pending = None
                items.append(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    token = otel_context.attach(ctx)
                    try:
                        gen.close()
                    finally:
                        otel_context.detach(token)
                    set_output(span, _collected_output(items))
                    _end(span)
                    raise
                except BaseException as exc:
                    pending = exc
        except StopIteration as stop:
            set_output(span, _collected_output(items))
            _end(span)
            return stop.value
        except GeneratorExit:
            raise
        except BaseException as exc:
            record_exception(span, exc)
            _end(span)
            raise

    return wrapper


def _wrap_async_generator(fn: Callable[..., Any], plan: _Plan) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        span = plan.start(args, kwargs)
        if span is None:
            async for item in fn(*args, **kwargs):
                yield item
            return
        ctx = trace.set_span_in_context(span)
        agen = fn(*args, **kwargs)
        items: list[Any] = []
        sent: Any = None
        pending: BaseException | None = None
        try:
            while True:
                token = otel_context.attach(ctx)
                try:
                    if pending is None:
                        item = await agen.asend(sent)
                    else:
                        item = await agen.athrow(pending)
                finally:
                    otel_context.detach(token)
                pending = None
                items.append(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    token = otel_context.attach(ctx)
                    try:
                        await agen.aclose()
                    finally:
                        otel_context.detach(token)
                    set_output(span, _collected_output(items))
                    _end(span)
                    raise
                except BaseException as exc:
                    pending = exc
        except StopAsyncIteration:
            set_output(span, _collected_output(items))
            _end(span)
        except GeneratorExit:
            raise
        except BaseException as exc:
            record_exception(span, exc)
            _end(span)
            raise

    return wrapper


def _decorate(fn: F, kind: str, name: str | None) -> F:
    if isinstance(fn, classmethod | staticmethod):
        return type(fn)(_decorate(fn.__func__, kind, name))  # type: ignore[return-value]
    plan = _Plan(fn, kind, name)
    if inspect.isasyncgenfunction(fn):
        wrapped = _wrap_async_generator(fn, plan)
    elif inspect.iscoroutinefunction(fn):
        wrapped = _wrap_coroutine(fn, plan)
    elif inspect.isgeneratorfunction(fn):
        wrapped = _wrap_generator(fn, plan)
    else:
        wrapped = _wrap_function(fn, plan)
    return wrapped  # type: ignore[return-value]


@overload
def observe(kind: F, name: None = None) -> F: ...
@overload
def observe(kind: str = "CHAIN", name: str | None = None) -> Callable[[F], F]: ...


def observe(kind: Any = "CHAIN", name: str | None = None) -> Any:
    """Trace every call of the decorated function as one span.

    Example::

        @observe
        def answer(question: str) -> str: ...

        @observe(kind="TOOL", name="lookup_order")
        async def lookup(order_id: int) -> dict: ...

    The span is named ``name`` (default: the function's qualified name) and carries
    ``openinference.span.kind``; the bound arguments (minus ``self``/``cls``) become
    ``input.value`` — plain text for a single ``str`` argument, JSON otherwise — and the
    return value becomes ``output.value`` (generators: the yielded items, joined when they
    are strings). An exception sets ERROR status, adds an ``exception`` event and is
    re-raised unchanged. Spans go to the most recently :func:`register`-ed provider (or the
    global OpenTelemetry one if none was registered).

    Raises:
        ConfigurationError: ``kind`` is not an OpenInference span kind.
    """
    if callable(kind) or isinstance(kind, classmethod | staticmethod):
        return _decorate(kind, "CHAIN", name)
    checked = validate_kind(kind)

    def decorator(fn: F) -> F:
        return _decorate(fn, checked, name)

    return decorator
