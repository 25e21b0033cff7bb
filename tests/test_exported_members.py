"""Pins the public surface: adding or removing a top-level name is a deliberate change."""

from __future__ import annotations

import tracejudge

EXPECTED = {
    "Client",
    "EvalResult",
    "Evaluation",
    "Evaluator",
    "Span",
    "SpanKind",
    "Trace",
    "TraceSummary",
    "TracejudgeError",
    "__version__",
    "aevaluate",
    "evaluate",
    "evaluator",
    "flush",
    "observe",
    "register",
    "shutdown",
    "span",
    "using_attributes",
    "using_metadata",
    "using_session",
    "using_tags",
    "using_user",
}


def test_all_is_sorted_and_pinned() -> None:
    assert tracejudge.__all__ == sorted(tracejudge.__all__)
    assert set(tracejudge.__all__) == EXPECTED


def test_every_exported_name_resolves() -> None:
    for name in tracejudge.__all__:
        assert getattr(tracejudge, name) is not None, name


def test_public_functions_come_from_their_modules() -> None:
    assert tracejudge.register.__module__ == "tracejudge.capture.register"
    assert tracejudge.observe.__module__ == "tracejudge.capture.observe"
    assert tracejudge.Client.__module__ == "tracejudge.client"
    assert tracejudge.evaluate.__module__ == "tracejudge.evals.inline"
    assert tracejudge.evaluator.__module__ == "tracejudge.evals.decorator"
