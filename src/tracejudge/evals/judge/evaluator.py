"""``LLMJudgeEvaluator``: a template plus a judge, behind the Evaluator protocol.

It renders the template with the inputs, asks the judge (which traces the call as an
EVALUATOR span), and turns the outcome into an :class:`~tracejudge.evals.base.EvalResult`:
a verdict (label, score, the judge's reasoning as the explanation) or ``error``. It never
raises for a missing input, an unreachable judge or a bad verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracejudge.evals.base import EvalResult
from tracejudge.evals.judge.builtins import builtin_template
from tracejudge.evals.judge.client import Judge, JudgeOutcome
from tracejudge.evals.judge.templates import Template, TemplateInputError, render_system

__all__ = ["LLMJudgeEvaluator", "template_evaluator"]


class LLMJudgeEvaluator:
    """Scores inputs with an LLM judge following ``template``.

    Example::

        evaluator = LLMJudgeEvaluator(builtin_template("groundedness"), Judge(model="gpt-4o"))
        result = evaluator.evaluate({"output": answer, "context": documents})
        result.label, result.score, result.explanation, result.metadata["judge_model"]

    Parameters:
        template: what to ask (a :class:`Template`, e.g. a built-in).
        judge: where to ask it; default ``Judge()`` configured from the environment.

    ``name``, ``version``, ``inputs`` and ``required`` come from the template.
    """

    def __init__(self, template: Template, judge: Judge | None = None) -> None:
        self.template = template
        self.judge = judge if judge is not None else Judge()
        self.name: str = template.name
        self.version: str = template.version
        self.inputs: Mapping[str, str] = template.inputs
        self.required: frozenset[str] = template.required_inputs
        # The same for every evaluation (the template is immutable): rendered once.
        self._system = render_system(template, self.judge.response_format)

    def __repr__(self) -> str:
        return f"LLMJudgeEvaluator({self.name}@{self.version}, {self.judge!r})"

    def _messages(self, inputs: Mapping[str, Any]) -> list[dict[str, str]] | EvalResult:
        """The chat messages, or the error result when the inputs cannot fill the template."""
        try:
            prompt = self.template.render_prompt(inputs)
        except TemplateInputError as exc:
            return EvalResult(error=str(exc), metadata={"judge_model": self.judge.model})
        return [{"role": "system", "content": self._system}, {"role": "user", "content": prompt}]

    @staticmethod
    def _result(outcome: JudgeOutcome) -> EvalResult:
        verdict = outcome.verdict
        if verdict is None:
            return EvalResult(error=outcome.error, metadata=outcome.metadata())
        return EvalResult(
            score=verdict.final_score,
            label=verdict.label,
            explanation=verdict.reasoning,
            metadata=outcome.metadata(),
        )

    def evaluate(self, inputs: Mapping[str, Any]) -> EvalResult:
        """Judge ``inputs``; blocks for the judge call (retries included). Never raises."""
        messages = self._messages(inputs)
        if isinstance(messages, EvalResult):
            return messages
        return self._result(self.judge.complete(messages, name=self.name, version=self.version))

    async def aevaluate(self, inputs: Mapping[str, Any]) -> EvalResult:
        """Async twin of :meth:`evaluate`."""
        messages = self._messages(inputs)
        if isinstance(messages, EvalResult):
            return messages
        outcome = await self.judge.acomplete(messages, name=self.name, version=self.version)
        return self._result(outcome)


def template_evaluator(name: str, *, judge: Judge | None = None) -> LLMJudgeEvaluator:
    """The evaluator for built-in template ``name`` (see ``builtin_template_names()``).

    Raises:
        ConfigurationError: no built-in template has that name.
    """
    return LLMJudgeEvaluator(builtin_template(name), judge)
