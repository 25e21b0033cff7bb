"""Pydantic shapes of ``/api/v1/tasks`` (eval tasks), split by purpose like ``schemas.py``.

``TaskCreate`` is the body of ``POST /tasks`` (the same fields as a task YAML file);
it checks types and ranges for the OpenAPI schema, then ``TaskSpec.from_dict`` and
``TaskSpec.validate`` check the meaning (evaluator names, input paths, the filter) before
anything is stored. The ``*Public`` shapes mirror :mod:`tracejudge.remote_tasks`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "EvaluatorIn",
    "EvaluatorSummaryPublic",
    "JudgeIn",
    "OutcomePublic",
    "OutcomesPublic",
    "TaskApplyPublic",
    "TaskCreate",
    "TaskPublic",
    "TaskSpecPublic",
    "TaskStatusPublic",
    "TasksPublic",
]

_INT64_MAX = 2**63 - 1
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


class EvaluatorIn(BaseModel):
    """One evaluator of a task and, per input, the attribute path it reads."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=500,
        description="registry name, e.g. 'groundedness' or 'latency_budget(max_ms=2000)'",
    )
    map: dict[str, str] = Field(
        default_factory=dict,
        description="input -> attribute path, e.g. {'context': 'trace.documents'}",
    )


class JudgeIn(BaseModel):
    """LLM-judge settings of a task: names only; the key is read from ``api_key_env``."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, min_length=1, max_length=200)
    base_url: str | None = Field(default=None, min_length=1, max_length=2000)
    api_key_env: str | None = Field(
        default=None, pattern=_ENV_NAME, description="environment variable holding the key"
    )
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    timeout_s: float | None = Field(default=None, gt=0, le=3600)


class TaskCreate(BaseModel):
    """A task definition (the fields of a task YAML file)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    project: str | None = Field(
        default=None, min_length=1, description="defaults to the API key's project"
    )
    evaluators: list[Annotated[str, Field(min_length=1, max_length=500)] | EvaluatorIn] = Field(
        min_length=1, max_length=50, description="names, or {name, map} objects"
    )
    filter: str | None = Field(
        default=None,
        max_length=10_000,
        description='span filter, e.g. kind == "LLM" and not has_eval("groundedness")',
    )
    target: Literal["span", "trace"] | None = None
    trace_idle_s: float | None = Field(default=None, gt=0, le=86_400)
    mode: Literal["historic", "continuous"] | None = None
    start: int | str | None = Field(
        default=None, description="historic range start: ISO-8601 or epoch ns"
    )
    end: int | str | None = Field(default=None, description="historic range end (exclusive)")
    sample: float | None = Field(default=None, ge=0, le=1)
    max_spans: int | None = Field(default=None, ge=1)
    rate_per_s: float | None = Field(default=None, gt=0)
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    judge: JudgeIn | None = None

    def to_spec_dict(self, project: str) -> dict[str, Any]:
        """The ``TaskSpec.from_dict`` input: unset fields left out, ``project`` filled in.

        Raises ValueError for an integer outside SQLite's range (not a schema bound: JSON
        numbers that large cannot be told apart from the bound itself).
        """
        data = self.model_dump(exclude_none=True)
        for key in ("max_spans", "start", "end"):
            value = data.get(key)
            if isinstance(value, int) and not -_INT64_MAX <= value <= _INT64_MAX:
                raise ValueError(f"{key}: {value} is out of range (|value| < 2**63)")
        data["project"] = project
        data["evaluators"] = [
            e if isinstance(e, str) else e.model_dump(exclude_defaults=True)
            for e in self.evaluators
        ]
        return data


class EvaluatorSpecPublic(BaseModel):
    name: str
    map: dict[str, str]


class JudgePublic(BaseModel):
    model: str | None
    base_url: str | None
    api_key_env: str | None
    concurrency: int
    timeout_s: float


class TaskSpecPublic(BaseModel):
    """A stored task definition, every field filled in."""

    name: str
    project: str
    evaluators: list[EvaluatorSpecPublic]
    filter: str | None
    target: str
    trace_idle_s: float
    mode: str
    start_ns: int | None
    end_ns: int | None
    sample: float
    max_spans: int | None
    rate_per_s: float | None
    concurrency: int
    max_attempts: int
    judge: JudgePublic


class TaskPublic(BaseModel):
    id: str
    version: int = Field(description="1, plus one per change of the definition")
    state: str = Field(description="active, paused, done (historic run finished) or deleted")
    created_at_ns: int
    updated_at_ns: int
    spec: TaskSpecPublic


class TasksPublic(BaseModel):
    data: list[TaskPublic]
    count: int


class TaskApplyPublic(BaseModel):
    task: TaskPublic
    result: Literal["created", "updated", "unchanged"]


class EvaluatorSummaryPublic(BaseModel):
    name: str
    scored: int
    passed: int
    failed: int
    errors: int
    pass_rate: float | None


class TaskStatusPublic(BaseModel):
    """A task and its run log in figures."""

    task: TaskPublic
    counts: dict[str, int] = Field(description="outcome -> (span, evaluator) pairs")
    evaluators: list[EvaluatorSummaryPublic]
    judge_prompt_tokens: int
    judge_completion_tokens: int
    judge_calls: int
    last_error: str | None
    cursor: int = Field(description="last ingest_seq considered")
    total: int | None = Field(description="historic: spans in range; continuous: null")
    considered: int
    lag_s: float | None = Field(description="continuous: age of the oldest unconsidered span")
    progress: float | None = Field(description="historic: considered / total")


class OutcomePublic(BaseModel):
    """Why a span has (or has no) score from a task's evaluator."""

    task_id: str
    span_id: str
    trace_id: str
    evaluator: str
    outcome: str = Field(
        description="scored, filtered, sampled_out, over_limit, failed or retrying"
    )
    attempts: int
    error: str | None
    evaluation_id: str | None
    updated_at_ns: int
    next_attempt_at_ns: int | None = Field(default=None, description="set while retrying")


class OutcomesPublic(BaseModel):
    data: list[OutcomePublic]
    count: int
