"""``tracejudge task ...``: eval tasks from the command line, thin over the library.

``create`` builds a :class:`~tracejudge.evals.tasks.TaskSpec` from options, ``apply``
from a YAML file kept in the user's repo; both go through ``TaskSpec.from_dict`` and
``validate`` (the same checks as the Python and REST APIs) before anything is stored.
``run`` is the standalone worker (what ``tracejudge serve`` does in the background), with
a progress bar. Errors are one line on stderr and exit 1 (``tracejudge.cli._user_errors``).

Registered on the main app by one line at the end of :mod:`tracejudge.cli`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console, Group
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tracejudge.cli_options import DbOption

if TYPE_CHECKING:
    from tracejudge.client import Client
    from tracejudge.evals.tasks import EvalTask, TaskSpec, TaskStatus

__all__ = [
    "load_task_file",
    "outcome_counts_table",
    "parse_evaluator_options",
    "status_view",
    "task_app",
    "task_outcome_notes",
    "task_outcomes_table",
    "tasks_table",
]

task_app = typer.Typer(
    name="task",
    help="Eval tasks: score stored and incoming spans with filters, sampling and limits.",
    no_args_is_help=True,
)

_UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="TRACEJUDGE_URL",
        help="A tracejudge server to manage the tasks of, instead of --db",
        show_default=False,
    ),
]
_KeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="TRACEJUDGE_API_KEY",
        help="The project API key sent to --url",
        show_default=False,
    ),
]
_ProjectOption = Annotated[
    str | None,
    typer.Option("--project", "-p", help="Project (to find a task by name)", show_default=False),
]
_TaskArg = Annotated[str, typer.Argument(help="The task's id or name")]

# Outcomes in the order a reader follows a span through a task.
OUTCOME_ORDER = ("scored", "filtered", "sampled_out", "over_limit", "retrying", "failed")
_OUTCOME_STYLE = {"scored": "green", "failed": "red", "retrying": "yellow"}


def _console(*, stderr: bool = False) -> Console:
    return Console(stderr=stderr, soft_wrap=True)


@contextmanager
def _client(db: str | None, url: str | None = None, api_key: str | None = None) -> Iterator[Client]:
    """A Client over the existing database ``db``, or over the server at ``url``; library
    errors become one line, exit 1."""
    from tracejudge.cli import _existing_db, _fail, _user_errors
    from tracejudge.client import Client

    if url is not None:
        if db is not None:
            _fail("--db and --url: give one (a database file or a server), not both")
        with _user_errors(), Client(url=url, api_key=api_key) as client:
            yield client
        return
    path = _existing_db(db)
    with _user_errors(), Client(path) as client:
        yield client


def parse_evaluator_options(evaluators: Sequence[str], maps: Sequence[str]) -> list[dict[str, Any]]:
    """``--evaluator`` and ``--map`` options as ``TaskSpec.from_dict`` evaluator entries.

    A map is ``INPUT=PATH`` (for every evaluator given, so each must read INPUT: the spec's
    ``validate`` says which does not) or ``EVALUATOR:INPUT=PATH`` for one evaluator, named
    as given to ``--evaluator`` or by its base name (``latency_budget`` for
    ``latency_budget(max_ms=2000)``).

    Raises ConfigurationError for a malformed map or one naming no given evaluator.
    """
    from tracejudge.errors import ConfigurationError

    entries: list[dict[str, Any]] = [{"name": e, "map": {}} for e in evaluators]
    for item in maps:
        target, sep, path = item.partition("=")
        owner, colon, input_name = target.rpartition(":") if ":" in target else ("", "", target)
        if not sep or not input_name.strip() or not path.strip() or (colon and not owner):
            raise ConfigurationError(
                f"--map {item!r}: expected [EVALUATOR:]INPUT=PATH, e.g. context=trace.documents"
            )
        chosen = [
            e
            for e in entries
            if not owner or owner.strip() in (e["name"], e["name"].split("(", 1)[0])
        ]
        if not chosen:
            names = ", ".join(e["name"] for e in entries) or "none"
            raise ConfigurationError(f"--map {item!r}: no --evaluator {owner!r} (given: {names})")
        for e in chosen:
            e["map"][input_name.strip()] = path.strip()
    return [e if e["map"] else e["name"] for e in entries]


def load_task_file(path: Path, *, project: str | None = None) -> list[TaskSpec]:
    """Every task of a YAML file (one mapping, a list, or ``tasks: [...]``), checked.

    ``project`` fills in tasks that name none. Nothing is stored here; the whole file is
    checked first so a bad task leaves the store untouched.

    Raises ConfigurationError naming the file and the task (a filter error keeps its
    position in the message).
    """
    import yaml  # type: ignore[import-untyped]

    from tracejudge.errors import ConfigurationError, TracejudgeError
    from tracejudge.evals.tasks import TaskSpec

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigurationError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if isinstance(data, Mapping) and set(data) == {"tasks"}:
        data = data["tasks"]
    items = [data] if isinstance(data, Mapping) else data
    if not isinstance(items, list) or not items:
        raise ConfigurationError(f"{path}: expected a task mapping or a list of tasks")
    specs: list[TaskSpec] = []
    for n, item in enumerate(items, 1):
        label = f"{path}: task {n}"
        if not isinstance(item, Mapping):
            raise ConfigurationError(f"{label}: expected a mapping, got {type(item).__name__}")
        if item.get("name"):
            label += f" ({item['name']})"
        fields = dict(item)
        if project is not None:
            fields.setdefault("project", project)
        try:
            spec = TaskSpec.from_dict(fields)
            spec.validate()
        except TracejudgeError as exc:
            raise ConfigurationError(f"{label}: {exc}") from None
        specs.append(spec)
    names = [(s.project, s.name) for s in specs]
    if dup := next((n for n in names if names.count(n) > 1), None):
        raise ConfigurationError(f"{path}: task {dup[1]!r} of project {dup[0]!r} appears twice")
    return specs


def _evaluator_names(task: EvalTask) -> str:
    return ", ".join(e.name for e in task.spec.evaluators)


def tasks_table(tasks: Sequence[EvalTask], *, title: str) -> Table:
    """One row per task: id, name, project, mode, state, version, evaluators, filter."""
    table = Table(title=title, title_justify="left")
    table.add_column("id", style="cyan", no_wrap=True)
    for column in ("name", "project", "mode", "state"):
        table.add_column(column, overflow="fold")
    table.add_column("v", justify="right")
    table.add_column("evaluators", overflow="fold")
    table.add_column("filter", overflow="fold", ratio=1)
    for t in tasks:
        state = f"[yellow]{t.state}[/]" if t.state != "active" else "[green]active[/]"
        table.add_row(
            t.id,
            escape(t.spec.name),
            escape(t.spec.project),
            t.spec.mode,
            state,
            str(t.version),
            escape(_evaluator_names(t)),
            escape(t.spec.filter or ""),
        )
    return table


def outcome_counts_table(status: TaskStatus, *, title: str | None = None) -> Table:
    """Counts per outcome of one task ((span, evaluator) pairs), in a fixed order."""
    table = Table(title=title or "Outcomes", title_justify="left")
    names = [o for o in OUTCOME_ORDER if o in status.counts]
    names += sorted(set(status.counts) - set(OUTCOME_ORDER))
    for name in names or ["scored"]:
        style = _OUTCOME_STYLE.get(name)
        table.add_column(f"[{style}]{name}[/]" if style else name, justify="right")
    table.add_row(*[f"{status.counts.get(n, 0):,}" for n in names or ["scored"]])
    return table


# The outcome columns of task_outcomes_table; over_limit and retrying join when non-zero.
_SUMMARY_OUTCOMES = ("scored", "filtered", "sampled_out", "failed")


def _rates(status: TaskStatus) -> str:
    """The pass rate of a one-evaluator task, else ``name rate`` per evaluator."""

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    if len(status.evaluators) == 1:
        return rate(status.evaluators[0].pass_rate)
    return ", ".join(f"{e.name} {rate(e.pass_rate)}" for e in status.evaluators)


def task_outcomes_table(statuses: Sequence[TaskStatus], *, title: str) -> Table:
    """One row per task: outcome counts and pass rate (what ``tracejudge demo`` prints).

    Fits 80 columns: the filter, evaluators and state go in :func:`task_outcome_notes`.
    """
    table = Table(title=title, title_justify="left")
    table.add_column("task", overflow="fold")
    outcomes = [*_SUMMARY_OUTCOMES]
    for extra in ("over_limit", "retrying"):
        if any(st.counts.get(extra) for st in statuses):
            outcomes.insert(-1, extra)
    for name in outcomes:
        style = _OUTCOME_STYLE.get(name)
        label = name.replace("_", " ")
        table.add_column(f"[{style}]{label}[/]" if style else label, justify="right")
    table.add_column("pass rate", justify="right", overflow="fold")
    for st in statuses:
        counts = [f"{st.counts.get(n, 0):,}" for n in outcomes]
        table.add_row(escape(st.task.spec.name), *counts, escape(_rates(st)))
    return table


def task_outcome_notes(statuses: Sequence[TaskStatus]) -> list[str]:
    """A line per task under :func:`task_outcomes_table`: filter, evaluators and state."""
    lines = []
    for st in statuses:
        spec = st.task.spec
        where = f"filter {spec.filter}" if spec.filter else "every span"
        lines.append(
            f"  {escape(spec.name)}: {escape(where)} -> {escape(_evaluator_names(st.task))}"
            f" ({st.task.state})"
        )
    return lines


def _evaluators_table(status: TaskStatus) -> Table:
    table = Table(title="Evaluators", title_justify="left")
    table.add_column("evaluator")
    table.add_column("pass rate", justify="right")
    for column in ("scored", "pass", "fail", "error"):
        table.add_column(column, justify="right")
    for s in status.evaluators:
        rate = "-" if s.pass_rate is None else f"{s.pass_rate:.0%}"
        table.add_row(
            escape(s.name), rate, str(s.scored), str(s.passed), str(s.failed), str(s.errors)
        )
    return table


def _summary_line(status: TaskStatus) -> str:
    """Task, state, progress/lag and judge usage on one line."""
    task = status.task
    parts = [
        f"[bold]{escape(task.spec.name)}[/] ({task.id}, v{task.version}, {task.spec.mode}, "
        f"project {escape(task.spec.project)!r}): {task.state}",
        f"{status.considered:,} spans considered",
    ]
    if status.total is not None:
        pct = "" if status.progress is None else f" ({status.progress:.0%})"
        parts[-1] += f" of {status.total:,}{pct}"
    if status.lag_s is not None:
        parts.append(f"lag {status.lag_s:.1f} s")
    if status.judge_calls:
        parts.append(
            f"judge: {status.judge_calls:,} calls, {status.judge_prompt_tokens:,} prompt + "
            f"{status.judge_completion_tokens:,} completion tokens"
        )
    return "; ".join(parts)


def status_view(status: TaskStatus) -> Group:
    """Everything ``task status`` prints: summary, outcome counts, per-evaluator pass
    rates and the last error (also used by ``tracejudge demo``)."""
    parts: list[Any] = [_summary_line(status), outcome_counts_table(status)]
    if status.evaluators:
        parts.append(_evaluators_table(status))
    if status.last_error:
        parts.append(f"[red]last error:[/] {escape(status.last_error)}")
    return Group(*parts)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("spans"),
        TimeElapsedColumn(),
        console=_console(),
        transient=False,
    )


def _watch(get_status: Callable[[], TaskStatus], interval_s: float = 0.5) -> TaskStatus:
    """A progress bar over a running task until it is no longer active (historic: done)
    or Ctrl-C; returns the last status read."""
    status = get_status()
    with _progress() as progress:
        bar = progress.add_task(status.task.spec.name, total=status.total)
        try:
            while True:
                progress.update(bar, completed=status.considered, total=status.total)
                if status.task.state != "active":
                    break
                time.sleep(interval_s)
                status = get_status()
        except KeyboardInterrupt:  # a continuous task never stops: Ctrl-C ends the watch
            pass
    return status


@task_app.command("create")
def task_create(
    name: Annotated[str, typer.Option("--name", "-n", help="Task name (unique per project)")],
    project: Annotated[str, typer.Option("--project", "-p", help="Project whose spans to score")],
    evaluator: Annotated[
        list[str],
        typer.Option(
            "--evaluator",
            "-e",
            help="Evaluator, e.g. groundedness or 'latency_budget(max_ms=2000)' (repeatable)",
        ),
    ],
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="[EVALUATOR:]INPUT=PATH, e.g. context=trace.documents (repeatable)"
        ),
    ] = None,
    filter: Annotated[
        str | None,
        typer.Option("--filter", "-f", help="Span filter, e.g. 'kind == \"LLM\"'"),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="continuous (new spans as they arrive) or historic (a range)")
    ] = "continuous",
    target: Annotated[str, typer.Option(help="span, or trace (its root, once complete)")] = "span",
    start: Annotated[
        str | None, typer.Option(help="Historic range start (ISO-8601 or epoch ns)")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Historic range end, exclusive (ISO-8601 or epoch ns)")
    ] = None,
    sample: Annotated[
        float | None, typer.Option(min=0, max=1, help="Share of spans to score [default: 1]")
    ] = None,
    max_spans: Annotated[
        int | None, typer.Option(min=1, help="Score at most this many spans")
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", min=0, help="At most this many evaluations/s")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Evaluations at once")] = None,
    max_attempts: Annotated[
        int | None, typer.Option(min=1, help="Tries per span before 'failed'")
    ] = None,
    judge_model: Annotated[str | None, typer.Option(help="Judge model")] = None,
    judge_url: Annotated[str | None, typer.Option(help="OpenAI-compatible judge endpoint")] = None,
    judge_api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable with the judge's API key")
    ] = None,
    judge_concurrency: Annotated[
        int | None, typer.Option(min=1, help="Judge calls at once")
    ] = None,
    db: DbOption = None,
    url: _UrlOption = None,
    api_key: _KeyOption = None,
) -> None:
    """Create an eval task; `tracejudge serve` (or `task run`) scores its spans."""
    from tracejudge.cli import _user_errors

    with _user_errors():
        fields: dict[str, Any] = {
            "name": name,
            "project": project,
            "evaluators": parse_evaluator_options(evaluator, mapping or []),
            "mode": mode,
            "target": target,
        }
        optional = {
            "filter": filter,
            "start": start,
            "end": end,
            "sample": sample,
            "max_spans": max_spans,
            "rate_per_s": rate,
            "concurrency": concurrency,
            "max_attempts": max_attempts,
        }
        fields.update({k: _number(v) for k, v in optional.items() if v is not None})
        judge = {
            "model": judge_model,
            "base_url": judge_url,
            "api_key_env": judge_api_key_env,
            "concurrency": judge_concurrency,
        }
        if any(v is not None for v in judge.values()):
            fields["judge"] = {k: v for k, v in judge.items() if v is not None}
        from tracejudge.evals.tasks import TaskSpec

        spec = TaskSpec.from_dict(fields)
        spec.validate()
    with _client(db, url, api_key) as client:
        handle = client.create_task(spec)
    task = handle.task
    _console().print(
        f"created task {task.id} ({escape(task.spec.name)}, {task.spec.mode}, "
        f"project {escape(task.spec.project)!r})"
    )


def _number(value: Any) -> Any:
    """Epoch-ns ``--start/--end`` given as digits become ints (ISO-8601 stays text)."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


