"""Eval-task definitions and records: what a task scores, how, and what happened to each span.

A :class:`TaskSpec` is the user's definition (from Python, a YAML file or the CLI). It is
checked by :meth:`TaskSpec.validate` before anything is stored — the filter is compiled,
every evaluator is looked up and every input path parsed — so a bad task is rejected at
create time with a message naming the field, never discovered by the runner later.

Example::

    spec = TaskSpec.from_dict({
        "name": "groundedness-llm", "project": "shop",
        "filter": 'kind == "LLM"', "sample": 0.1, "max_spans": 1000,
        "evaluators": ["latency_budget(max_ms=2000)",
                       {"name": "groundedness", "map": {"context": "trace.documents"}}],
    })
    spec.validate()

The stored records (:class:`EvalTask`, :class:`SpanOutcome`, :class:`TaskStatus`) are
frozen dataclasses returned by :class:`tracejudge.store.tasks.SQLiteTaskStore`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, get_args

from tracejudge.errors import ConfigurationError, PathError

__all__ = [
    "EvalTask",
    "EvaluatorSpec",
    "EvaluatorSummary",
    "JudgeSettings",
    "Outcome",
    "SpanOutcome",
    "TaskMode",
    "TaskSpec",
    "TaskState",
    "TaskStatus",
    "TaskTarget",
    "format_time_ns",
    "parse_time_ns",
]

TaskMode = Literal["historic", "continuous"]
TaskTarget = Literal["span", "trace"]
TaskState = Literal["active", "paused", "done", "deleted"]
_MODES: tuple[str, ...] = get_args(TaskMode)
_TARGETS: tuple[str, ...] = get_args(TaskTarget)
STATES: tuple[str, ...] = get_args(TaskState)


class Outcome(StrEnum):
    """What happened to one (span, evaluator) a task considered."""

    SCORED = "scored"  # an evaluation was written with a verdict
    FILTERED = "filtered"  # the span did not match the task's filter
    SAMPLED_OUT = "sampled_out"  # the deterministic sample left it out
    OVER_LIMIT = "over_limit"  # max_spans was already reached
    FAILED = "failed"  # no verdict and no retry left (error kept; an error evaluation written)
    RETRYING = "retrying"  # no verdict yet; retried after next_attempt_at (attempts < max)


# --- time values ------------------------------------------------------------------------
def parse_time_ns(value: Any, argument: str) -> int | None:
    """``None``, an int of ns since the epoch, or an ISO-8601 string (naive means UTC)."""
    if value is None:
        return None
    if type(value) is int:
        return value
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigurationError(
                f"{argument}: expected ISO-8601 (2026-11-01T00:00:00Z) or int ns, got {value!r}"
            ) from None
    else:
        raise ConfigurationError(f"{argument}: expected ISO-8601 text or int ns, got {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def format_time_ns(ns: int) -> str | int:
    """ISO-8601 UTC text for ``ns`` when that is exact (whole microseconds), else the int."""
    if ns % 1000:
        return ns
    seconds, micros = divmod(ns // 1000, 1_000_000)
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)
    return moment.isoformat().replace("+00:00", "Z")


# --- the definition -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EvaluatorSpec:
    """One evaluator of a task and where each of its inputs is read.

    ``name`` is a registry spec (``"groundedness"``, ``"latency_budget(max_ms=2000)"``);
    ``inputs`` maps evaluator inputs to attribute paths (``{"context": "trace.documents"}``),
    overriding the evaluator's defaults. ``name`` is also the outcome key, so it is unique
    within a task.
    """

    name: str
    inputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> str | dict[str, Any]:
        """The bare name when there is no mapping, else ``{"name": ..., "map": {...}}``."""
        if not self.inputs:
            return self.name
        return {"name": self.name, "map": dict(self.inputs)}

    @classmethod
    def from_value(cls, value: Any, where: str) -> EvaluatorSpec:
        """From a name, a mapping ``{name, map|inputs}`` or an EvaluatorSpec."""
        if isinstance(value, EvaluatorSpec):
            return value
        if isinstance(value, str):
            return cls(value)
        if not isinstance(value, Mapping):
            raise ConfigurationError(f"{where}: expected a name or a mapping, got {value!r}")
        if unknown := sorted(set(value) - {"name", "map", "inputs"}):
            raise ConfigurationError(
                f"{where}: unknown key(s) {', '.join(map(str, unknown))}; known: name, map"
            )
        if "map" in value and "inputs" in value:
            raise ConfigurationError(f"{where}: give map or inputs, not both")
        mapping = value.get("map", value.get("inputs")) or {}
        if not isinstance(mapping, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            raise ConfigurationError(f"{where}.map: expected input: path text pairs")
        return cls(value.get("name"), dict(mapping))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class JudgeSettings:
    """The judge endpoint of a task's LLM evaluators: names and settings only, never a secret.

    ``api_key_env`` names the environment variable holding the key (read by the runner);
    unset fields fall back to the judge's own environment defaults.
    """

    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    concurrency: int = 8
    timeout_s: float = 30.0

    def to_dict(self) -> dict[str, Any]:
        """Only the fields that differ from the defaults."""
        default = JudgeSettings()
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        }


_JUDGE_KEYS = tuple(f.name for f in dataclasses.fields(JudgeSettings))
# from_dict keys -> TaskSpec fields, for keys spelled differently in YAML.
_ALIASES = {"start": "start_ns", "end": "end_ns"}


def _type_error(argument: str, expected: str, value: Any) -> ConfigurationError:
    return ConfigurationError(f"{argument}: expected {expected}, got {value!r}")


def _check_number(
    value: Any, argument: str, *, low: float, high: float | None = None, low_ok: bool = False
) -> None:
    """``low < value (<= high)`` (``low <= value`` with ``low_ok``), a real int/float."""
    ok = type(value) in (int, float) and math.isfinite(value)
    ok = ok and (value >= low if low_ok else value > low)
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bound = (">= " if low_ok else "> ") + f"{low:g}"
        bound += f" and <= {high:g}" if high is not None else ""
        raise _type_error(argument, f"a number {bound}", value)


def _check_positive_int(value: Any, argument: str) -> None:
    if type(value) is not int or value < 1:
        raise _type_error(argument, "an int >= 1", value)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """An eval task's definition; see the module docstring for an example.

    Fields:
        name, project: the task's name (unique per project) and the project it scores.
        evaluators: what to run on each admitted span.
        filter: a span filter (:mod:`tracejudge.query.filter`); None scores every span.
        target: ``"span"`` scores each matching span; ``"trace"`` scores a trace's root
            span once no new span of the trace arrived for ``trace_idle_s`` seconds (at
            most 10 minutes, or 10 idle times, after the root arrived: a trace that keeps
            growing does not hold back the ones behind it).
        mode: ``"historic"`` runs once over spans stored when the task was created with
            ``start_ns <= span.start_ns < end_ns`` (either bound optional), then is done;
            ``"continuous"`` follows newly ingested spans forever.
        sample: fraction of matching spans scored, chosen by a hash of the span id (so
            re-runs and other tasks with the same rate pick the same spans).
        max_spans: most spans admitted (over the task's lifetime); the rest are over_limit.
        rate_per_s: cap on evaluations per second.
        concurrency: evaluations in flight at once; max_attempts: tries per failing span.
        judge: endpoint settings for LLM-judge evaluators.
    """

    name: str
    project: str
    evaluators: tuple[EvaluatorSpec, ...]
    filter: str | None = None
    target: TaskTarget = "span"
    trace_idle_s: float = 30.0
    mode: TaskMode = "continuous"
    start_ns: int | None = None
    end_ns: int | None = None
    sample: float = 1.0
    max_spans: int | None = None
    rate_per_s: float | None = None
    concurrency: int = 8
    max_attempts: int = 3
    judge: JudgeSettings = field(default_factory=JudgeSettings)

    def __post_init__(self) -> None:
        # Friendly construction in Python: evaluators as a list of names or mappings, a
        # single name, or judge settings as a mapping (validate() checks the rest).
        evaluators: Any = self.evaluators
        if isinstance(evaluators, str | EvaluatorSpec | Mapping):
            evaluators = [evaluators]
        if isinstance(evaluators, list | tuple) and not all(
            isinstance(ev, EvaluatorSpec) for ev in evaluators
        ):
            evaluators = [
                EvaluatorSpec.from_value(ev, f"evaluators[{i}]") for i, ev in enumerate(evaluators)
            ]
        if isinstance(evaluators, list) or evaluators is not self.evaluators:
            object.__setattr__(self, "evaluators", tuple(evaluators))
        if isinstance(self.judge, Mapping):
            if bad := sorted(set(map(str, self.judge)) - set(_JUDGE_KEYS)):
                raise ConfigurationError(
                    f"judge: unknown key(s) {', '.join(bad)}; known: {', '.join(_JUDGE_KEYS)}"
                )
            object.__setattr__(self, "judge", JudgeSettings(**self.judge))

    # -- checks ----------------------------------------------------------------------------
    def validate(self) -> None:
        """Check every field, compile the filter, resolve every evaluator and input path.

        Raises:
            ConfigurationError: a bad field (the message names it), an unknown evaluator or
                input, a malformed path.
            FilterSyntaxError: the filter is outside the language (with its position).
        """
        for argument in ("name", "project"):
            value = getattr(self, argument)
            if not isinstance(value, str) or not value.strip():
                raise _type_error(argument, "a non-empty string", value)
        if self.mode not in _MODES:
            raise _type_error("mode", f"one of {', '.join(_MODES)}", self.mode)
        if self.target not in _TARGETS:
            raise _type_error("target", f"one of {', '.join(_TARGETS)}", self.target)
        _check_number(self.trace_idle_s, "trace_idle_s", low=0.0, low_ok=True)
        _check_number(self.sample, "sample", low=0.0, high=1.0, low_ok=True)
        for argument in ("start_ns", "end_ns"):
            value = getattr(self, argument)
            if value is not None and type(value) is not int:
                raise _type_error(argument, "an int (ns since the epoch) or None", value)
        if self.mode == "continuous" and (self.start_ns is not None or self.end_ns is not None):
            raise ConfigurationError(
                "start/end: a time range only applies to mode historic (continuous tasks "
                "follow new spans)"
            )
        if self.start_ns is not None and self.end_ns is not None and self.start_ns >= self.end_ns:
            raise ConfigurationError(
                f"start/end: start ({format_time_ns(self.start_ns)}) must be before end "
                f"({format_time_ns(self.end_ns)})"
            )
        if self.max_spans is not None:
            _check_positive_int(self.max_spans, "max_spans")
        if self.rate_per_s is not None:
            _check_number(self.rate_per_s, "rate_per_s", low=0.0)
        _check_positive_int(self.concurrency, "concurrency")
        _check_positive_int(self.max_attempts, "max_attempts")
        self._validate_judge()
        if self.filter is not None:
            if not isinstance(self.filter, str):
                raise _type_error("filter", "filter text or None", self.filter)
            from tracejudge.query.filter import compile_filter

            compile_filter(self.filter)
        self._validate_evaluators()

    def _validate_judge(self) -> None:
        judge = self.judge
        if not isinstance(judge, JudgeSettings):
            raise _type_error("judge", "JudgeSettings", judge)
        for argument in ("model", "base_url", "api_key_env"):
            value = getattr(judge, argument)
            if value is not None and (not isinstance(value, str) or not value):
                raise _type_error(f"judge.{argument}", "a non-empty string or None", value)
        _check_positive_int(judge.concurrency, "judge.concurrency")
        _check_number(judge.timeout_s, "judge.timeout_s", low=0.0)

    def _validate_evaluators(self) -> None:
        from tracejudge.evals.registry import get_evaluator
        from tracejudge.query.paths import compile_path

        if not isinstance(self.evaluators, tuple) or not self.evaluators:
            raise ConfigurationError("evaluators: a task needs at least one evaluator")
        seen: set[str] = set()
        for i, ev in enumerate(self.evaluators):
            where = f"evaluators[{i}]"
            if not isinstance(ev, EvaluatorSpec):
                raise _type_error(where, "an EvaluatorSpec", ev)
            if not isinstance(ev.name, str) or not ev.name.strip():
                raise _type_error(f"{where}.name", "a non-empty evaluator name", ev.name)
            if ev.name in seen:
                raise ConfigurationError(f"{where}: evaluator {ev.name!r} is listed twice")
            seen.add(ev.name)
            try:
                # Judge templates get a judge that is never called here (no network).
                evaluator = get_evaluator(ev.name)
            except ConfigurationError as exc:
                raise ConfigurationError(f"{where}: {exc}") from None
            if unknown := sorted(set(ev.inputs) - set(evaluator.inputs)):
                raise ConfigurationError(
                    f"{where}.map: {ev.name} has no input(s) {', '.join(unknown)}; "
                    f"its inputs: {', '.join(evaluator.inputs) or '(none)'}"
                )
            for input_name, path in ev.inputs.items():
                try:
                    compile_path(path)
                except PathError as exc:
                    raise ConfigurationError(f"{where}.map.{input_name}: {exc}") from None

    # -- YAML/JSON shape -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A YAML/JSON-friendly dict that :meth:`from_dict` turns back into an equal spec.

        Defaults are left out; ``start``/``end`` are ISO-8601 UTC text when exact.
        """
        default = _DEFAULTS
        out: dict[str, Any] = {"name": self.name, "project": self.project}
        for f in dataclasses.fields(self):
            if f.name in ("name", "project", "evaluators", "judge", "start_ns", "end_ns"):
                continue
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                out[f.name] = value
        for key, ns in (("start", self.start_ns), ("end", self.end_ns)):
            if ns is not None:
                out[key] = format_time_ns(ns)
        out["evaluators"] = [ev.to_dict() for ev in self.evaluators]
        if judge := self.judge.to_dict():
            out["judge"] = judge
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskSpec:
        """Build a spec from the YAML/JSON shape (see the module docstring); not validated.

        ``start``/``end`` (or ``start_ns``/``end_ns``) take ISO-8601 text or int ns;
        ``evaluators`` entries are names or ``{name, map}`` mappings (a single string is
        one evaluator); ``judge`` is a mapping of :class:`JudgeSettings` fields.

        Raises:
            ConfigurationError: not a mapping, unknown keys (named), a missing name,
                project or evaluators, or a malformed time or evaluator entry.
        """
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"task: expected a mapping, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        unknown: list[str] = []
        for key, value in data.items():
            target = _ALIASES.get(key, key)
            if target not in names:
                unknown.append(str(key))
            elif target in values:
                raise ConfigurationError(f"task: {key} given twice (as {target} and {key})")
            else:
                values[target] = value
        if unknown:
            raise ConfigurationError(
                f"task: unknown key(s) {', '.join(sorted(unknown))}; known: "
                f"{', '.join(sorted(names - set(_ALIASES.values()) | set(_ALIASES)))}"
            )
        for required in ("name", "project", "evaluators"):
            if values.get(required) in (None, "", [], ()):
                raise ConfigurationError(f"task: {required} is required")
        for key in ("start_ns", "end_ns"):
            if key in values:
                values[key] = parse_time_ns(values[key], key.removesuffix("_ns"))
        evaluators = values["evaluators"]
        if isinstance(evaluators, str | Mapping | EvaluatorSpec):
            evaluators = [evaluators]
        if not isinstance(evaluators, list | tuple):
            raise _type_error("evaluators", "a list of names or mappings", evaluators)
        values["evaluators"] = tuple(
            EvaluatorSpec.from_value(ev, f"evaluators[{i}]") for i, ev in enumerate(evaluators)
        )
        judge = values.get("judge")
        if judge is None:
            values.pop("judge", None)
        elif not isinstance(judge, JudgeSettings | Mapping):
            raise _type_error("judge", "a mapping of judge settings", judge)
        return cls(**values)

    def evaluator(self, name: str) -> EvaluatorSpec:
        """The evaluator spec called ``name`` (KeyError if none)."""
        for ev in self.evaluators:
            if ev.name == name:
                return ev
        raise KeyError(name)


_DEFAULTS = TaskSpec(name="-", project="-", evaluators=())


# --- stored records ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EvalTask:
    """A stored task: its current definition (``version`` counts updates) and state."""

    id: str
    version: int
    spec: TaskSpec
    state: TaskState
    created_at_ns: int
    updated_at_ns: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def project(self) -> str:
        return self.spec.project


@dataclass(frozen=True, slots=True)
class SpanOutcome:
    """What a task did with one (span, evaluator): the run log row."""

    task_id: str
    span_id: str
    trace_id: str
    evaluator: str  # the EvaluatorSpec name
    outcome: str  # an Outcome value
    attempts: int
    error: str | None
    evaluation_id: str | None
    updated_at_ns: int
    next_attempt_at_ns: int | None = None  # set while retrying


@dataclass(frozen=True, slots=True)
class EvaluatorSummary:
    """One evaluator's results in a task: verdicts (pass/fail) and errors."""

    name: str
    scored: int
    passed: int
    failed: int
    errors: int  # outcomes "failed": no verdict after every attempt
    pass_rate: float | None  # passed / (passed + failed); None before any verdict


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """A task's run log summary: counts per outcome, pass rates, judge cost, progress."""

    task: EvalTask
    counts: dict[str, int]  # Outcome value -> number of (span, evaluator) outcomes
    evaluators: tuple[EvaluatorSummary, ...]
    judge_prompt_tokens: int
    judge_completion_tokens: int
    judge_calls: int
    last_error: str | None
    cursor: int  # last ingest_seq considered
    total: int | None  # historic: spans in range of the project; continuous: None
    considered: int  # spans considered so far
    lag_s: float | None  # continuous: now - ingested_at of the oldest unconsidered span

    @property
    def progress(self) -> float | None:
        """considered / total for historic tasks (1.0 for an empty range); else None."""
        if self.total is None:
            return None
        if self.total == 0:
            return 1.0
        return min(1.0, self.considered / self.total)
