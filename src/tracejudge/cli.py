"""The ``tracejudge`` command line: thin Typer commands over the library.

Each command parses its arguments, calls one library entry point and renders the result
with Rich. A :class:`~tracejudge.errors.TracejudgeError` (a user error: bad file, bad
path, missing trace) is translated once, in :func:`_user_errors`, into a one-line message
on stderr and exit code 1, never a traceback. Heavy imports (the openai SDK, the ingest
decoders, the store) happen inside the commands that need them.
"""

from __future__ import annotations

import heapq
import shlex
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tracejudge.cli_options import DbOption
from tracejudge.errors import TracejudgeError
from tracejudge.model import Span, SpanKind, StatusCode, TraceSummary

if TYPE_CHECKING:
    from tracejudge.demo.runner import EvaluatorStats

__all__ = ["app", "eval_app", "main", "span_table", "trace_table"]

app = typer.Typer(
    name="tracejudge",
    help="Trace-native evaluation for LLM applications.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_PREVIEW_CHARS = 60


def _console(*, stderr: bool = False) -> Console:
    """A Rich console. Messages are not wrapped (paths stay whole and greppable); tables
    still fit the terminal width."""
    return Console(stderr=stderr, soft_wrap=True)


def _fail(message: str) -> NoReturn:
    """Print ``Error: <message>`` on stderr and exit 1 (no traceback: a user error)."""
    _console(stderr=True).print(f"[bold red]Error:[/] {escape(message)}")
    raise typer.Exit(1)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Translate a TracejudgeError raised inside into :func:`_fail`."""
    try:
        yield
    except TracejudgeError as exc:
        _fail(str(exc))


def _existing_db(db: str | None) -> Path:
    """The database a read command opens; it must exist (reading never creates one)."""
    from tracejudge.store import resolve_sqlite_path

    with _user_errors():
        path = resolve_sqlite_path(db)
    if not path.is_file():
        _fail(f"no tracejudge database at {path} (run `tracejudge demo` or ingest traces first)")
    return path


def _preview(text: str | None) -> str:
    """One line of at most ``_PREVIEW_CHARS`` characters, whitespace collapsed."""
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= _PREVIEW_CHARS else flat[: _PREVIEW_CHARS - 1] + "…"


def _plural(n: int, noun: str) -> str:
    """``"1 trace"``, ``"2 traces"``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _status_cell(status: str) -> str:
    """The status, red when ERROR."""
    return "[red]ERROR[/]" if status == StatusCode.ERROR else f"[green]{escape(status)}[/]"


def trace_table(
    summaries: Sequence[TraceSummary],
    *,
    title: str,
    input_label: str = "input",
    output_label: str = "output",
    show_ids: bool = True,
    show_project: bool = False,
) -> Table:
    """A Rich table of trace summaries, one row per trace (shared by ``demo`` and ``traces``).

    ``show_ids`` adds the full trace id (what ``Client.trace`` needs); without it the
    table fits an 80-column terminal. Rows come in the order given (newest first).
    """
    table = Table(title=title, title_justify="left")
    if show_ids:
        table.add_column("trace", style="cyan", overflow="fold")
    if show_project:
        table.add_column("project", no_wrap=True)
    table.add_column(input_label, overflow="fold", ratio=1)
    table.add_column(output_label, overflow="fold", ratio=1)
    table.add_column("spans", justify="right")
    table.add_column("latency", justify="right", no_wrap=True)
    table.add_column("tokens", justify="right")
    table.add_column("status", no_wrap=True)
    for t in summaries:
        row: list[str] = []
        if show_ids:
            row.append(t.trace_id)
        if show_project:
            row.append(escape(t.project))
        row += [escape(_preview(t.input_preview)), escape(_preview(t.output_preview))]
        row += [str(t.span_count), f"{t.latency_ms:,.0f} ms", f"{t.total_tokens:,}"]
        table.add_row(*row, _status_cell(t.status))
    return table


def span_table(spans: Sequence[Span], *, title: str, show_project: bool = False) -> Table:
    """A Rich table of spans, one row each, in the order given (ingest order for ``spans``).

    The span id is shown whole (what ``Client.span`` and ``eval run --span`` take).
    """
    table = Table(title=title, title_justify="left")
    table.add_column("span", style="cyan", no_wrap=True)
    if show_project:
        table.add_column("project", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("model", overflow="fold")
    table.add_column("input", overflow="fold", ratio=1)
    table.add_column("latency", justify="right", no_wrap=True)
    table.add_column("tokens", justify="right")
    table.add_column("status", no_wrap=True)
    for s in spans:
        tokens = None
        if s.prompt_tokens is not None or s.completion_tokens is not None:
            tokens = (s.prompt_tokens or 0) + (s.completion_tokens or 0)
        row = [s.span_id] + ([escape(s.project)] if show_project else [])
        row += [escape(s.kind), escape(s.name), escape(s.model or ""), escape(_preview(s.input))]
        row += [f"{s.latency_ms:,.0f} ms", "" if tokens is None else f"{tokens:,}"]
        table.add_row(*row, _status_cell(s.status))
    return table


def _pass_rate_table(stats: Sequence[EvaluatorStats]) -> Table:
    """In-line evaluation outcomes of a demo run, one row per evaluator."""
    table = Table(title="In-line evaluations", title_justify="left")
    table.add_column("evaluator")
    table.add_column("pass rate", justify="right")
    for column in ("pass", "fail", "error"):
        table.add_column(column, justify="right")
    for st in stats:
        rate = "-" if st.pass_rate is None else f"{st.pass_rate:.0%}"
        table.add_row(escape(st.name), rate, str(st.passed), str(st.failed), str(st.errors))
    return table


@app.command()
def demo(
    db: DbOption = None,
    questions: Annotated[
        int | None,
        typer.Option(min=1, help="How many questions to ask [default: all 20]", show_default=False),
    ] = None,
) -> None:
    """Run the demo support assistant, store its traces and print a summary.

    Uses OPENAI_BASE_URL / OPENAI_API_KEY (model: TRACEJUDGE_DEMO_MODEL, default gpt-4o-mini)
    when set; otherwise a bundled deterministic demo model on 127.0.0.1 (no network).
    """
    from tracejudge.demo import run_demo

    console = _console()
    with _user_errors():
        run = run_demo(db, questions=questions)
    endpoint = run.endpoint
    if endpoint.offline:
        console.print(
            f"[yellow]Offline demo model[/] ([bold]{endpoint.model}[/], deterministic, served on "
            f"{endpoint.base_url}). Set OPENAI_BASE_URL / OPENAI_API_KEY to use a real model."
        )
    else:
        where = endpoint.base_url or "api.openai.com"
        console.print(f"Model [bold]{escape(endpoint.model)}[/] at {escape(where)}")
    console.print(
        trace_table(
            run.traces,
            title=f"{_plural(len(run.traces), 'demo trace')} (project {run.project!r})",
            input_label="question",
            output_label="answer",
            show_ids=False,
        )
    )
    stats = run.evaluator_stats()
    if stats:
        console.print(_pass_rate_table(stats))
    if run.tasks:
        from tracejudge.demo.tasks import GROUNDEDNESS_NOTE
        from tracejudge.task_cli import task_outcome_notes, task_outcomes_table

        title = "Eval tasks over the stored traces (outcomes per span and evaluator)"
        console.print(task_outcomes_table(run.tasks, title=title))
        for line in task_outcome_notes(run.tasks):
            console.print(line, highlight=False)
        console.print(f"[dim]{escape(GROUNDEDNESS_NOTE)}[/]", highlight=False)
    for ev in [e for e in run.evaluations if e.label == "fail"][:3]:
        why = escape(ev.explanation or "")
        console.print(f"[red]{escape(ev.name)} failed[/] on trace {ev.trace_id}: {why}")
    failures = [r for r in run.results if r.error]
    for r in failures[:3]:
        console.print(f"[red]model call failed:[/] {escape(r.error or '')}")
    console.print(f"Traces stored in [bold]{run.db_path}[/]")
    db_arg = "" if db is None else f" --db {shlex.quote(db)}"
    console.print(f"List them with: tracejudge traces --project {run.project}{db_arg}")
    if run.tasks:
        console.print(f"Eval tasks: tracejudge task list --project {run.project}{db_arg}")
    console.print(
        f"Review and label them: tracejudge serve{db_arg}, then open "
        f"http://127.0.0.1:6464/projects/{run.project}/traces"
    )
    if run.failed:
        raise typer.Exit(1)


@app.command()
def ingest(
    files: Annotated[
        list[Path],
        typer.Argument(exists=True, dir_okay=False, readable=True, help="OTLP .pb/.json[.gz]"),
    ],
    project: Annotated[str, typer.Option("--project", "-p", help="Project to store under")],
    db: DbOption = None,
) -> None:
    """Ingest OTLP trace files (protobuf .pb or OTLP/JSON .json, optionally .gz).

    Each file is decoded in full before anything is written, so a bad file writes nothing;
    the command stops at the first bad file and exits 1.
    """
    from tracejudge.ingest.pipeline import ingest_file
    from tracejudge.store import open_store

    console = _console()
    with _user_errors():
        store = open_store(db)
        try:
            for path in files:
                try:
                    result = ingest_file(store, path, project=project)
                except (TracejudgeError, OSError) as exc:
                    _fail(f"{path}: {exc}")
                console.print(
                    f"{escape(str(path))}: {result.inserted} inserted, "
                    f"{result.duplicates} duplicates, {len(result.conflicts)} conflicts"
                )
                for trace_id, span_id in result.conflicts:
                    console.print(
                        f"  [yellow]conflict:[/] span {span_id} (trace {trace_id}) was re-sent "
                        "with different content; the stored first version is kept"
                    )
        finally:
            store.close()


@app.command()
def verify(db: DbOption = None) -> None:
    """Recompute every span's content hash; exit 1 listing the spans that do not match."""
    from tracejudge.client import Client

    console = _console()
    path = _existing_db(db)
    with _user_errors(), Client(path) as client:
        report = client.verify()
    if report.ok:
        console.print(f"[green]OK[/]: {report.checked:,} spans checked, all hashes match")
        return
    err = _console(stderr=True)
    err.print(f"[bold red]{len(report.mismatches)} of {report.checked:,} spans do not match:[/]")
    for seq, trace_id, span_id in report.mismatches:
        err.print(f"  span {span_id} (trace {trace_id}, ingest_seq {seq})")
    raise typer.Exit(1)


@app.command()
def traces(
    project: Annotated[
        str | None,
        typer.Option("--project", "-p", help="Project [default: all projects]", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many traces, newest first")] = 20,
    db: DbOption = None,
) -> None:
    """List the newest traces (of one project, or of all projects)."""
    from tracejudge.client import Client

    path = _existing_db(db)
    with _user_errors(), Client(path) as client:
        projects = [project] if project else client.projects()
        pages = [client.traces(p, limit=limit) for p in projects]
    newest = list(heapq.merge(*pages, key=lambda t: -t.start_ns))[:limit]
    where = f"project {project!r}" if project else _plural(len(projects), "project")
    _console().print(
        trace_table(
            newest, title=f"{_plural(len(newest), 'trace')}, {where}", show_project=not project
        )
    )


@app.command()
def spans(
    project: Annotated[
        str | None,
        typer.Option("--project", "-p", help="Project [default: all projects]", show_default=False),
    ] = None,
    kind: Annotated[
        SpanKind | None, typer.Option("--kind", "-k", help="Only spans of this kind")
    ] = None,
    filter: Annotated[
        str | None,
        typer.Option(
            "--filter",
            "-f",
            help="A span filter, e.g. 'kind == \"LLM\" and latency_ms > 2000'",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many spans, oldest ingested first")] = 50,
    db: DbOption = None,
) -> None:
    """List stored spans, oldest ingested first, narrowed by project, kind and a filter.

    A bad filter exits 1 with one line naming the position of the problem.
    """
    from tracejudge.client import Client

    path = _existing_db(db)
    with _user_errors(), Client(path) as client:
        rows = client.spans(project, kind=kind.value if kind else None, limit=limit, filter=filter)
    where = f"project {project!r}" if project else "all projects"
    title = f"{_plural(len(rows), 'span')}, {where}" + (f", filter {filter!r}" if filter else "")
    _console().print(span_table(rows, title=escape(title), show_project=not project))


@app.command()
def version() -> None:
    """Print the installed tracejudge version."""
    typer.echo(f"tracejudge {metadata.version('tracejudge')}")


def main() -> None:
    """Console-script entry point (``tracejudge``)."""
    app()


# --- eval commands (owned by evals; one-off scoring of stored spans) ---------------------------
eval_app = typer.Typer(
    name="eval", help="Score stored spans with an evaluator.", no_args_is_help=True
)
app.add_typer(eval_app)


def _parse_mapping(items: Sequence[str]) -> dict[str, str]:
    """``["context=trace.documents", ...]`` -> ``{"context": "trace.documents"}``."""
    mapping: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            _fail(f"--map {item!r}: expected INPUT=PATH, e.g. context=trace.documents")
        mapping[name.strip()] = path.strip()
    return mapping


@eval_app.command("run")
def eval_run(
    evaluator: Annotated[
        str,
        typer.Option(
            "--evaluator",
            "-e",
            help="Evaluator name, e.g. json_valid, 'length_bounds(max=2000)', groundedness",
        ),
    ],
    span_id: Annotated[str, typer.Option("--span", help="Span id (16 hex) to score")],
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="INPUT=PATH: read an input from this attribute path"),
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Project of the span", show_default=False)
    ] = None,
    judge_model: Annotated[
        str | None,
        typer.Option(
            help="Judge model for judge templates [default: $TRACEJUDGE_JUDGE_MODEL]",
            show_default=False,
        ),
    ] = None,
    judge_base_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible judge endpoint [default: $TRACEJUDGE_JUDGE_BASE_URL, "
            "then $OPENAI_BASE_URL]",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Score one stored span and store the evaluation on it (source "import").

    Exits 1 with a one-line message for an unknown evaluator, span or a path that does not
    resolve (nothing is written), and 1 when the evaluator itself failed (the evaluation,
    with its error, is stored).
    """
    from tracejudge.evals.scoring import score_span
    from tracejudge.store import open_store

    parsed = _parse_mapping(mapping or [])
    path = _existing_db(db)
    with _user_errors():
        judge = None
        if judge_model is not None or judge_base_url is not None:
            from tracejudge.evals.judge import Judge

            judge = Judge(model=judge_model, base_url=judge_base_url)
        store = open_store(path)
        try:
            ev = score_span(store, span_id, evaluator, mapping=parsed, project=project, judge=judge)
        finally:
            store.close()
    console = _console()
    verdict = ev.label if ev.label is not None else ""
    score = "" if ev.score is None else f" score={ev.score:g}"
    console.print(
        f"[bold]{escape(ev.name)}[/] ({escape(ev.evaluator or '')}) on span {ev.span_id}: "
        f"{escape(verdict)}{score}"
    )
    if ev.explanation:
        console.print(f"  {escape(ev.explanation)}")
    if ev.error:
        _fail(f"evaluator failed: {ev.error}")


# --- server commands (owned by the server; see tracejudge/server/cli.py) -----------------------
from tracejudge.server.cli import keys_app, serve_command  # noqa: E402

app.command("serve")(serve_command)
app.add_typer(keys_app)

# --- eval task commands (owned by tasks; see tracejudge/task_cli.py) ---------------------------
from tracejudge.task_cli import task_app  # noqa: E402

app.add_typer(task_app)
