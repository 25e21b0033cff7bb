"""Per-evaluator pass rates of a project over time, for the evaluators page.

Every evaluation of the project counts (in-line, eval tasks, imports), grouped by its
name and by a time bucket of ``created_at_ns``. A verdict is a pass or a fail by the same
rule as a task's pass rate (:data:`tracejudge.store.tasks.PASS_LABELS` / ``FAIL_LABELS``,
else ``score >= 0.5``); an evaluation with an error and no verdict counts as an error.
One aggregate query (SQLite does the grouping); it scans the project's evaluations, which
there is no index by project for — fine for the sizes the UI shows, noted for scale.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass

from tracejudge.store.tasks import FAIL_LABELS, PASS_LABELS

__all__ = ["Bucket", "EvaluatorTrend", "Sparkline", "evaluator_trends", "sparkline"]

TARGET_BUCKETS = 24
_MIN_BUCKET_NS = 60 * 1_000_000_000


def _texts(values: frozenset[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values))


# 1 pass, 0 fail, NULL no verdict.
_VERDICT = (
    f"CASE WHEN lower(trim(label)) IN ({_texts(PASS_LABELS)}) THEN 1 "
    f"WHEN lower(trim(label)) IN ({_texts(FAIL_LABELS)}) THEN 0 "
    "WHEN score IS NOT NULL THEN score >= 0.5 END"
)


@dataclass(frozen=True, slots=True)
class Bucket:
    """Verdicts of one evaluator in one time bucket starting at ``start_ns``."""

    start_ns: int
    passed: int
    failed: int
    errors: int

    @property
    def pass_rate(self) -> float | None:
        verdicts = self.passed + self.failed
        return self.passed / verdicts if verdicts else None


@dataclass(frozen=True, slots=True)
class EvaluatorTrend:
    """One evaluation name: totals and the buckets (oldest first) that had any."""

    name: str
    buckets: tuple[Bucket, ...]
    sources: tuple[str, ...]  # inline / task / import, as recorded

    @property
    def passed(self) -> int:
        return sum(b.passed for b in self.buckets)

    @property
    def failed(self) -> int:
        return sum(b.failed for b in self.buckets)

    @property
    def errors(self) -> int:
        return sum(b.errors for b in self.buckets)

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors

    @property
    def pass_rate(self) -> float | None:
        verdicts = self.passed + self.failed
        return self.passed / verdicts if verdicts else None


def evaluator_trends(
    db_path: str, project: str, *, bucket_ns: int | None = None
) -> tuple[list[EvaluatorTrend], int]:
    """Trends of every evaluation name of ``project`` (sorted by name) and the bucket width.

    ``bucket_ns`` defaults to the project's evaluation time span over
    :data:`TARGET_BUCKETS` (at least a minute).
    """
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)) as conn:
        first, last = conn.execute(
            "SELECT min(created_at_ns), max(created_at_ns) FROM evaluations WHERE project = ?",
            (project,),
        ).fetchone()
        if first is None:
            return [], bucket_ns or _MIN_BUCKET_NS
        width = bucket_ns or max(_MIN_BUCKET_NS, -(-(last - first + 1) // TARGET_BUCKETS))
        rows = conn.execute(
            "SELECT name, (created_at_ns - ?) / ? AS b, sum(v IS 1), sum(v IS 0), "
            "sum(v IS NULL), group_concat(DISTINCT source) "
            f"FROM (SELECT name, created_at_ns, source, {_VERDICT} AS v FROM evaluations "
            "WHERE project = ?) GROUP BY name, b ORDER BY name, b",
            (first, width, project),
        ).fetchall()
    trends: dict[str, tuple[list[Bucket], set[str]]] = {}
    for name, index, passed, failed, errors, sources in rows:
        buckets, seen = trends.setdefault(name, ([], set()))
        buckets.append(Bucket(first + index * width, passed, failed, errors))
        seen.update((sources or "").split(","))
    return [
        EvaluatorTrend(name, tuple(buckets), tuple(sorted(s for s in seen if s)))
        for name, (buckets, seen) in trends.items()
    ], width


@dataclass(frozen=True, slots=True)
class Sparkline:
    """Inline-SVG geometry of pass rate over time (0% at the bottom, 100% at the top)."""

    width: int
    height: int
    points: str  # polyline "x,y x,y ..."
    dots: tuple[tuple[float, float, Bucket], ...]


def sparkline(
    buckets: Sequence[Bucket], first_ns: int, last_ns: int, *, width: int = 240, height: int = 48
) -> Sparkline | None:
    """Place each bucket that has verdicts by its time in ``[first_ns, last_ns]``."""
    pad = 4
    span = max(last_ns - first_ns, 1)
    dots = []
    for b in buckets:
        if b.pass_rate is None:
            continue
        x = pad + (width - 2 * pad) * (b.start_ns - first_ns) / span
        y = height - pad - (height - 2 * pad) * b.pass_rate
        dots.append((round(x, 1), round(y, 1), b))
    if not dots:
        return None
    return Sparkline(width, height, " ".join(f"{x},{y}" for x, y, _ in dots), tuple(dots))
