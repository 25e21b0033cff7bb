"""The built-in judge templates, shipped as files in ``prompts/``.

Each template is ``prompts/<name>.jinja`` (the user message) plus ``prompts/<name>.md``
(its rubric, sent to the judge and readable on its own). The table below adds what the
files cannot say: the inputs and the span attribute paths they are read from by default,
and which are required. Every built-in is binary (``pass`` = good) with a 0..1 score.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from tracejudge.errors import ConfigurationError
from tracejudge.evals.judge.templates import Template

__all__ = ["builtin_template", "builtin_template_names"]

# name -> (description, inputs {name: default path}, optional inputs)
_BUILTINS: dict[str, tuple[str, dict[str, str], frozenset[str]]] = {
    "groundedness": (
        "Is every claim of the answer supported by the retrieved context?",
        {"output": "output", "context": "trace.documents"},
        frozenset(),
    ),
    "answer_relevance": (
        "Does the answer address the user's question?",
        {"input": "trace.input", "output": "output"},
        frozenset(),
    ),
    "context_relevance": (
        "Do the retrieved documents contain what the question needs?",
        {"input": "trace.input", "context": "trace.documents"},
        frozenset(),
    ),
    "hallucination": (
        "Does the answer invent information absent from the context?",
        {"input": "trace.input", "output": "output", "context": "trace.documents"},
        frozenset(),
    ),
    "qa_correctness": (
        "Is the answer correct compared with a reference answer? (map `reference`)",
        {"input": "trace.input", "output": "output", "reference": "reference"},
        frozenset(),
    ),
    "toxicity": (
        "Is the output free of insults, hate, harassment and threats?",
        {"output": "output"},
        frozenset(),
    ),
    "task_completion": (
        "Did the agent accomplish the user's task (whole trace)?",
        {"input": "trace.input", "output": "trace.output", "tool_calls": "trace.tool_calls"},
        frozenset({"tool_calls"}),
    ),
    "tool_use": (
        "Did the agent call the right tools with the right arguments?",
        {"input": "trace.input", "tool_calls": "trace.tool_calls", "tools": "trace.tools"},
        frozenset({"tools"}),
    ),
}


def builtin_template_names() -> list[str]:
    """Names of the built-in templates, sorted."""
    return sorted(_BUILTINS)


def _read(filename: str) -> str:
    path = resources.files("tracejudge.evals.judge").joinpath("prompts", filename)
    return path.read_text(encoding="utf-8")


@cache
def builtin_template(name: str) -> Template:
    """The built-in template ``name`` (loaded from the package once).

    Raises:
        ConfigurationError: no built-in template has that name (the message lists them).
    """
    if name not in _BUILTINS:
        raise ConfigurationError(
            f"no built-in judge template {name!r}; choose one of {builtin_template_names()}"
        )
    description, inputs, optional = _BUILTINS[name]
    return Template(
        name=name,
        prompt=_read(f"{name}.jinja"),
        rubric=_read(f"{name}.md"),
        inputs=inputs,
        required=frozenset(inputs) - optional,
        description=description,
    )
