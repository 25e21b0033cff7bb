"""LLM-as-judge: templates with rubrics, a retrying judge client, traced judge calls.

Example::

    from tracejudge.evals.judge import Judge, template_evaluator

    judge = Judge(model="gpt-4o-mini", base_url="http://127.0.0.1:8000/v1")
    groundedness = template_evaluator("groundedness", judge=judge)
    result = groundedness.evaluate({"output": answer, "context": documents})

Modules: :mod:`.client` (``Judge``: endpoint settings, retries, concurrency, structured
output), :mod:`.parsing` (the verdict schema), :mod:`.templates` (``Template``),
:mod:`.builtins` (the shipped templates in ``prompts/``), :mod:`.evaluator`
(``LLMJudgeEvaluator``) and :mod:`.tracing` (the EVALUATOR span of every call).
"""

from __future__ import annotations

from tracejudge.evals.judge.builtins import builtin_template, builtin_template_names
from tracejudge.evals.judge.client import DEFAULT_MODEL, Judge, JudgeOutcome
from tracejudge.evals.judge.evaluator import LLMJudgeEvaluator, template_evaluator
from tracejudge.evals.judge.formatting import readable
from tracejudge.evals.judge.parsing import InvalidVerdict, Verdict
from tracejudge.evals.judge.templates import Example, Template, TemplateInputError
from tracejudge.evals.judge.tracing import (
    TARGET_SPAN_ID,
    TARGET_TRACE_ID,
    evaluation_target,
)

__all__ = [
    "DEFAULT_MODEL",
    "TARGET_SPAN_ID",
    "TARGET_TRACE_ID",
    "Example",
    "InvalidVerdict",
    "Judge",
    "JudgeOutcome",
    "LLMJudgeEvaluator",
    "Template",
    "TemplateInputError",
    "Verdict",
    "builtin_template",
    "builtin_template_names",
    "evaluation_target",
    "readable",
    "template_evaluator",
]