@task_app.command("list")
def task_list(
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Only this project's tasks")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include deleted tasks")] = False,
    db: DbOption = None,
    url: _UrlOption = None,
    api_key: _KeyOption = None,
) -> None:
    """List eval tasks."""
    with _client(db, url, api_key) as client:
        if all_:  # the Client lists live tasks; its backend can include deleted ones
            rows = client._task_backend().list(project, include_deleted=True)  # type: ignore[call-arg]
        else:
            rows = client.tasks(project)
    where = f"project {project!r}" if project else "all projects"
    noun = "task" if len(rows) == 1 else "tasks"
    _console().print(tasks_table(rows, title=escape(f"{len(rows)} {noun}, {where}")))


@task_app.command("status")
def task_status(
    task: _TaskArg,
    project: _ProjectOption = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Progress bar until the task stops")
    ] = False,
    outcomes: Annotated[int, typer.Option(min=0, help="Show this many recent run-log rows")] = 0,
    db: DbOption = None,
    url: _UrlOption = None,
    api_key: _KeyOption = None,
) -> None:
    """A task's progress, outcome counts and per-evaluator pass rates."""
    with _client(db, url, api_key) as client:
        handle = client.task(task, project)
        status = _watch(handle.status) if watch else handle.status()
        rows = handle.outcomes(limit=outcomes) if outcomes else []
    console = _console()
    console.print(status_view(status))
    if rows:
        table = Table(title="Recent outcomes", title_justify="left")
        for column in ("span", "evaluator", "outcome", "attempts", "error"):
            table.add_column(column, overflow="fold")
        for o in rows:
            table.add_row(
                o.span_id, escape(o.evaluator), o.outcome, str(o.attempts), escape(o.error or "")
            )
        console.print(table)


