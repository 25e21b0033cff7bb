"""Evaluators by name: the built-in code checks and, lazily, the LLM-judge templates.

``get_evaluator("json_valid")`` or, for parametrized checks, a call written as text:
``get_evaluator("length_bounds(min=10, max=2000)")`` (keyword arguments, Python literals
only; parsed with :mod:`ast`, never evaluated). Judge template names (``groundedness``,
``answer_relevance``, ...) come from :mod:`tracejudge.evals.judge`, imported only when a
name is not a code evaluator, so code checks never load the openai SDK.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from tracejudge.errors import ConfigurationError
from tracejudge.evals import code
from tracejudge.evals.base import Evaluator

__all__ = ["CODE_EVALUATORS", "evaluator_names", "get_evaluator"]


def _embedding_similarity(**kwargs: Any) -> Evaluator:
    from tracejudge.evals.embedding import embedding_similarity

    return embedding_similarity(**kwargs)


CODE_EVALUATORS: dict[str, Callable[..., Evaluator]] = {
    "contains": code.contains,
    "embedding_similarity": _embedding_similarity,
    "exact_match": code.exact_match,
    "json_schema": code.json_schema,
    "json_valid": code.json_valid,
    "latency_budget": code.latency_budget,
    "length_bounds": code.length_bounds,
    "refusal": code.refusal,
    "regex_match": code.regex_match,
    "token_budget": code.token_budget,
    "tool_call_valid": code.tool_call_valid,
}
"""Factories of the built-in code evaluators, by name."""


def _judge_names() -> list[str]:
    """The judge's built-in template names; empty if the judge package is unavailable."""
    try:
        from tracejudge.evals.judge import builtin_template_names
    except ImportError:
        return []
    return list(builtin_template_names())


def evaluator_names() -> list[str]:
    """Every name :func:`get_evaluator` knows, sorted."""
    return sorted({*CODE_EVALUATORS, *_judge_names()})


def _parse(spec: str) -> tuple[str, dict[str, Any]]:
    """``"name"`` or ``"name(key=literal, ...)"`` -> (name, kwargs)."""
    try:
        node = ast.parse(spec.strip(), mode="eval").body
    except SyntaxError:
        raise ConfigurationError(
            f"evaluator {spec!r}: expected NAME or NAME(key=value, ...)"
        ) from None
    if isinstance(node, ast.Name):
        return node.id, {}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                break
            try:
                kwargs[kw.arg] = ast.literal_eval(kw.value)
            except ValueError:
                raise ConfigurationError(
                    f"evaluator {spec!r}: argument {kw.arg} must be a literal"
                ) from None
        else:
            return node.func.id, kwargs
    raise ConfigurationError(f"evaluator {spec!r}: expected NAME or NAME(key=value, ...)")


def get_evaluator(name: str, *, judge: Any = None) -> Evaluator:
    """The evaluator called ``name``.

    Example::

        get_evaluator("tool_call_valid")
        get_evaluator("latency_budget(max_ms=2000)")
        get_evaluator("groundedness", judge=my_judge)   # an LLM-judge template

    Parameters:
        name: a code evaluator (optionally with keyword arguments) or a judge template.
        judge: the judge client for templates (ignored by code evaluators).

    Raises:
        ConfigurationError: unknown name (the message lists the known ones) or bad arguments.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"evaluator: expected a non-empty name, got {name!r}")
    base, kwargs = _parse(name)
    factory = CODE_EVALUATORS.get(base)
    if factory is not None:
        try:
            return factory(**kwargs)
        except TypeError as exc:
            raise ConfigurationError(f"evaluator {name!r}: {exc}") from None
    if base in _judge_names():
        if kwargs:
            raise ConfigurationError(f"evaluator {name!r}: judge templates take no arguments")
        from tracejudge.evals.judge import template_evaluator

        return template_evaluator(base, judge=judge)
    raise ConfigurationError(
        f"evaluator: unknown name {base!r}; known: {', '.join(evaluator_names())}"
    )
