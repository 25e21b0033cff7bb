"""The traces page's query: one page of a project's traces, filtered, sorted or sampled.

Reads the ``traces`` summary table (one row per trace, maintained at write time), so the
default view - newest first - is a range scan of ``ix_traces_project_start_ns`` however
many spans are stored. Every narrowing is an ``EXISTS`` on the trace's own rows (spans by
``(trace_rowid, span_id)``, evaluations by ``trace_id``), so a page costs O(page) probes
while matches are common; a rare match scans further, as any search would.

Pages are keyset-paginated: the cursor is the last row's (sort key, trace_rowid), so a
page never skips or repeats a trace while new traces arrive. Samples are deterministic
(a hash of the trace rowid and a seed shown in the URL), so a sample can be shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tracejudge.errors import ConfigurationError
from tracejudge.model import Evaluation, TraceSummary
from tracejudge.query.filter import compile_filter
from tracejudge.store.base import Store
from tracejudge.store.review import LABELLED_TRACE_SQL
from tracejudge.store.schema import TRACE_COLUMNS
from tracejudge.store.sqlite import SQLiteStore, summary_from_row
from tracejudge.store.tasks import FAIL_LABELS, PASS_LABELS

__all__ = [
    "MAX_PAGE",
    "RANK_WINDOW",
    "EvalChip",
    "Sampler",
    "Sort",
    "TraceListQuery",
    "TracePage",
    "eval_chips",
    "list_trace_page",
    "verdict_of",
]

MAX_PAGE = 500
RANK_WINDOW = 10_000


class Sort(StrEnum):
    """Orders of the trace list (all descending: newest, slowest, biggest first)."""

    TIME = "time"
    LATENCY = "latency"
    TOKENS = "tokens"
    LENGTH = "length"  # characters of the root span's output


class Sampler(StrEnum):
    """Sampling helpers: which traces to look at next."""

    RANDOM = "random"  # a deterministic random sample (seeded)
    SLOW = "slow"  # latency outliers: the slowest traces
    LONG = "long"  # length outliers: the longest final outputs
    FAILED = "failed"  # at least one failing evaluation
    UNLABELLED = "unlabelled"  # no current trace-level human label (as review queues count)


# SQL of each sort key over the traces table ``t``.
_SORT_SQL = {
    Sort.TIME: "t.start_ns",
    Sort.LATENCY: "(t.end_ns - t.start_ns)",
    Sort.TOKENS: "(t.prompt_tokens + t.completion_tokens)",
    Sort.LENGTH: (
        "coalesce((SELECT length(s.output) FROM spans AS s WHERE s.trace_rowid = t.trace_rowid"
        " AND s.span_id = t.root_span_id), 0)"
    ),
}
_SAMPLER_SORT = {Sampler.SLOW: Sort.LATENCY, Sampler.LONG: Sort.LENGTH}
_FAIL_SQL = ", ".join(f"'{label}'" for label in sorted(FAIL_LABELS))
_SELECT = ", ".join(f"t.{c}" for c in TRACE_COLUMNS)
# A hash of the rowid, a fixed pseudo-random order per seed: multiply by a seed-derived
# factor modulo a prime, then xor-shift (SQLite has no XOR: a ^ b == (a | b) - (a & b))
# and multiply again so neighbouring rowids do not stay in step.
_PRIME = 4294967291
_RANDOM_ORDER = (
    "(((((t.trace_rowid * ?) % 4294967291) | (((t.trace_rowid * ?) % 4294967291) >> 13))"
    " - (((t.trace_rowid * ?) % 4294967291) & (((t.trace_rowid * ?) % 4294967291) >> 13)))"
    " * 2246822519 % 4294967291)"
)


def _seed_factor(seed: int) -> int:
    return (seed * 2654435761 + 40503) % (_PRIME - 1) + 1  # never 0


@dataclass(frozen=True, slots=True)
class TraceListQuery:
    """What the traces page asked for (all optional but the project)."""

    project: str
    filter: str | None = None  # span filter: traces with at least one matching span
    search: str | None = None  # keyword in any span's input or output (case-insensitive)
    sort: Sort = Sort.TIME
    sampler: Sampler | None = None
    seed: int = 0  # for Sampler.RANDOM
    limit: int = 50
    after: str | None = None  # cursor: "<sort key>:<trace_rowid>" of the previous page's last
    judges: bool = False  # include the LLM judges' own traces (root span kind EVALUATOR)
    # Orders other than newest-first (and the random sample) rank the newest ``window``
    # traces of the project, so their cost is bounded however many are stored; None ranks all.
    window: int | None = RANK_WINDOW


@dataclass(frozen=True, slots=True)
class EvalChip:
    """One evaluator's verdict over a trace's spans: fail if any span failed."""

    name: str
    verdict: str  # pass | fail | error | other
    passed: int = 0
    failed: int = 0
    label: str | None = None  # the last label, shown when it is neither pass nor fail


@dataclass(frozen=True, slots=True)
class TracePage:
    """One page of the list."""

    rows: list[TraceSummary]
    verdicts: dict[str, list[EvalChip]] = field(default_factory=dict)  # by trace id
    next_cursor: str | None = None
    window: int | None = None  # set when the order ranked only the newest this many traces


def verdict_of(evaluation: Evaluation) -> str:
    """``pass``, ``fail``, ``error`` (no verdict reached) or ``other`` (a free label)."""
    if evaluation.error:
        return "error"
    if evaluation.label is not None:
        lowered = evaluation.label.strip().lower()
        if lowered in PASS_LABELS:
            return "pass"
        if lowered in FAIL_LABELS:
            return "fail"
        return "other"
    if evaluation.score is not None:
        return "pass" if evaluation.score >= 0.5 else "fail"
    return "other"


def eval_chips(evaluations: Sequence[Evaluation]) -> list[EvalChip]:
    """Per evaluator name, sorted: fail if any span failed, else pass, error or other."""
    by_name: dict[str, list[Evaluation]] = {}
    for e in evaluations:
        by_name.setdefault(e.name, []).append(e)
    chips = []
    for name in sorted(by_name):
        verdicts = [verdict_of(e) for e in by_name[name]]
        passed, failed = verdicts.count("pass"), verdicts.count("fail")
        verdict = next((v for v in ("fail", "pass", "error") if v in verdicts), "other")
        chips.append(EvalChip(name, verdict, passed, failed, by_name[name][-1].label))
    return chips


def _sqlite(store: Store) -> SQLiteStore:
    if not isinstance(store, SQLiteStore):
        raise ConfigurationError("the web UI needs the embedded SQLite store")
    return store


def _parse_cursor(after: str) -> tuple[int, int]:
    key, sep, rowid = after.partition(":")
    try:
        if not sep:
            raise ValueError(after)
        return int(key), int(rowid)
    except ValueError:
        raise ConfigurationError(f"after: not a page cursor: {after!r}") from None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_trace_page(store: Store, query: TraceListQuery) -> TracePage:
    """Run ``query``: the page's trace summaries, their evaluation chips and next cursor.

    :raises FilterSyntaxError: the filter does not parse (nothing is read).
    :raises ConfigurationError: a bad cursor or limit, or a store that is not SQLite.
    """
    if not 1 <= query.limit <= MAX_PAGE:
        raise ConfigurationError(f"limit must be between 1 and {MAX_PAGE}, got {query.limit}")
    compiled = compile_filter(query.filter) if query.filter else None
    sqlite = _sqlite(store)
    clauses = ["t.project = ?"]
    params: list[Any] = [query.project]
    if compiled is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM spans WHERE spans.trace_rowid = t.trace_rowid"
            f" AND ({compiled.sql}))"
        )
        params.extend(compiled.params)
    if not query.judges:
        clauses.append(
            "NOT EXISTS (SELECT 1 FROM spans AS r WHERE r.trace_rowid = t.trace_rowid"
            " AND r.span_id = t.root_span_id AND r.kind = 'EVALUATOR')"
        )
    if query.search:
        clauses.append(
            "EXISTS (SELECT 1 FROM spans AS k WHERE k.trace_rowid = t.trace_rowid"
            " AND (k.input LIKE ? ESCAPE '\\' OR k.output LIKE ? ESCAPE '\\'))"
        )
        params.extend([_like(query.search)] * 2)
    if query.sampler is Sampler.FAILED:
        clauses.append(
            "EXISTS (SELECT 1 FROM evaluations AS e WHERE e.trace_id = t.trace_id"
            f" AND e.error IS NULL AND lower(trim(e.label)) IN ({_FAIL_SQL}))"
        )
    if query.sampler is Sampler.UNLABELLED:
        clauses.append(f"NOT {LABELLED_TRACE_SQL}")  # the review store's own definition

    sort = _SAMPLER_SORT.get(query.sampler, query.sort)  # type: ignore[arg-type]
    ranked = query.sampler is Sampler.RANDOM or sort is not Sort.TIME
    source, source_params = "traces AS t", []
    if ranked and query.window is not None:
        # CROSS JOIN keeps SQLite's join order: the window first, then each trace by rowid.
        source = (
            "(SELECT trace_rowid FROM traces WHERE project = ?"
            " ORDER BY start_ns DESC, trace_rowid DESC LIMIT ?) AS w"
            " CROSS JOIN traces AS t ON t.trace_rowid = w.trace_rowid"
        )
        source_params = [query.project, query.window]
    if query.sampler is Sampler.RANDOM:
        order_sql, cursor_sql = _RANDOM_ORDER, None
        order_params: list[Any] = [_seed_factor(query.seed)] * 4
    else:
        key = _SORT_SQL[sort]
        order_sql, cursor_sql, order_params = key, key, []
    if query.after is not None and cursor_sql is not None:
        clauses.append(f"({cursor_sql}, t.trace_rowid) < (?, ?)")
        params.extend(_parse_cursor(query.after))
    sql = (
        f"SELECT {_SELECT}, {order_sql} AS sort_key FROM {source}"
        f" WHERE {' AND '.join(clauses)}"
        f" ORDER BY sort_key DESC, t.trace_rowid DESC LIMIT ?"
    )
    raw = sqlite.query(sql, [*order_params, *source_params, *params, query.limit + 1])
    more = len(raw) > query.limit
    raw = raw[: query.limit]
    rows = [summary_from_row(r[: len(TRACE_COLUMNS)]) for r in raw]
    next_cursor = None
    if more and cursor_sql is not None:
        last = raw[-1]
        next_cursor = f"{last[-1]}:{last[0]}"
    # One indexed query per listed trace (at most a page of them).
    verdicts = {r.trace_id: eval_chips(sqlite.evaluations(trace_id=r.trace_id)) for r in rows}
    return TracePage(rows, verdicts, next_cursor, query.window if ranked else None)
