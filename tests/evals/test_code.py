"""Built-in code evaluators: each verdict, explanation and configuration error."""

from __future__ import annotations

import json

import pytest
from tests.query._traces import WEATHER_TOOL

from tracejudge.errors import ConfigurationError
from tracejudge.evals import code


def test_exact_match_against_configured_value_or_reference() -> None:
    ev = code.exact_match("Paris")
    assert ev.evaluate({"output": " Paris\n"}).label == "pass"
    assert ev.evaluate({"output": "paris"}).label == "fail"
    assert code.exact_match("Paris", case_sensitive=False).evaluate({"output": "paris"}).passed
    by_ref = code.exact_match()
    assert by_ref.required == frozenset({"output", "reference"})
    assert by_ref.evaluate({"output": "a", "reference": "a"}).score == 1.0
    failed = by_ref.evaluate({"output": "a", "reference": "b"})
    assert (failed.label, failed.explanation) == ("fail", "expected 'b'")
    assert by_ref.evaluate({"output": "a"}).error == "missing required input(s): reference"


def test_contains_one_or_all_case_insensitive_by_default() -> None:
    assert code.contains("REFUND").evaluate({"output": "your refund is on its way"}).passed
    both = code.contains(["refund", "days"])
    result = both.evaluate({"output": "refund issued"})
    assert result.label == "fail" and result.explanation == "missing 'days'"
    assert not code.contains("Refund", case_sensitive=True).evaluate({"output": "refund"}).passed
    assert code.contains().evaluate({"output": "abc", "reference": "b"}).passed


def test_regex_match_search_and_full() -> None:
    assert code.regex_match(r"TH-\d{4}").evaluate({"output": "order TH-1042"}).explanation == (
        "matched 'TH-1042'"
    )
    assert not code.regex_match(r"\d+", full=True).evaluate({"output": "12a"}).passed
    assert code.regex_match().evaluate({"output": "abc", "reference": "^a"}).passed
    with pytest.raises(ConfigurationError, match="pattern: invalid regular expression"):
        code.regex_match("(")


def test_json_valid_and_json_schema() -> None:
    assert code.json_valid().evaluate({"output": '{"a": 1}'}).passed
    bad = code.json_valid().evaluate({"output": '{"a": '})
    assert bad.label == "fail" and bad.explanation.startswith("not valid JSON")
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    ev = code.json_schema(schema)
    assert ev.evaluate({"output": '{"a": 1}'}).passed
    assert ev.evaluate({"output": '{"a": "x"}'}).explanation == "at a: 'x' is not of type 'integer'"
    assert ev.evaluate({"output": "{}"}).explanation == "at (root): 'a' is a required property"
    assert ev.evaluate({"output": {"a": 2}}).passed  # structured values are checked as is
    with pytest.raises(ConfigurationError, match="schema: not a valid JSON schema"):
        code.json_schema({"type": "no-such-type"})


def test_length_bounds() -> None:
    ev = code.length_bounds(min=3, max=5)
    assert ev.evaluate({"output": "abcd"}).explanation == "4 chars, bounds [3, 5]"
    assert not ev.evaluate({"output": "abcdef"}).passed
    assert not ev.evaluate({"output": "ab"}).passed
    assert code.length_bounds(max=2, unit="words").evaluate({"output": "two words"}).passed
    for kwargs, message in [
        ({}, "give min, max or both"),
        ({"min": 5, "max": 1}, "greater than max"),
        ({"min": -1}, "min: expected a non-negative"),
        ({"max": 3, "unit": "tokens"}, "unit"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            code.length_bounds(**kwargs)  # type: ignore[arg-type]


def test_latency_and_token_budgets() -> None:
    assert code.latency_budget(2000).evaluate({"latency_ms": 1999.5}).passed
    over = code.latency_budget(2000).evaluate({"latency_ms": 2500})
    assert over.explanation == "latency_ms 2500 > budget 2000"
    ev = code.token_budget(100, which="prompt")
    assert dict(ev.inputs) == {"prompt_tokens": "prompt_tokens"}
    assert not ev.evaluate({"prompt_tokens": 101}).passed
    assert code.token_budget(100).evaluate({"total_tokens": 100}).passed
    assert code.token_budget(100).evaluate({}).error == "missing required input(s): total_tokens"
    with pytest.raises(ConfigurationError, match="max_ms"):
        code.latency_budget(0)
    with pytest.raises(ConfigurationError, match="which"):
        code.token_budget(10, which="cached")


def test_tool_call_valid() -> None:
    tools = [{"name": "get_weather", "parameters": WEATHER_TOOL["function"]["parameters"]}]
    ev = code.tool_call_valid()
    ok = ev.evaluate({"tool_calls": [{"name": "get_weather", "arguments": '{"city": "Oslo"}'}],
                      "tools": tools})  # fmt: skip
    assert ok.passed and ok.explanation == "1 tool call(s) valid"
    unknown = ev.evaluate({"tool_calls": [{"name": "get_wether", "arguments": {}}], "tools": tools})
    assert unknown.explanation == "'get_wether' is not a declared tool (declared: get_weather)"
    bad_args = ev.evaluate({"tool_calls": [{"name": "get_weather", "arguments": {"town": "x"}}],
                            "tools": tools})  # fmt: skip
    assert bad_args.explanation == "get_weather: arguments at (root): 'city' is a required property"
    broken = ev.evaluate({"tool_calls": {"name": "get_weather", "arguments": "{"}, "tools": tools})
    assert not broken.passed and "not valid JSON" in broken.explanation
    assert ev.evaluate({"tool_calls": [], "tools": tools}).explanation == "no tool calls"
    assert not ev.evaluate({"tool_calls": [{"name": "get_weather"}]}).passed  # nothing declared


def test_refusal_detection() -> None:
    ev = code.refusal()
    refused = ev.evaluate(
        {"output": "I'm sorry, but I can't share personal information about other customers."}
    )
    assert refused.label == "fail" and refused.metadata == {"refused": True}
    assert refused.explanation.startswith("refusal detected")
    answered = ev.evaluate({"output": "Standard shipping takes 3 to 5 business days."})
    assert answered.passed and answered.metadata == {"refused": False}
    assert code.refusal(expect_refusal=True).evaluate({"output": "I cannot help with that."}).passed
    assert ev.evaluate({"output": json.dumps({"as an AI": 1})}).metadata == {"refused": True}
