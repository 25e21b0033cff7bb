"""Fixtures for eval-task tests: a real store file, its task store, spans and a local judge.

The judge is a real OpenAI-compatible server on 127.0.0.1 whose verdict depends on the
text it is asked about (``pass`` when the span output says "good"), so a test can check
that each evaluation landed on the span it judged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tracejudge.evals.judge import Judge
from tracejudge.evals.tasks import JudgeSettings
from tracejudge.model import Span
from tracejudge.store.sqlite import SQLiteStore
from tracejudge.store.tasks import SQLiteTaskStore
from tracejudge.testing import OpenAIServer, Reply

T0 = 1_700_000_000_000_000_000


def span_id(n: int) -> str:
    return f"{n:016x}"


def make_span(
    n: int, *, trace: int | None = None, parent: int | None = None, project: str = "shop", **kw: Any
) -> Span:
    """Span number ``n`` (trace ``trace``, default one trace per 10 spans); output says
    "good" for even n and "bad" for odd n; LLM kind unless given."""
    fields: dict[str, Any] = {
        "trace_id": f"{(n // 10 if trace is None else trace) + 1:032x}",
        "span_id": span_id(n),
        "parent_span_id": None if parent is None else span_id(parent),
        "project": project,
        "name": f"call-{n}",
        "kind": "LLM",
        "status": "OK",
        "status_message": None,
        "start_ns": T0 + n * 1_000_000,
        "end_ns": T0 + n * 1_000_000 + 500_000,
        "output": f"answer {n} is {'good' if n % 2 == 0 else 'bad'}",
        "input": f"question {n}",
    }
    fields.update(kw)
    return Span(**fields)


def _verdict(request: dict[str, Any]) -> Reply:
    prompt = request["messages"][-1]["content"]
    good = " is good" in prompt
    return json.dumps(
        {"reasoning": "checked", "label": "pass" if good else "fail", "score": 1.0 if good else 0.0}
    )


@pytest.fixture(scope="session")
def judge_server() -> Iterator[OpenAIServer]:
    with OpenAIServer(_verdict, model="judge-model") as server:
        yield server


@pytest.fixture
def judge(judge_server: OpenAIServer) -> Iterator[OpenAIServer]:
    judge_server.clear()
    judge_server.latency_s = 0.0
    yield judge_server
    judge_server.clear()
    judge_server.latency_s = 0.0


def judge_factory_for(
    server: OpenAIServer, *, timeout_s: float = 5
) -> Callable[[JudgeSettings], Judge]:
    """Judges on ``server``, no client-side retries (the runner's retries are tested)."""

    def build(settings: JudgeSettings) -> Judge:
        return Judge(
            model="judge-model",
            base_url=server.base_url,
            api_key="test",
            timeout_s=timeout_s,
            max_retries=0,
            concurrency=settings.concurrency,
        )

    return build


@pytest.fixture
def judge_factory(judge: OpenAIServer) -> Callable[[JudgeSettings], Judge]:
    """Judges on the shared test server."""
    return judge_factory_for(judge)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tasks.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(db_path, synchronous="NORMAL") as s:
        yield s


@pytest.fixture
def tasks(store: SQLiteStore) -> SQLiteTaskStore:
    return SQLiteTaskStore(store.path)
