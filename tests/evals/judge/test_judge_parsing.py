"""Verdict parsing: reasoning before the verdict, strict validation, clear reasons."""

from __future__ import annotations

import json

import pytest

from tracejudge.evals.judge.parsing import (
    JSON_INSTRUCTIONS,
    TOOL_INSTRUCTIONS,
    VERDICT_TOOL,
    InvalidVerdict,
    Verdict,
    parse_json_verdict,
    parse_verdict_arguments,
)


def test_reasoning_comes_before_the_verdict_everywhere() -> None:
    assert list(Verdict.model_fields) == ["reasoning", "label", "score"]
    assert list(VERDICT_TOOL["function"]["parameters"]["properties"]) == [
        "reasoning",
        "label",
        "score",
    ]
    for text in (JSON_INSTRUCTIONS, TOOL_INSTRUCTIONS):
        assert text.index('"reasoning"') < text.index('"label"') < text.index('"score"')
    assert "JSON" in JSON_INSTRUCTIONS  # OpenAI's JSON mode refuses prompts without the word


def test_json_verdict_parsed() -> None:
    verdict = parse_json_verdict('{"reasoning": "r", "label": "fail", "score": 0.2}')
    assert verdict == Verdict(reasoning="r", label="fail", score=0.2)
    assert verdict.final_score == 0.2


def test_code_fence_and_label_case_tolerated_and_score_defaults_from_label() -> None:
    verdict = parse_json_verdict('```json\n{"reasoning": "fine", "label": " PASS "}\n```')
    assert verdict.label == "pass"
    assert verdict.score is None and verdict.final_score == 1.0


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "no content"),
        (None, "no content"),
        ("The answer passes.", "not valid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"reasoning": "r", "label": "maybe", "score": 0.5}', "label: Input should be"),
        ('{"reasoning": "r", "label": "pass", "score": 1.5}', "score: Input should be less"),
        ('{"label": "pass", "score": 1}', "reasoning: Field required"),
    ],
)
def test_invalid_json_verdicts_name_the_problem(content: str | None, reason: str) -> None:
    with pytest.raises(InvalidVerdict) as info:
        parse_json_verdict(content)
    assert reason in str(info.value)
    assert info.value.raw == content


def test_tool_arguments_parsed_and_wrong_function_rejected() -> None:
    args = json.dumps({"reasoning": "r", "label": "pass", "score": 1})
    assert parse_verdict_arguments("verdict", args).label == "pass"
    with pytest.raises(InvalidVerdict, match="expected a call to 'verdict', got 'grade'"):
        parse_verdict_arguments("grade", args)
    with pytest.raises(InvalidVerdict, match="no arguments"):
        parse_verdict_arguments("verdict", "")
