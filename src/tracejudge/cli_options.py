"""Command-line options shared by the ``tracejudge`` command groups.

A module of its own because :mod:`tracejudge.cli` imports the ``task`` and ``serve``/``keys``
command modules while it is being built: they cannot import their options back from it.
"""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["DbOption"]

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLite file or sqlite:/// URL [default: $TRACEJUDGE_HOME/tracejudge.db]",
        show_default=False,
    ),
]
