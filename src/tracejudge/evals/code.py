"""Code evaluators: deterministic checks, no LLM.

Each factory returns an :class:`~tracejudge.evals.base.Evaluator` built with
:func:`~tracejudge.evals.decorator.evaluator`, so they all share its input handling and
error capture. Every check answers ``pass``/``fail`` (score 1.0/0.0) with an explanation,
except where noted. Default input paths:

=================  ==========================================================
input              default path
=================  ==========================================================
``output``         ``output`` (the span's output)
``reference``      ``metadata.reference`` (used when no value is configured)
``latency_ms``     ``latency_ms``
``*_tokens``       ``prompt_tokens`` / ``completion_tokens`` / ``total_tokens``
``tool_calls``     ``tool_calls`` (the LLM span's requested calls, or the call a
                   TOOL span ran)
``tools``          ``trace.tools`` (tools declared on the trace's LLM spans)
=================  ==========================================================

Example::

    from tracejudge.evals.code import contains, length_bounds

    contains("refund").evaluate({"output": "Your refund is on its way"}).label  # "pass"
    length_bounds(min=10, max=2000)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from tracejudge.errors import ConfigurationError
from tracejudge.evals.base import FAIL, PASS, EvalResult, Evaluator
from tracejudge.evals.decorator import DEFAULT_PATHS, evaluator

if TYPE_CHECKING:  # jsonschema is imported on first use: ``import tracejudge`` stays light
    from jsonschema.protocols import Validator  # type: ignore[import-untyped]

__all__ = [
    "REFUSAL_PATTERNS",
    "contains",
    "exact_match",
    "json_schema",
    "json_valid",
    "latency_budget",
    "length_bounds",
    "refusal",
    "regex_match",
    "token_budget",
    "tool_call_valid",
    "verdict",
]

_OUT = {"output": DEFAULT_PATHS["output"]}
_OUT_REF = {**_OUT, "reference": DEFAULT_PATHS["reference"]}

REFUSAL_PATTERNS: tuple[str, ...] = (
    r"\bI(?:'m| am) (?:sorry|afraid)\b[^.]*\b(?:can(?:'|no)?t|cannot|unable|not able|won't)\b",
    r"\bI (?:can(?:'|no)?t|cannot|won't|will not) (?:help|assist|provide|share|do|answer|comply)",
    r"\bI(?:'m| am) (?:unable|not able|not allowed|not permitted) to\b",
    r"\b(?:I must|I have to) (?:decline|refuse)\b",
    r"\bas an AI(?: language model)?\b",
    r"\bI'd rather not\b",
)
"""Default refusal phrasings (case-insensitive regular expressions)."""


def verdict(ok: bool, explanation: str | None = None) -> EvalResult:
    """``pass``/``fail`` with score 1.0/0.0."""
    return EvalResult(score=1.0 if ok else 0.0, label=PASS if ok else FAIL, explanation=explanation)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _reference_inputs(configured: Any) -> tuple[dict[str, str], set[str]]:
    """Inputs and required names: ``reference`` is read only when no value is configured."""
    if configured is None:
        return dict(_OUT_REF), {"output", "reference"}
    return dict(_OUT), {"output"}


def exact_match(
    expected: str | None = None, *, case_sensitive: bool = True, strip: bool = True
) -> Evaluator:
    """``output`` equals ``expected`` (or the ``reference`` input when not given)."""
    inputs, required = _reference_inputs(expected)

    def norm(value: Any) -> str:
        text = _as_text(value)
        text = text.strip() if strip else text
        return text if case_sensitive else text.casefold()

    @evaluator(name="exact_match", inputs=inputs, required=required)
    def check(output: Any, reference: Any = None) -> EvalResult:
        want = expected if expected is not None else reference
        ok = norm(output) == norm(want)
        return verdict(ok, None if ok else f"expected {_short(_as_text(want))}")

    return check


def contains(
    value: str | Sequence[str] | None = None, *, case_sensitive: bool = False
) -> Evaluator:
    """``output`` contains ``value`` (every one, if a list), or the ``reference`` input."""
    inputs, required = _reference_inputs(value)

    @evaluator(name="contains", inputs=inputs, required=required)
    def check(output: Any, reference: Any = None) -> EvalResult:
        wanted = value if value is not None else reference
        needles = [wanted] if isinstance(wanted, str) else [_as_text(w) for w in wanted]
        hay = _as_text(output)
        if not case_sensitive:
            hay = hay.casefold()
        missing = [n for n in needles if (n if case_sensitive else n.casefold()) not in hay]
        ok = not missing
        return verdict(ok, None if ok else f"missing {', '.join(_short(m) for m in missing)}")

    return check


def regex_match(pattern: str | None = None, *, flags: int = 0, full: bool = False) -> Evaluator:
    """``output`` matches ``pattern`` (``re.search``; ``full=True``: ``re.fullmatch``).

    Without ``pattern`` the ``reference`` input is the pattern.

    Raises:
        ConfigurationError: ``pattern`` is not a valid regular expression.
    """
    compiled = None
    if pattern is not None:
        try:
            compiled = re.compile(pattern, flags)
        except re.error as exc:
            raise ConfigurationError(f"pattern: invalid regular expression: {exc}") from None
    inputs, required = _reference_inputs(pattern)

    @evaluator(name="regex_match", inputs=inputs, required=required)
    def check(output: Any, reference: Any = None) -> EvalResult:
        rx = compiled if compiled is not None else re.compile(str(reference), flags)
        text = _as_text(output)
        m = rx.fullmatch(text) if full else rx.search(text)
        if m is None:
            return verdict(False, f"no match for /{rx.pattern}/")
        return verdict(True, f"matched {_short(m.group(0))}")

    return check


def _loads(output: Any) -> tuple[Any, str | None]:
    """``output`` parsed as JSON (strings); structured values as is. ``(value, error)``."""
    if not isinstance(output, str | bytes):
        return output, None
    try:
        return orjson.loads(output), None
    except orjson.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc}"


def json_valid() -> Evaluator:
    """``output`` is valid JSON."""

    @evaluator(name="json_valid", inputs=_OUT)
    def check(output: Any) -> EvalResult:
        _, error = _loads(output)
        return verdict(error is None, error)

    return check


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Validator:
    import jsonschema  # type: ignore[import-untyped]

    schema = orjson.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _schema_validator(schema: Any, what: str) -> Validator:
    """A cached validator for ``schema``; ConfigurationError naming ``what`` if invalid."""
    import jsonschema

    try:
        return _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS).decode())
    except (jsonschema.SchemaError, TypeError, orjson.JSONEncodeError) as exc:
        message = getattr(exc, "message", str(exc))
        raise ConfigurationError(f"{what}: not a valid JSON schema: {message}") from None


def _schema_errors(validator: Validator, value: Any) -> str | None:
    """The first validation error as ``at <path>: message``, or None."""
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"at {where}: {error.message}"


def json_schema(schema: Mapping[str, Any]) -> Evaluator:
    """``output`` is JSON conforming to ``schema`` (any draft ``jsonschema`` supports).

    Raises:
        ConfigurationError: ``schema`` is not a valid JSON schema.
    """
    validator = _schema_validator(schema, "schema")

    @evaluator(name="json_schema", inputs=_OUT)
    def check(output: Any) -> EvalResult:
        value, error = _loads(output)
        if error is None:
            error = _schema_errors(validator, value)
        return verdict(error is None, error)

    return check


def length_bounds(
    min: int | None = None, max: int | None = None, *, unit: str = "chars"
) -> Evaluator:
    """``min <= len(output) <= max`` in characters or words (``unit="words"``); the
    explanation gives the measured length.

    Raises:
        ConfigurationError: neither bound given, a negative bound, min > max, bad unit.
    """
    if min is None and max is None:
        raise ConfigurationError("length_bounds: give min, max or both")
    if unit not in ("chars", "words"):
        raise ConfigurationError(f"unit: expected 'chars' or 'words', got {unit!r}")
    for label, bound in (("min", min), ("max", max)):
        if bound is not None and (not isinstance(bound, int) or bound < 0):
            raise ConfigurationError(f"{label}: expected a non-negative integer, got {bound!r}")
    if min is not None and max is not None and min > max:
        raise ConfigurationError(f"min ({min}) is greater than max ({max})")

    @evaluator(name="length_bounds", inputs=_OUT)
    def check(output: Any) -> EvalResult:
        text = _as_text(output)
        n = len(text.split()) if unit == "words" else len(text)
        ok = (min is None or n >= min) and (max is None or n <= max)
        bounds = f"[{'' if min is None else min}, {'' if max is None else max}]"
        return verdict(ok, f"{n} {unit}, bounds {bounds}")

    return check


def _budget(value: Any, limit: float, name: str) -> EvalResult:
    number = float(value)
    ok = number <= limit
    return verdict(ok, f"{name} {number:g} {'<=' if ok else '>'} budget {limit:g}")


def latency_budget(max_ms: float) -> Evaluator:
    """The span's ``latency_ms`` is at most ``max_ms``."""
    if not isinstance(max_ms, int | float) or max_ms <= 0:
        raise ConfigurationError(f"max_ms: expected a positive number, got {max_ms!r}")

    @evaluator(name="latency_budget", inputs={"latency_ms": DEFAULT_PATHS["latency_ms"]})
    def check(latency_ms: Any) -> EvalResult:
        return _budget(latency_ms, max_ms, "latency_ms")

    return check


