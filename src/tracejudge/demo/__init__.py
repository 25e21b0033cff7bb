"""``tracejudge demo``: a small, real RAG + tool-calling support assistant, fully traced.

Shipped inside the package so ``pip install tracejudge && tracejudge demo`` works with no
network: without ``OPENAI_BASE_URL``/``OPENAI_API_KEY`` it talks to a deterministic
"demo model" served on 127.0.0.1. Its traces (some deliberately failing: missing context,
a tool error, a refusal) are the material later evaluation and review features work on.
"""

from __future__ import annotations

from tracejudge.demo.assistant import FALLBACK_ANSWER, Answer, SupportAssistant
from tracejudge.demo.questions import QUESTIONS, Expect, Question
from tracejudge.demo.responder import demo_responder
from tracejudge.demo.runner import (
    DEFAULT_MODEL,
    DEMO_PROJECT,
    OFFLINE_MODEL,
    DemoError,
    DemoResult,
    DemoRun,
    Endpoint,
    EvaluatorStats,
    resolve_endpoint,
    run_demo,
)

__all__ = [
    "DEFAULT_MODEL",
    "DEMO_PROJECT",
    "FALLBACK_ANSWER",
    "OFFLINE_MODEL",
    "QUESTIONS",
    "Answer",
    "DemoError",
    "DemoResult",
    "DemoRun",
    "Endpoint",
    "EvaluatorStats",
    "Expect",
    "Question",
    "SupportAssistant",
    "demo_responder",
    "resolve_endpoint",
    "run_demo",
]
