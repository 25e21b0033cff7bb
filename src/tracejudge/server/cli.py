"""``tracejudge serve`` and ``tracejudge keys ...``: thin commands over the server and keys.

Registered on the main app by two lines at the end of :mod:`tracejudge.cli`. Errors
are translated by that module's ``_user_errors`` (imported lazily: this module is
itself imported by ``tracejudge.cli``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tracejudge.cli_options import DbOption
from tracejudge.server.settings import DEFAULT_HOST, DEFAULT_PORT, Settings, is_loopback_host
from tracejudge.store.keys import SQLiteKeyStore

__all__ = ["APP_FACTORY", "keys_app", "serve_command"]

APP_FACTORY = "tracejudge.server.app:app_from_env"
_PROCESS_ENV = "TRACEJUDGE_TASK_WORKER_PROCESS"

keys_app = typer.Typer(
    name="keys",
    help="Project API keys: create (shown once), list, revoke.",
    no_args_is_help=True,
)


@contextmanager
def _key_store(db: str | None) -> Iterator[SQLiteKeyStore]:
    """The key store of ``db`` (opened and migrated like any store), errors translated."""
    from tracejudge.cli import _user_errors
    from tracejudge.store import open_store

    with _user_errors():
        store = open_store(db)
        try:
            yield SQLiteKeyStore(store.path)  # type: ignore[attr-defined]
        finally:
            store.close()


def serve_command(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Interface to bind")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port")] = DEFAULT_PORT,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes; more than 1 uses more cores for ingest "
            "(each has its own writer; SQLite serializes their commits)",
        ),
    ] = 1,
    tasks: Annotated[
        bool,
        typer.Option(
            "--tasks/--no-tasks",
            help="Run the eval-task worker in the server (--no-tasks: leave it to "
            "`tracejudge task run`)",
        ),
    ] = True,
    task_worker: Annotated[
        str | None,
        typer.Option(
            "--task-worker",
            help="Run the eval-task worker as a lower-priority child 'process' (no GIL shared "
            "with ingest) or as a 'thread' of the server [default: $TRACEJUDGE_TASK_WORKER_"
            "PROCESS, else process]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the server: OTLP/HTTP at /v1/traces, the REST API at /api/v1 and, in the
    background, the eval-task worker.

    Refuses a non-loopback --host until at least one API key exists
    (`tracejudge keys create --project P`). Limits are read from TRACEJUDGE_* variables
    (see tracejudge.server.settings.Settings).
    """
    import uvicorn

    from tracejudge.cli import _fail, _user_errors
    from tracejudge.server.app import DB_ENV, create_app
    from tracejudge.store import open_store

    with _user_errors():
        if task_worker not in (None, "thread", "process"):
            _fail(f"--task-worker: expected thread or process, got {task_worker!r}")
        # --no-tasks wins; without it, TRACEJUDGE_TASK_WORKER (default on) decides. The
        # served app runs the worker as a process unless told otherwise (measured: far less
        # ingest slow-down than a thread; see docs/benchmarks.md).
        process = None if task_worker is None else task_worker == "process"
        if process is None and _PROCESS_ENV not in os.environ:
            process = True
        settings = Settings.from_env(
            host=host,
            port=port,
            task_worker=None if tasks else False,
            task_worker_process=process,
        )
        store = open_store(db)
    keys = SQLiteKeyStore(store.path)  # type: ignore[attr-defined]
    if not is_loopback_host(settings.host) and not keys.has_active():
        store.close()
        _fail(
            f"refusing to serve on {settings.host} without API keys: anyone on the network "
            "could read and write traces. Create one with `tracejudge keys create --project P`."
        )
    Console(stderr=True).print(
        f"tracejudge serving {store.path} on http://{settings.host}:{settings.port} "  # type: ignore[attr-defined]
        f"(OTLP: /v1/traces, API: /api/v1, docs: /docs)"
    )
    options = {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,
        "log_level": "warning",
        "timeout_graceful_shutdown": 10,
    }
    try:
        if workers == 1:
            uvicorn.run(create_app(store, settings, keys=keys), **options)  # type: ignore[arg-type]
        else:
            os.environ[DB_ENV] = str(store.path)  # type: ignore[attr-defined]
            if not settings.task_worker:
                os.environ["TRACEJUDGE_TASK_WORKER"] = "false"
            os.environ[_PROCESS_ENV] = str(settings.task_worker_process).lower()
            uvicorn.run(APP_FACTORY, factory=True, workers=workers, **options)  # type: ignore[arg-type]
    finally:
        store.close()


@keys_app.command("create")
def keys_create(
    project: Annotated[str, typer.Option("--project", "-p", help="The key's project")],
    name: Annotated[str | None, typer.Option(help="A note to recognise the key by")] = None,
    db: DbOption = None,
) -> None:
    """Create a key for PROJECT and print it; it is shown this once only."""
    with _key_store(db) as keys:
        record, secret = keys.create(project, name)
    typer.echo(secret)
    Console(stderr=True).print(
        f"key {record.id} ({record.prefix}...) for project {record.project!r}; "
        "store it now, it cannot be shown again"
    )


@keys_app.command("list")
def keys_list(
    project: Annotated[str | None, typer.Option("--project", "-p")] = None,
    db: DbOption = None,
) -> None:
    """List keys (never their secrets)."""
    with _key_store(db) as keys:
        records = keys.list_keys(project)
    table = Table(title=f"{len(records)} API keys", title_justify="left")
    for column in ("id", "prefix", "project", "name", "created", "status"):
        table.add_column(column, overflow="fold")
    for r in records:
        created = datetime.fromtimestamp(r.created_at_ns / 1e9).isoformat(timespec="seconds")
        table.add_row(
            r.id, r.prefix, r.project, r.name or "", created, "active" if r.active else "revoked"
        )
    Console(soft_wrap=False).print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id or its displayed prefix (tj_...)")],
    db: DbOption = None,
) -> None:
    """Revoke a key: requests with it are refused from the next request on."""
    with _key_store(db) as keys:
        record = keys.revoke(key)
    typer.echo(f"revoked key {record.id} ({record.prefix}...) of project {record.project!r}")
