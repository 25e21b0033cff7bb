"""Per-evaluator pass rates over time (the evaluators page's query) over a real store."""

from __future__ import annotations

from pathlib import Path

from tests.store._factory import T0, make_eval, make_span

from tracejudge.server.ui.evaluator_stats import Bucket, evaluator_trends, sparkline
from tracejudge.store import open_store

MINUTE_MS = 60_000


def test_trends_bucket_verdicts_by_time_and_name(tmp_path: Path) -> None:
    store = open_store(tmp_path / "stats.db")
    spans = [make_span(1, n) for n in range(1, 11)] + [make_span(2, 20, project="other")]
    evals = [
        # minute 0: 2 pass 1 fail; minute 2: 1 pass, 1 error; label-less scores count too.
        make_eval(1, 1, 1, created_ms=0, label="pass"),
        make_eval(2, 1, 2, created_ms=1_000, label="PASS ", score=None),
        make_eval(3, 1, 3, created_ms=2_000, label="fail", score=0.0),
        make_eval(4, 1, 4, created_ms=2 * MINUTE_MS, label=None, score=0.9, source="task"),
        make_eval(5, 1, 5, created_ms=2 * MINUTE_MS + 5, label=None, score=None, error="boom"),
        make_eval(6, 1, 6, created_ms=MINUTE_MS, name="tone", label="rude", score=0.2),
        make_eval(7, 2, 20, created_ms=0, project="other"),
    ]
    store.write(spans, evals)
    store.close()

    trends, width = evaluator_trends(
        str(tmp_path / "stats.db"), "shop", bucket_ns=MINUTE_MS * 10**6
    )
    assert width == MINUTE_MS * 10**6
    by_name = {t.name: t for t in trends}
    assert list(by_name) == ["correctness", "tone"]
    correctness = by_name["correctness"]
    assert correctness.buckets == (
        Bucket(T0, passed=2, failed=1, errors=0),
        Bucket(T0 + 2 * MINUTE_MS * 10**6, passed=1, failed=0, errors=1),
    )
    assert (correctness.passed, correctness.failed, correctness.errors) == (3, 1, 1)
    assert correctness.pass_rate == 0.75 and correctness.sources == ("inline", "task")
    assert by_name["tone"].pass_rate == 0.0  # no known label: score 0.2 < 0.5

    chart = sparkline(correctness.buckets, T0, T0 + 2 * MINUTE_MS * 10**6, width=100, height=50)
    assert chart is not None
    (x0, y0, _), (x1, y1, _) = chart.dots
    assert (x0, x1) == (4, 96)  # first and last bucket at the padded edges
    assert y1 == 4 and y0 == round(50 - 4 - 42 * 2 / 3, 1)  # 100% at the top, 67% below
    assert evaluator_trends(str(tmp_path / "stats.db"), "nobody") == ([], 60 * 10**9)
