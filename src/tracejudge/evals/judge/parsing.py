"""The judge's verdict: its schema, the instructions that ask for it, and strict parsing.

The schema puts ``reasoning`` before ``label`` and ``score`` on purpose: a model writes
fields in order, so it reasons first and commits to a verdict after, instead of
rationalising a verdict it already gave. The same order is used in the JSON-mode
instructions and in the ``verdict`` tool's parameters.

Anything that is not a valid verdict raises :class:`InvalidVerdict`, which the client
treats like a transient error (the model is asked again) before giving up.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tracejudge.evals.base import FAIL, PASS

__all__ = [
    "JSON_INSTRUCTIONS",
    "TOOL_INSTRUCTIONS",
    "VERDICT_TOOL",
    "VERDICT_TOOL_NAME",
    "InvalidVerdict",
    "Verdict",
    "parse_json_verdict",
    "parse_verdict_arguments",
]

VERDICT_TOOL_NAME = "verdict"


class InvalidVerdict(ValueError):
    """The judge answered, but not with a valid verdict; ``raw`` is what it said."""

    def __init__(self, reason: str, raw: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


class Verdict(BaseModel):
    """One parsed verdict. Field order is the order the judge is asked to write them in."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    reasoning: str = Field(description="Step-by-step reasoning, written before the verdict.")
    label: Literal["pass", "fail"] = Field(description='"pass" or "fail".')
    score: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Confidence that the answer passes, 0 to 1 (1 = clearly passes).",
    )

    @field_validator("label", mode="before")
    @classmethod
    def _normalize_label(cls, value: Any) -> Any:
        """Models write "PASS" or " Pass " as often as "pass"; the meaning is the same."""
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def final_score(self) -> float:
        """The score, or 1.0 / 0.0 from the label when the judge gave none."""
        if self.score is not None:
            return self.score
        return 1.0 if self.label == PASS else 0.0


VERDICT_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": VERDICT_TOOL_NAME,
        "description": "Record the evaluation verdict: reasoning first, then label and score.",
        "parameters": {
            "type": "object",
            "properties": {
                "reasoning": {
                    "type": "string",
                    "description": Verdict.model_fields["reasoning"].description,
                },
                "label": {"type": "string", "enum": [PASS, FAIL]},
                "score": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "description": Verdict.model_fields["score"].description,
                },
            },
            "required": ["reasoning", "label", "score"],
            "additionalProperties": False,
        },
    },
}

_FORMAT = (
    '"reasoning" (your step-by-step reasoning, written first), then "label" ("pass" or '
    '"fail", decided only after the reasoning), then "score" (a number from 0 to 1: how '
    "confident you are that it passes)"
)
JSON_INSTRUCTIONS = (
    "Respond with a single JSON object and nothing else, with exactly these keys in this "
    f"order: {_FORMAT}."
)
TOOL_INSTRUCTIONS = (
    f"Record your verdict by calling the `{VERDICT_TOOL_NAME}` function with these "
    f"arguments in this order: {_FORMAT}."
)

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL | re.IGNORECASE)
_RAW_PREVIEW = 200


def _preview(raw: str) -> str:
    return raw if len(raw) <= _RAW_PREVIEW else raw[:_RAW_PREVIEW] + "..."


def _validate(data: Any, raw: str) -> Verdict:
    if not isinstance(data, dict):
        raise InvalidVerdict(
            f"expected a JSON object, got {type(data).__name__}: {_preview(raw)!r}", raw
        )
    try:
        return Verdict.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'verdict'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidVerdict(f"{problems} (got {_preview(raw)!r})", raw) from None


def _loads(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidVerdict(f"not valid JSON ({exc}): {_preview(raw)!r}", raw) from None


def parse_json_verdict(content: str | None) -> Verdict:
    """Parse a JSON-mode reply (a Markdown code fence around it is tolerated).

    Raises :class:`InvalidVerdict` for empty content, bad JSON or a bad verdict.
    """
    if content is None or not content.strip():
        raise InvalidVerdict("the judge returned no content", content)
    fenced = _FENCE.match(content)
    return _validate(_loads(fenced.group(1) if fenced else content), content)


def parse_verdict_arguments(name: str | None, arguments: str | None) -> Verdict:
    """Parse the arguments of a forced ``verdict`` tool call.

    Raises :class:`InvalidVerdict` when another function was called or the arguments
    are not a valid verdict.
    """
    if name != VERDICT_TOOL_NAME:
        raise InvalidVerdict(f"expected a call to {VERDICT_TOOL_NAME!r}, got {name!r}", arguments)
    if arguments is None or not arguments.strip():
        raise InvalidVerdict("the verdict call had no arguments", arguments)
    return _validate(_loads(arguments), arguments)
