"""The evaluator seam: what every evaluator (code check or LLM judge) looks like.

An evaluator declares the inputs it needs by name (``output``, ``context``, ...) and, for
each, the default attribute path it reads on a span (``output`` <- ``"output"``,
``context`` <- ``"trace.documents"``), so scoring a stored or active span needs no column
mapping. It returns an :class:`EvalResult`; it never raises for a bad verdict or an
unreachable judge — those become ``EvalResult(error=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["FAIL", "PASS", "EvalResult", "Evaluator"]

PASS = "pass"
FAIL = "fail"


@dataclass(frozen=True, slots=True)
class EvalResult:
    """One verdict. ``error`` set means no verdict could be reached (and says why)."""

    score: float | None = None
    label: str | None = None
    explanation: str | None = None
    error: str | None = None
    # Filled in by whoever ran the evaluator (judge model, timing), not by the evaluator's logic.
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        """True/False for pass/fail labels, None when there is no verdict."""
        if self.error is not None or self.label is None:
            return None
        return self.label == PASS


@runtime_checkable
class Evaluator(Protocol):
    """Scores one set of inputs.

    ``inputs`` maps each input name the evaluator reads to its default attribute path;
    names in ``required`` must be present (a missing one is an ``EvalResult(error=...)``,
    not an exception). ``evaluate`` may block (an LLM call); ``aevaluate`` is its
    asyncio twin. Neither raises for evaluation failures.
    """

    name: str
    version: str
    inputs: Mapping[str, str]
    required: frozenset[str]

    def evaluate(self, inputs: Mapping[str, Any]) -> EvalResult: ...

    async def aevaluate(self, inputs: Mapping[str, Any]) -> EvalResult: ...
