"""``@evaluator``: a plain function (sync or async) becomes an :class:`Evaluator`.

The function's parameters are the input names; each gets a default attribute path (the
well-known names below, else the parameter name itself, which is then read as an alias or
attribute key). What it returns is turned into an :class:`EvalResult`: an ``EvalResult``
as is, ``bool`` -> label ``pass``/``fail`` and score 1.0/0.0, a number -> score, a string
-> label. An exception inside becomes ``EvalResult(error=...)``: evaluators never raise
into the app they evaluate.

Example::

    @evaluator(inputs={"output": "output", "context": "trace.documents"})
    def mentions_a_source(output: str, context: list[dict]) -> bool:
        return any(doc["id"] in output for doc in context)
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, overload

from tracejudge.errors import ConfigurationError
from tracejudge.evals.base import FAIL, PASS, EvalResult

__all__ = [
    "DEFAULT_PATHS",
    "FunctionEvaluator",
    "coerce_result",
    "error_result",
    "evaluator",
    "missing_inputs",
]

DEFAULT_PATHS: dict[str, str] = {
    "input": "input",
    "output": "output",
    "question": "trace.input",
    "answer": "output",
    "context": "trace.documents",
    "documents": "trace.documents",
    "reference": "metadata.reference",
    "tool_calls": "tool_calls",
    "tools": "trace.tools",
    "latency_ms": "latency_ms",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
}
"""Default attribute path of well-known input names (any other name is its own path)."""


def coerce_result(value: Any) -> EvalResult:
    """What an evaluator function returned, as an :class:`EvalResult`."""
    if isinstance(value, EvalResult):
        return value
    if isinstance(value, bool):
        return EvalResult(score=1.0 if value else 0.0, label=PASS if value else FAIL)
    if isinstance(value, int | float):
        return EvalResult(score=float(value))
    if isinstance(value, str):
        return EvalResult(label=value)
    return EvalResult(
        error=f"evaluator returned {type(value).__name__}; expected EvalResult, bool, number or str"
    )


def error_result(exc: BaseException) -> EvalResult:
    """An exception raised inside an evaluator, as a result."""
    return EvalResult(error=f"{type(exc).__name__}: {exc}")


def missing_inputs(required: Iterable[str], inputs: Mapping[str, Any]) -> EvalResult | None:
    """An error result naming required inputs that are absent (or None), else None."""
    missing = sorted(n for n in required if inputs.get(n) is None)
    if not missing:
        return None
    return EvalResult(error=f"missing required input(s): {', '.join(missing)}")


def _run_coroutine(coro: Any) -> Any:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="tracejudge-evaluate")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


class FunctionEvaluator:
    """An :class:`Evaluator` around a function whose parameters are its input names.

    Sync functions run on the caller's thread (also from ``aevaluate``: make a function
    ``async`` if it does I/O); async functions are awaited by ``aevaluate`` and run to
    completion by ``evaluate``. Inputs the function does not accept are ignored.
    """

    __slots__ = (
        "_accepts_all",
        "_fn",
        "_is_async",
        "_params",
        "inputs",
        "name",
        "required",
        "version",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        version: str = "1",
        inputs: Mapping[str, str] | None = None,
        required: Iterable[str] | None = None,
    ) -> None:
        if not callable(fn):
            raise ConfigurationError(f"fn: expected a callable, got {fn!r}")
        signature = inspect.signature(fn)
        params = {
            p.name: p
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
        self._accepts_all = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
        if inputs is None:
            inputs = {n: DEFAULT_PATHS.get(n, n) for n in params}
        inputs = dict(inputs)
        for key, path in inputs.items():
            if not isinstance(path, str) or not path:
                raise ConfigurationError(
                    f"inputs[{key!r}]: expected a non-empty path, got {path!r}"
                )
        unfed = [n for n, p in params.items() if p.default is p.empty and n not in inputs]
        if unfed:
            raise ConfigurationError(
                f"inputs: parameter(s) {', '.join(unfed)} of {fn.__name__} have no default "
                f"and no input path"
            )
        if required is None:
            required = [n for n in inputs if n in params and params[n].default is params[n].empty]
        required = frozenset(required)
        if unknown := sorted(required - inputs.keys()):
            raise ConfigurationError(f"required: {', '.join(unknown)} not among the inputs")
        if not isinstance(version, str) or not version:
            raise ConfigurationError(f"version: expected a non-empty string, got {version!r}")
        self._fn = fn
        self._is_async = inspect.iscoroutinefunction(fn)
        self._params = frozenset(params)
        self.name = name or fn.__name__
        self.version = version
        self.inputs: Mapping[str, str] = inputs
        self.required: frozenset[str] = required

    def __repr__(self) -> str:
        return f"<evaluator {self.name}@{self.version} inputs={dict(self.inputs)}>"

    def _kwargs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        if self._accepts_all:
            return {k: v for k, v in inputs.items() if v is not None}
        return {k: v for k, v in inputs.items() if k in self._params and v is not None}

    def evaluate(self, inputs: Mapping[str, Any]) -> EvalResult:
        """Run the function; never raises (errors become ``EvalResult(error=...)``)."""
        if (missing := missing_inputs(self.required, inputs)) is not None:
            return missing
        try:
            value = self._fn(**self._kwargs(inputs))
            if self._is_async:
                value = _run_coroutine(value)
            return coerce_result(value)
        except Exception as exc:
            return error_result(exc)

    async def aevaluate(self, inputs: Mapping[str, Any]) -> EvalResult:
        """``evaluate`` for asyncio apps; awaits async functions."""
        if (missing := missing_inputs(self.required, inputs)) is not None:
            return missing
        try:
            value = self._fn(**self._kwargs(inputs))
            if inspect.isawaitable(value):
                value = await value
            return coerce_result(value)
        except Exception as exc:
            return error_result(exc)


@overload
def evaluator(fn: Callable[..., Any], /) -> FunctionEvaluator: ...


@overload
def evaluator(
    *,
    name: str | None = None,
    version: str = "1",
    inputs: Mapping[str, str] | None = None,
    required: Iterable[str] | None = None,
) -> Callable[[Callable[..., Any]], FunctionEvaluator]: ...


def evaluator(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    version: str = "1",
    inputs: Mapping[str, str] | None = None,
    required: Iterable[str] | None = None,
) -> FunctionEvaluator | Callable[[Callable[..., Any]], FunctionEvaluator]:
    """Turn a function into an :class:`Evaluator`; usable bare or with arguments.

    Example::

        @evaluator
        def is_short(output: str) -> bool:
            return len(output) < 500

        @evaluator(name="cites_source", version="2", inputs={"output": "output"})
        async def cites(output: str) -> EvalResult: ...

    Parameters:
        name: evaluator name (default: the function's name).
        version: recorded with every result as ``name@version``.
        inputs: input name -> default attribute path (default: one per parameter, see
            :data:`DEFAULT_PATHS`).
        required: inputs that must be present (default: parameters without a default).

    Raises:
        ConfigurationError: a parameter without default has no input path, ``required``
            names an unknown input, or an empty path/version.
    """

    def wrap(f: Callable[..., Any]) -> FunctionEvaluator:
        return FunctionEvaluator(f, name=name, version=version, inputs=inputs, required=required)

    return wrap(fn) if fn is not None else wrap