@task_app.command("run")
def task_run(
    task: _TaskArg,
    project: _ProjectOption = None,
    timeout: Annotated[
        float | None, typer.Option(min=0, help="Stop after this many seconds", show_default=False)
    ] = None,
    db: DbOption = None,
) -> None:
    """Run a task here until it has nothing left to do (no server needed), with a
    progress bar; a continuous task stops once it has caught up."""
    from tracejudge.cli import _fail
    from tracejudge.evals.tasks import TaskRunner

    deadline = None if timeout is None else time.monotonic() + timeout
    with _client(db) as client:
        handle = client.task(task, project)
        state = handle.task.state
        if state == "done":
            _fail(f"task {handle.task.spec.name!r} is done (its historic run finished)")
        if state != "active":
            _fail(f"task {handle.task.spec.name!r} is {state}; resume it first")
        runner = TaskRunner(client.store)  # type: ignore[arg-type]
        written = errors = 0
        with _progress() as progress:
            status = handle.status()
            bar = progress.add_task(status.task.spec.name, total=status.total)
            while True:
                report = runner.run_once(handle.id)
                if report.busy:
                    break
                written += report.evaluations_written
                errors += report.errors
                status = handle.status()
                progress.update(bar, completed=status.considered, total=status.total)
                if report.idle or (deadline is not None and time.monotonic() > deadline):
                    break
    if report.busy:
        _fail(
            f"task {handle.task.spec.name!r} is being run by another worker (a `tracejudge "
            "serve`?); let it, or serve with --no-tasks"
        )
    console = _console()
    console.print(f"{written:,} evaluations written, {errors:,} without a verdict")
    console.print(status_view(status))


