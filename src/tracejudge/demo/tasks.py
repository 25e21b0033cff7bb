"""The demo's eval tasks: production-style scoring of the stored demo traces.

In-line evaluation (in :mod:`tracejudge.demo.assistant`) covers the code the app runs;
eval tasks score what is already stored, without touching the app. ``tracejudge demo``
applies two continuous tasks to its project and runs them until they have caught up:

``demo-groundedness``
    The LLM judge's ``groundedness`` of every answer (AGENT spans), with the context read
    from ``trace.documents`` (an explicit input mapping, as ``--map`` would give). The judge
    is the demo's own endpoint (the offline demo model by default). The in-line check adds
    the tool results to the context; this mapping does not, so answers built on an order
    lookup fail here: the difference an input mapping makes, visible side by side.
``demo-llm-latency``
    A code check on a deterministic half of the model calls: ``latency_budget`` on LLM
    spans with ``sample: 0.5``, so the run log shows scored, sampled-out and filtered spans.

Re-running the demo re-applies them (unchanged, or updated when the judge endpoint
moved) and scores only the new spans: the cursor remembers the rest. The offline judge
only lives while the demo runs, so the groundedness task is left paused afterwards
(resume it with ``tracejudge task apply`` and a real judge).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from tracejudge.evals.judge import Judge
from tracejudge.evals.tasks import JudgeSettings, TaskRunner, TaskSpec, TaskStatus
from tracejudge.store.tasks import SQLiteTaskStore

if TYPE_CHECKING:
    from tracejudge.demo.runner import Endpoint
    from tracejudge.store.sqlite import SQLiteStore

__all__ = [
    "CODE_TASK",
    "GROUNDEDNESS_NOTE",
    "GROUNDEDNESS_TASK",
    "demo_task_specs",
    "run_demo_tasks",
]

GROUNDEDNESS_TASK = "demo-groundedness"
CODE_TASK = "demo-llm-latency"
# Printed under the task table so its failures are not read as bugs (see the docstring).
GROUNDEDNESS_NOTE = (
    f"{GROUNDEDNESS_TASK} reads only retrieved documents (context <- trace.documents):"
    " answers built from the order tool fail it. Compare the in-line check, which also"
    " gives the judge the tool results."
)
_RUN_TIMEOUT_S = 300.0


def demo_task_specs(project: str, endpoint: Endpoint) -> list[TaskSpec]:
    """The two demo tasks for ``project``, judged by ``endpoint`` (checked, not stored)."""
    judge: dict[str, Any] = {"model": endpoint.model, "concurrency": 4}
    if endpoint.base_url is not None:
        judge["base_url"] = endpoint.base_url
    if not endpoint.offline:
        judge["api_key_env"] = "OPENAI_API_KEY"
    specs = [
        TaskSpec.from_dict(
            {
                "name": GROUNDEDNESS_TASK,
                "project": project,
                "mode": "continuous",
                "filter": 'kind == "AGENT"',
                "evaluators": [{"name": "groundedness", "map": {"context": "trace.documents"}}],
                "judge": judge,
            }
        ),
        TaskSpec.from_dict(
            {
                "name": CODE_TASK,
                "project": project,
                "mode": "continuous",
                "filter": 'kind == "LLM"',
                "sample": 0.5,
                "evaluators": ["latency_budget(max_ms=2000)"],
            }
        ),
    ]
    for spec in specs:
        spec.validate()
    return specs


def _judge_factory(endpoint: Endpoint) -> Callable[[JudgeSettings], Judge]:
    """Judges for the task's settings with the endpoint's own key (which the demo may have
    read from an ``env`` mapping rather than this process's environment)."""

    def make(settings: JudgeSettings) -> Judge:
        return Judge(
            model=settings.model,
            base_url=settings.base_url,
            api_key=endpoint.api_key,
            timeout_s=settings.timeout_s,
            concurrency=settings.concurrency,
            max_retries=1,
        )

    return make


def run_demo_tasks(
    store: SQLiteStore, project: str, endpoint: Endpoint, *, timeout_s: float = _RUN_TIMEOUT_S
) -> tuple[TaskStatus, ...]:
    """Apply the demo tasks to ``store`` and run each until it has caught up.

    Returns their statuses (counts per outcome, pass rates) in task order. Blocks for as
    long as the judge takes (20 calls to the offline model: well under a second each).
    """
    tasks = SQLiteTaskStore(store.path)
    runner = TaskRunner(store, tasks=tasks, judge_factory=_judge_factory(endpoint))
    statuses: list[TaskStatus] = []
    for spec in demo_task_specs(project, endpoint):
        task, _ = tasks.apply(spec)
        if task.state == "paused":
            task = tasks.set_state(task.id, "active")
        # On a thread of its own: the runner drives the judge with its own asyncio loop,
        # which cannot run where a loop already runs (Jupyter, Playwright's sync API).
        with ThreadPoolExecutor(1, thread_name_prefix="tracejudge-demo-task") as pool:
            pool.submit(runner.run_until_idle, task.id, timeout_s=timeout_s).result()
        if spec.name == GROUNDEDNESS_TASK and endpoint.offline:
            tasks.set_state(task.id, "paused")  # its judge stops with the demo
        statuses.append(tasks.status(task.id))
    return tuple(statuses)
