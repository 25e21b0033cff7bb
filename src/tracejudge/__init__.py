"""tracejudge: trace-native evaluation for LLM applications.

This module only re-exports the public API; see the submodules for the implementation.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from tracejudge.capture import (
    flush,
    observe,
    register,
    shutdown,
    span,
    using_attributes,
    using_metadata,
    using_session,
    using_tags,
    using_user,
)
from tracejudge.client import Client
from tracejudge.errors import TracejudgeError
from tracejudge.evals import EvalResult, Evaluator, aevaluate, evaluate, evaluator
from tracejudge.model import Evaluation, Span, SpanKind, Trace, TraceSummary

try:
    __version__ = version("tracejudge")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = [
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
]
