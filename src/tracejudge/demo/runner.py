"""Run the demo assistant end to end: endpoint, capture, questions, flush, read back.

This is what ``tracejudge demo`` calls. It decides which model to talk to (a configured
OpenAI-compatible endpoint, or the bundled offline demo model on 127.0.0.1), registers
capture into the embedded store, asks the questions inside their user sessions, flushes,
and reads the stored trace summaries back through the public :class:`~tracejudge.client.Client`
so what it reports is what was durably written, not what it meant to write. The same goes
for the in-line evaluations the assistant attached to its spans: they are read back from
the store and summarized as pass rates per evaluator. Then the demo's eval tasks
(:mod:`tracejudge.demo.tasks`) score the stored traces the way a server would in
production, and their run-log figures are returned too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from openai import OpenAI

from tracejudge.capture import (
    flush,
    register,
    shutdown,
    using_metadata,
    using_session,
    using_user,
)
from tracejudge.client import Client
from tracejudge.demo.assistant import SupportAssistant
from tracejudge.demo.questions import Question, select_questions
from tracejudge.demo.responder import demo_responder
from tracejudge.demo.tasks import run_demo_tasks
from tracejudge.errors import TracejudgeError
from tracejudge.evals.tasks import TaskStatus
from tracejudge.model import Evaluation, EvaluationSource, TraceSummary
from tracejudge.store import resolve_sqlite_path
from tracejudge.testing.openai_server import OpenAIServer

__all__ = [
    "DEFAULT_MODEL",
    "DEMO_PROJECT",
    "OFFLINE_MODEL",
    "DemoError",
    "DemoResult",
    "DemoRun",
    "Endpoint",
    "EvaluatorStats",
    "resolve_endpoint",
    "run_demo",
]

DEMO_PROJECT = "demo"
DEFAULT_MODEL = "gpt-4o-mini"
OFFLINE_MODEL = "tracejudge-demo-model"
_FLUSH_TIMEOUT_S = 30.0


class DemoError(TracejudgeError):
    """The demo could not store its traces (the message says what to do)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the demo's model calls go."""

    base_url: str | None  # None: the openai SDK's default (api.openai.com)
    api_key: str
    model: str
    offline: bool = False


@dataclass(frozen=True, slots=True)
class DemoResult:
    """One question's outcome; ``error`` is set when the model endpoint failed."""

    question: Question
    answer: str
    trace_id: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class EvaluatorStats:
    """Outcomes of one evaluator over a run's stored evaluations."""

    name: str
    passed: int = 0
    failed: int = 0
    errors: int = 0  # no verdict (the evaluator or judge failed)

    @property
    def pass_rate(self) -> float | None:
        """Passed over verdicts reached; None when there was none."""
        verdicts = self.passed + self.failed
        return self.passed / verdicts if verdicts else None


@dataclass(frozen=True, slots=True)
class DemoRun:
    """What a demo run did and where its data is."""

    db_path: Path
    project: str
    endpoint: Endpoint
    results: tuple[DemoResult, ...]
    traces: tuple[TraceSummary, ...]  # as stored, in question order
    evaluations: tuple[Evaluation, ...] = ()  # in-line, as stored, on this run's traces
    tasks: tuple[TaskStatus, ...] = ()  # the demo's eval tasks after this run

    @property
    def failed(self) -> bool:
        """True when every model call failed (nothing useful was demonstrated)."""
        return all(r.error for r in self.results)

    def evaluator_stats(self) -> list[EvaluatorStats]:
        """Pass/fail/error counts per evaluation name, sorted by name."""
        counts: dict[str, list[int]] = {}
        for e in self.evaluations:
            row = counts.setdefault(e.name, [0, 0, 0])
            row[2 if e.error else 0 if e.label == "pass" else 1] += 1
        return [EvaluatorStats(name, *counts[name]) for name in sorted(counts)]


def resolve_endpoint(env: Mapping[str, str]) -> Endpoint | None:
    """The configured endpoint from ``OPENAI_BASE_URL``/``OPENAI_API_KEY``; None means offline.

    ``TRACEJUDGE_DEMO_MODEL`` names the model (default ``gpt-4o-mini``). A base URL without
    a key is fine for local servers (vLLM, Ollama) that ignore it.
    """
    base_url = env.get("OPENAI_BASE_URL") or None
    api_key = env.get("OPENAI_API_KEY") or None
    if base_url is None and api_key is None:
        return None
    model = env.get("TRACEJUDGE_DEMO_MODEL") or DEFAULT_MODEL
    return Endpoint(base_url=base_url, api_key=api_key or "unused", model=model)


