"""``@evaluator``: return-value coercion, error capture, async functions, input checks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tracejudge.errors import ConfigurationError
from tracejudge.evals import EvalResult, Evaluator, evaluator


def test_bare_decorator_infers_inputs_paths_and_required() -> None:
    @evaluator
    def grounded(output: str, context: list[Any], reference: str | None = None) -> bool:
        return True

    assert isinstance(grounded, Evaluator)
    assert (grounded.name, grounded.version) == ("grounded", "1")
    assert dict(grounded.inputs) == {
        "output": "output",
        "context": "trace.documents",
        "reference": "metadata.reference",
    }
    assert grounded.required == frozenset({"output", "context"})


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        (True, EvalResult(score=1.0, label="pass")),
        (False, EvalResult(score=0.0, label="fail")),
        (0.25, EvalResult(score=0.25)),
        (3, EvalResult(score=3.0)),
        ("neutral", EvalResult(label="neutral")),
        (EvalResult(label="x", explanation="why"), EvalResult(label="x", explanation="why")),
    ],
)
def test_return_values_become_results(returned: Any, expected: EvalResult) -> None:
    @evaluator(name="fixed", version="7", inputs={"output": "output"})
    def fixed(output: str) -> Any:
        return returned

    assert fixed.evaluate({"output": "hi"}) == expected


def test_unsupported_return_and_exceptions_become_errors() -> None:
    @evaluator
    def returns_list(output: str) -> Any:
        return [1]

    @evaluator
    def boom(output: str) -> bool:
        raise RuntimeError("judge unreachable")

    assert "expected EvalResult, bool, number or str" in (
        returns_list.evaluate({"output": "x"}).error or ""
    )
    result = boom.evaluate({"output": "x"})
    assert result.error == "RuntimeError: judge unreachable" and result.label is None


def test_missing_required_inputs_are_an_error_result_and_the_function_is_not_called() -> None:
    calls: list[str] = []

    @evaluator
    def check(output: str, context: list[Any]) -> bool:
        calls.append(output)
        return True

    result = check.evaluate({"output": "x", "context": None})
    assert result.error == "missing required input(s): context"
    assert calls == []
    # Inputs the function does not take are ignored; optional ones use the default.
    assert check.evaluate({"output": "x", "context": [], "extra": 1}).label == "pass"


def test_async_functions_run_from_sync_and_async_callers() -> None:
    @evaluator(name="slow_check")
    async def slow(output: str) -> bool:
        await asyncio.sleep(0)
        return output == "ok"

    assert slow.evaluate({"output": "ok"}).label == "pass"
    assert asyncio.run(slow.aevaluate({"output": "no"})).label == "fail"

    async def inside_a_running_loop() -> EvalResult:
        return slow.evaluate({"output": "ok"})  # sync call from async code still works

    assert asyncio.run(inside_a_running_loop()).label == "pass"

    @evaluator
    async def broken(output: str) -> bool:
        raise ValueError("bad verdict")

    assert asyncio.run(broken.aevaluate({"output": "x"})).error == "ValueError: bad verdict"
    assert broken.evaluate({"output": "x"}).error == "ValueError: bad verdict"


def test_bad_declarations_are_rejected_naming_the_argument() -> None:
    with pytest.raises(ConfigurationError, match=r"parameter.*context.*no default"):

        @evaluator(inputs={"output": "output"})
        def needs_context(output: str, context: str) -> bool:
            return True

    with pytest.raises(ConfigurationError, match="required: nope not among"):

        @evaluator(required={"nope"})
        def f(output: str) -> bool:
            return True

    with pytest.raises(ConfigurationError, match=r"inputs\['output'\]"):

        @evaluator(inputs={"output": ""})
        def g(output: str) -> bool:
            return True