def token_budget(max_tokens: int, *, which: str = "total") -> Evaluator:
    """``which`` (``total``, ``prompt`` or ``completion``) tokens are at most ``max_tokens``."""
    if which not in ("total", "prompt", "completion"):
        raise ConfigurationError(f"which: expected total, prompt or completion, got {which!r}")
    if not isinstance(max_tokens, int) or max_tokens <= 0:
        raise ConfigurationError(f"max_tokens: expected a positive integer, got {max_tokens!r}")
    key = f"{which}_tokens"

    @evaluator(name="token_budget", inputs={key: DEFAULT_PATHS[key]}, required={key})
    def check(**tokens: Any) -> EvalResult:
        return _budget(tokens[key], max_tokens, key)

    return check


def _arguments(call: Mapping[str, Any]) -> tuple[Any, str | None]:
    args = call.get("arguments")
    if args is None:
        return {}, None
    if isinstance(args, str):
        return _loads(args)
    return args, None


def tool_call_valid() -> Evaluator:
    """Every tool call names a declared tool and its arguments validate against that
    tool's JSON schema. Reads ``tool_calls`` (``[{name, arguments}]``) and ``tools``
    (``[{name, parameters}]``). No tool calls is a pass."""

    @evaluator(
        name="tool_call_valid",
        inputs={"tool_calls": DEFAULT_PATHS["tool_calls"], "tools": DEFAULT_PATHS["tools"]},
        required={"tool_calls"},
    )
    def check(tool_calls: Any, tools: Any = ()) -> EvalResult:
        calls = [tool_calls] if isinstance(tool_calls, Mapping) else list(tool_calls)
        if not calls:
            return verdict(True, "no tool calls")
        declared = {t.get("name"): t for t in tools or () if isinstance(t, Mapping)}
        problems = []
        for call in calls:
            name = call.get("name") if isinstance(call, Mapping) else None
            tool = declared.get(name)
            if tool is None:
                known = ", ".join(sorted(str(n) for n in declared)) or "none"
                problems.append(f"{name!r} is not a declared tool (declared: {known})")
                continue
            args, error = _arguments(call)
            if error is None and tool.get("parameters"):
                validator = _schema_validator(tool["parameters"], f"tool {name!r} parameters")
                error = _schema_errors(validator, args)
            if error is not None:
                problems.append(f"{name}: arguments {error}")
        if problems:
            return verdict(False, "; ".join(problems))
        return verdict(True, f"{len(calls)} tool call(s) valid")

    return check


def refusal(
    *, expect_refusal: bool = False, patterns: Sequence[str] = REFUSAL_PATTERNS
) -> Evaluator:
    """Detects a refusal in ``output`` by pattern; ``pass`` when what happened is what was
    expected (by default: no refusal). ``metadata["refused"]`` says which it was."""
    try:
        rx = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    except re.error as exc:
        raise ConfigurationError(f"patterns: invalid regular expression: {exc}") from None

    @evaluator(name="refusal", inputs=_OUT)
    def check(output: Any) -> EvalResult:
        m = rx.search(_as_text(output))
        refused = m is not None
        said = f"refusal detected ({_short(m.group(0))})" if m else "no refusal detected"
        result = verdict(refused == expect_refusal, said)
        return EvalResult(
            score=result.score,
            label=result.label,
            explanation=result.explanation,
            metadata={"refused": refused},
        )

    return check
