"""Templates: validated when built, strict when rendered, inputs rendered readably."""

from __future__ import annotations

import json

import pytest

from tracejudge.errors import ConfigurationError
from tracejudge.evals.judge import (
    Example,
    Template,
    TemplateInputError,
    builtin_template,
    builtin_template_names,
    readable,
)

BUILTINS = [
    "answer_relevance",
    "context_relevance",
    "groundedness",
    "hallucination",
    "qa_correctness",
    "task_completion",
    "tool_use",
    "toxicity",
]


def _concise(**overrides: object) -> Template:
    fields: dict[str, object] = {
        "name": "conciseness",
        "rubric": "Pass if the answer uses no more words than needed.",
        "prompt": "Question: {{ input }}\nAnswer: {{ output }}",
        "inputs": {"input": "trace.input", "output": "output"},
    }
    fields.update(overrides)
    return Template(**fields)  # type: ignore[arg-type]


def test_builtins_are_listed_documented_and_binary() -> None:
    assert builtin_template_names() == BUILTINS
    for name in BUILTINS:
        template = builtin_template(name)
        assert template.name == name and template.version == "1"
        assert "**pass**" in template.rubric and "**fail**" in template.rubric
        assert template.required_inputs <= set(template.inputs)
    assert builtin_template("groundedness").inputs == {
        "output": "output",
        "context": "trace.documents",
    }
    assert builtin_template("task_completion").inputs == {
        "input": "trace.input",
        "output": "trace.output",
        "tool_calls": "trace.tool_calls",
    }


def test_unknown_builtin_lists_the_choices() -> None:
    with pytest.raises(ConfigurationError, match=r"no built-in judge template 'ground'.*toxicity"):
        builtin_template("ground")


def test_custom_template_messages_carry_rubric_examples_and_format() -> None:
    template = _concise(
        examples=[
            Example({"input": "2+2?", "output": "4"}, "Direct and complete.", "pass"),
            Example({"input": "2+2?", "output": "Well, " * 5 + "4"}, "Padded.", "fail", 0.1),
        ]
    )
    system, user = template.messages({"input": "Capital of France?", "output": "Paris."})
    assert system["role"] == "system" and user["role"] == "user"
    assert user["content"] == "Question: Capital of France?\nAnswer: Paris."
    text = system["content"]
    assert "## Task: conciseness" in text and "no more words than needed" in text
    assert "### Example 1\nQuestion: 2+2?\nAnswer: 4" in text
    first = json.loads(text.split("Verdict: ")[1].splitlines()[0])
    assert list(first) == ["reasoning", "label", "score"] and first["label"] == "pass"
    assert '"label": "fail", "score": 0.1' in text
    assert text.index("## Examples") < text.index("## Output") and "JSON" in text
    tool_system = template.messages({"input": "q", "output": "a"}, "tool")[0]["content"]
    assert "calling the `verdict` function" in tool_system


def test_missing_required_input_is_named() -> None:
    template = _concise()
    with pytest.raises(TemplateInputError, match=r"missing required input 'output'"):
        template.render_prompt({"input": "q"})
    with pytest.raises(TemplateInputError, match=r"inputs 'input', 'output'"):
        template.render_prompt({"input": None})


def test_optional_inputs_render_as_none() -> None:
    template = _concise(
        prompt="{{ output }}{% if input %} (asked: {{ input }}){% endif %}",
        required=frozenset({"output"}),
    )
    assert template.render_prompt({"output": "Paris."}) == "Paris."
    assert template.render_prompt({"output": "Paris.", "input": "q"}) == "Paris. (asked: q)"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": " "}, "name: expected a non-empty string"),
        ({"inputs": {}}, "declare at least one input"),
        ({"prompt": "{{ reference }}"}, r"prompt uses \['reference'\] which are not declared"),
        ({"prompt": "{% if input %}"}, "Jinja2 syntax error on line 1"),
        ({"required": frozenset({"context"})}, r"required \['context'\] are not declared"),
        ({"examples": [Example({"input": "q", "output": "a"}, "r", "ok")]}, "label: expected"),
        ({"examples": [Example({"input": "q"}, "r", "pass")]}, r"examples\[0\]: .*'output'"),
    ],
)
def test_bad_templates_rejected_when_built(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        _concise(**overrides)


def test_documents_tool_calls_and_tools_render_readably() -> None:
    documents = [
        {"content": "Refunds take 5 days.", "id": "kb-1", "score": 2.5},
        {"content": "Returns are free.", "id": "kb-2", "score": None},
    ]
    assert readable(documents) == (
        "[1] (id: kb-1, score: 2.5) Refunds take 5 days.\n[2] (id: kb-2) Returns are free."
    )
    calls = [{"name": "get_order", "arguments": {"id": "TH-1"}, "result": {"status": "shipped"}}]
    assert readable(calls) == '[1] get_order({"id": "TH-1"}) -> {"status": "shipped"}'
    tools = [{"name": "get_order", "description": "Look up an order.", "parameters": {}}]
    assert readable(tools) == "[1] get_order: Look up an order. (parameters: {})"
    assert readable([{"role": "user", "content": "hi"}]) == "[1] user: hi"
    assert readable([]) == "(none)" and readable(None) == "(none)"
    assert readable({"a": 1}) == '{"a": 1}' and readable(0.5) == "0.5"
