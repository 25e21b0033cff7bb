"""Evaluators: code checks, LLM judges, and in-line evaluation on the active span.

Example::

    from tracejudge.evals import evaluate, evaluator

    @evaluator
    def is_polite(output: str) -> bool:
        return "please" in output.lower()

    evaluate(is_polite)                 # reads the active span's output, attaches the result
    evaluate("tool_call_valid")         # a built-in, by name

See :mod:`tracejudge.evals.code` (built-in checks), :mod:`tracejudge.evals.registry`
(names), :mod:`tracejudge.evals.scoring` (stored spans) and :mod:`tracejudge.evals.judge`
(LLM-as-judge).
"""

from __future__ import annotations

from tracejudge.evals.base import FAIL, PASS, EvalResult, Evaluator
from tracejudge.evals.decorator import FunctionEvaluator, evaluator
from tracejudge.evals.inline import aevaluate, evaluate
from tracejudge.evals.registry import evaluator_names, get_evaluator
from tracejudge.evals.scoring import score_span

__all__ = [
    "FAIL",
    "PASS",
    "EvalResult",
    "Evaluator",
    "FunctionEvaluator",
    "aevaluate",
    "evaluate",
    "evaluator",
    "evaluator_names",
    "get_evaluator",
    "score_span",
]