def run_demo(
    db: str | os.PathLike[str] | None = None,
    *,
    questions: int | None = None,
    project: str = DEMO_PROJECT,
    env: Mapping[str, str] | None = None,
    tasks: bool = True,
) -> DemoRun:
    """Ask the demo questions, store one trace per question, and read the summaries back.

    Parameters:
        db: SQLite file for the traces (default ``$TRACEJUDGE_HOME/tracejudge.db``).
        questions: how many questions to ask (default all; more than there are cycles).
        project: project name the traces are stored under.
        env: environment to read the endpoint from (default ``os.environ``).
        tasks: also apply and run the demo's eval tasks (:mod:`tracejudge.demo.tasks`).

    Side effects: for the duration of the run, registers tracejudge capture (with
    ``auto_instrument=True``; shut down again at the end) and, with no endpoint
    configured, serves the offline demo model on 127.0.0.1 (which also answers the
    in-line groundedness judge).

    Raises:
        ConfigurationError: ``questions`` is below 1.
        DemoError: the spans did not all reach the store (in time).
    """
    selected = select_questions(questions)
    db_path = resolve_sqlite_path(db)
    endpoint = resolve_endpoint(os.environ if env is None else env)
    with ExitStack() as stack:
        # Open (create, migrate) the store first: a bad path fails before any question,
        # and the export thread never races a migration.
        client = stack.enter_context(Client(db_path))
        if endpoint is None:
            server = stack.enter_context(OpenAIServer(demo_responder, model=OFFLINE_MODEL))
            endpoint = Endpoint(server.base_url, "offline", OFFLINE_MODEL, offline=True)
        # Not the global provider: the run registers, flushes and shuts down, leaving the
        # process (and the openai instrumentation) as it found it.
        register(project=project, db=db_path, auto_instrument=True, set_global=False)
        stack.callback(shutdown)
        assistant = SupportAssistant(_openai_client(endpoint), model=endpoint.model)
        results = tuple(_ask(assistant, q) for q in selected)
        if not flush(timeout_s=_FLUSH_TIMEOUT_S):
            raise DemoError(f"timed out after {_FLUSH_TIMEOUT_S:.0f}s writing traces to {db_path}")
        traces = _stored_summaries(client, project, [r.trace_id for r in results])
        evaluations = tuple(
            e
            for t in traces
            for e in client.evaluations(trace_id=t.trace_id)
            if e.source == EvaluationSource.INLINE
        )
        task_statuses: tuple[TaskStatus, ...] = ()
        if tasks and len(traces) == len(results):
            # Capture off first: the tasks' judge calls are not part of the app's traces.
            shutdown()
            task_statuses = run_demo_tasks(client.store, project, endpoint)  # type: ignore[arg-type]
    if len(traces) < len(results):
        raise DemoError(
            f"only {len(traces)} of {len(results)} traces reached the store at {db_path}; "
            "the capture log above says why"
        )
    return DemoRun(db_path, project, endpoint, results, traces, evaluations, task_statuses)


def _openai_client(endpoint: Endpoint) -> OpenAI:
    """An ``openai.OpenAI`` client for the endpoint; one retry, then the fallback answer."""
    return OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=1, timeout=60)


def _ask(assistant: SupportAssistant, question: Question) -> DemoResult:
    """One question inside its user's session, so every span carries session and user ids.

    The expected behaviour goes into the span metadata: later evaluations of the demo
    can compare what the assistant did with what it should have done.
    """
    with (
        using_session(question.session_id),
        using_user(question.user_id),
        using_metadata({"demo.expect": question.expect.value}),
    ):
        answer = assistant.ask(question.text)
    return DemoResult(question, answer.text, answer.trace_id, answer.error)


def _stored_summaries(
    client: Client, project: str, trace_ids: list[str]
) -> tuple[TraceSummary, ...]:
    """The stored summaries of this run's traces, in question order.

    The run's traces are the project's newest, so one newest-first page holds them
    (with room for traces another process wrote meanwhile).
    """
    found = {t.trace_id: t for t in client.traces(project, limit=2 * len(trace_ids) + 50)}
    return tuple(found[t] for t in trace_ids if t in found)
