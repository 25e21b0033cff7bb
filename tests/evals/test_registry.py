"""Evaluators by name: code checks, parametrized calls, judge templates, unknown names."""

from __future__ import annotations

import pytest

from tracejudge.errors import ConfigurationError
from tracejudge.evals import Evaluator, evaluator_names, get_evaluator
from tracejudge.evals.registry import CODE_EVALUATORS


def test_every_code_evaluator_is_known_by_name() -> None:
    names = evaluator_names()
    assert set(CODE_EVALUATORS) <= set(names)
    for name in ["json_valid", "exact_match", "contains", "regex_match", "tool_call_valid"]:
        ev = get_evaluator(name)
        assert isinstance(ev, Evaluator) and ev.name == name


def test_parametrized_factories_from_text() -> None:
    ev = get_evaluator("length_bounds(min=2, max=4)")
    assert ev.evaluate({"output": "abc"}).passed
    assert not ev.evaluate({"output": "abcde"}).passed
    schema = get_evaluator('json_schema(schema={"type": "array"})')
    assert schema.evaluate({"output": "[1]"}).passed
    assert get_evaluator("contains(value=['a', 'b'])").evaluate({"output": "ab"}).passed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_check", r"unknown name 'no_such_check'; known: .*json_valid"),
        ("length_bounds(3)", "expected NAME or NAME"),
        ("length_bounds(min=len('x'))", "argument min must be a literal"),
        ("length_bounds(minimum=3)", "unexpected keyword argument 'minimum'"),
        ("length_bounds(min=5, max=1)", "greater than max"),
        ("import os", "expected NAME"),
        ("", "non-empty name"),
    ],
)
def test_bad_names_raise_configuration_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        get_evaluator(spec)


def test_judge_templates_are_listed_when_the_judge_package_provides_them() -> None:
    judge = pytest.importorskip("tracejudge.evals.judge")
    templates = judge.builtin_template_names()
    assert set(templates) <= set(evaluator_names())
    for name in templates:
        assert get_evaluator(name).name == name
