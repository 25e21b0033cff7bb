"""Judge templates: a rubric, the inputs it reads, few-shot examples, and a Jinja2 prompt.

A :class:`Template` turns evaluator inputs into the chat messages sent to the judge:

* the **system** message holds the task name, the rubric, the few-shot examples (each
  rendered through the same prompt, followed by its expected verdict) and the output
  format (reasoning first, then the verdict);
* the **user** message is the template's Jinja2 ``prompt`` rendered with the inputs.

Rendering is strict (``StrictUndefined``): a prompt naming an input the template does not
declare is rejected when the template is built, and a missing required input is a
:class:`TemplateInputError` naming it, never a silently empty prompt. Every ``{{ value }}``
is rendered with :func:`~tracejudge.evals.judge.formatting.readable`, so lists of documents
or tool calls read as numbered lines.

Write your own::

    concise = Template(
        name="conciseness",
        rubric="Pass if the answer uses no more words than needed to answer the question.",
        prompt="Question: {{ input }}\\nAnswer: {{ output }}",
        inputs={"input": "trace.input", "output": "output"},
        examples=[Example({"input": "2+2?", "output": "4"}, "Direct answer.", "pass", 1.0)],
    )
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import meta

from tracejudge.errors import ConfigurationError
from tracejudge.evals.base import FAIL, PASS
from tracejudge.evals.judge.formatting import readable
from tracejudge.evals.judge.parsing import JSON_INSTRUCTIONS, TOOL_INSTRUCTIONS

__all__ = ["Example", "Template", "TemplateInputError", "render_system"]


class TemplateInputError(ValueError):
    """The inputs cannot fill the template (a required one is missing, or rendering failed)."""


_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # prompts are plain text, not HTML
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
    finalize=readable,
)

_SYSTEM = _ENV.from_string(
    """\
You are an impartial evaluator of an LLM application. Judge only what the rubric asks \
about; do not reward length, confidence or style.

## Task: {{ name }}
{{ rubric }}
{% if examples %}

## Examples
{% for example in examples %}

### Example {{ loop.index }}
{{ example.prompt }}

Verdict: {{ example.verdict }}
{% endfor %}
{% endif %}

## Output
{{ instructions }}"""
)


@dataclass(frozen=True, slots=True)
class Example:
    """A few-shot example: inputs and the verdict the judge should reach for them."""

    inputs: Mapping[str, Any]
    reasoning: str
    label: str  # "pass" or "fail"
    score: float | None = None

    def verdict_json(self) -> str:
        """The expected verdict, written in the same field order the judge must use."""
        score = self.score if self.score is not None else (1.0 if self.label == PASS else 0.0)
        return json.dumps({"reasoning": self.reasoning, "label": self.label, "score": score})


@dataclass(frozen=True)
class Template:
    """A judge prompt with its rubric and inputs; immutable and validated when built.

    Parameters:
        name: the evaluation name (``groundedness``); also the evaluator's name.
        prompt: Jinja2 source of the user message; may use only the declared inputs.
        inputs: input name -> default attribute path on the judged span
            (``{"output": "output", "context": "trace.documents"}``).
        rubric: what passes and what fails, in Markdown; sent to the judge and shown to
            people reading the evaluation.
        version: bump when the prompt or rubric changes meaningfully.
        required: inputs that must be present (default: all of them). Optional inputs
            are rendered as ``None`` when absent, so prompts can test ``{% if x %}``.
        examples: few-shot examples, rendered into the system message.
        description: one line for listings.

    Raises:
        ConfigurationError: empty name, bad Jinja2 syntax, a prompt variable that is not a
            declared input, ``required`` not a subset of ``inputs``, or a bad example.
    """

    name: str
    prompt: str
    inputs: Mapping[str, str]
    rubric: str = ""
    version: str = "1"
    required: frozenset[str] | None = None
    examples: Sequence[Example] = ()
    description: str = ""
    _compiled: jinja2.Template = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigurationError(f"name: expected a non-empty string, got {self.name!r}")
        where = f"template {self.name!r}"
        if not self.inputs:
            raise ConfigurationError(f"{where}: inputs: declare at least one input")
        try:
            compiled = _ENV.from_string(self.prompt)
            used = meta.find_undeclared_variables(_ENV.parse(self.prompt))
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigurationError(
                f"{where}: prompt: Jinja2 syntax error on line {exc.lineno}: {exc.message}"
            ) from None
        unknown = sorted(used - set(self.inputs))
        if unknown:
            raise ConfigurationError(
                f"{where}: prompt uses {unknown} which are not declared inputs "
                f"({sorted(self.inputs)})"
            )
        required = frozenset(self.inputs) if self.required is None else frozenset(self.required)
        if not required <= set(self.inputs):
            raise ConfigurationError(
                f"{where}: required {sorted(required - set(self.inputs))} are not declared inputs"
            )
        object.__setattr__(self, "required", required)
        object.__setattr__(self, "inputs", dict(self.inputs))
        object.__setattr__(self, "examples", tuple(self.examples))
        object.__setattr__(self, "_compiled", compiled)
        for i, example in enumerate(self.examples):
            if example.label not in (PASS, FAIL):
                raise ConfigurationError(
                    f"{where}: examples[{i}].label: expected 'pass' or 'fail', "
                    f"got {example.label!r}"
                )
            try:
                self.render_prompt(example.inputs)
            except TemplateInputError as exc:
                raise ConfigurationError(f"{where}: examples[{i}]: {exc}") from None

    @property
    def required_inputs(self) -> frozenset[str]:
        """The resolved ``required`` set (never None once built)."""
        return self.required or frozenset()

    def render_prompt(self, inputs: Mapping[str, Any]) -> str:
        """The user message for ``inputs``.

        Raises:
            TemplateInputError: a required input is missing (or None), or rendering failed.
        """
        missing = sorted(n for n in self.required_inputs if inputs.get(n) is None)
        if missing:
            raise TemplateInputError(
                f"template {self.name!r}: missing required input{'s' if len(missing) > 1 else ''} "
                f"{', '.join(repr(m) for m in missing)} (got {sorted(inputs)})"
            )
        values = {name: inputs.get(name) for name in self.inputs}
        try:
            return self._compiled.render(values).strip()
        except jinja2.TemplateError as exc:
            raise TemplateInputError(f"template {self.name!r}: cannot render: {exc}") from None

    def messages(
        self, inputs: Mapping[str, Any], response_format: str = "json_object"
    ) -> list[dict[str, str]]:
        """System and user chat messages for one evaluation.

        Raises:
            TemplateInputError: as :meth:`render_prompt`.
        """
        return [
            {"role": "system", "content": render_system(self, response_format)},
            {"role": "user", "content": self.render_prompt(inputs)},
        ]


def render_system(template: Template, response_format: str = "json_object") -> str:
    """The system message: task, rubric, few-shot examples and the output format."""
    examples = [
        {"prompt": template.render_prompt(e.inputs), "verdict": e.verdict_json()}
        for e in template.examples
    ]
    return _SYSTEM.render(
        name=template.name,
        rubric=template.rubric.strip() or "(no rubric given)",
        examples=examples,
        instructions=TOOL_INSTRUCTIONS if response_format == "tool" else JSON_INSTRUCTIONS,
    )