def _set_state(
    task: str, project: str | None, db: str | None, url: str | None, key: str | None, action: str
) -> None:
    with _client(db, url, key) as client:
        handle = client.task(task, project)
        getattr(handle, action)()
        record = client.task(handle.id).task if action != "delete" else handle.task
    past = {"pause": "paused", "resume": "resumed", "delete": "deleted"}[action]
    _console().print(f"{past} task {record.id} ({escape(record.spec.name)})")


@task_app.command("pause")
def task_pause(
    task: _TaskArg,
    project: _ProjectOption = None,
    db: DbOption = None,
    url: _UrlOption = None,
    api_key: _KeyOption = None,
) -> None:
    """Stop scoring; the cursor is kept."""
    _set_state(task, project, db, url, api_key, "pause")


@task_app.command("resume")
def task_resume(
    task: _TaskArg,
    project: _ProjectOption = None,
    db: DbOption = None,
    url: _UrlOption = None,
    api_key: _KeyOption = None,
) -> None:
    """Carry on from the cursor."""
    _set_state(task, project, db, url, api_key, "resume")


@task_app.command("delete")
def task_delete(
    task: _TaskArg,
    project: _ProjectOption = None,
    db: DbOption = None,
    url: _UrlOption = None,
    api_key: _KeyOption = None,
) -> None:
    """Stop a task for good; its evaluations stay on their spans."""
    _set_state(task, project, db, url, api_key, "delete")


@task_app.command("apply")
def task_apply(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Task YAML file")
    ],
    project: Annotated[
        str | None,
        typer.Option("--project", "-p", help="Project of tasks that name none"),
    ] = None,
    db: DbOption = None,
    url: _UrlOption = None,
    api_key: _KeyOption = None,
) -> None:
    """Create or update the tasks of a YAML file (one task, or a list), by project + name.

    The whole file is checked first: one bad task and nothing is applied.
    """
    from tracejudge.cli import _user_errors

    with _user_errors():
        specs = load_task_file(file, project=project)
    console = _console()
    with _client(db, url, api_key) as client:
        for spec in specs:
            handle, result = client.apply_task(spec)
            style = {"created": "green", "updated": "yellow"}.get(result, "dim")
            console.print(
                f"[{style}]{result}[/] {escape(spec.name)} ({handle.id}, v{handle.task.version}, "
                f"project {escape(spec.project)!r})"
            )
