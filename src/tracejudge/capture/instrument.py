"""Turn on every installed OpenInference instrumentor, pointed at our tracer provider.

We use the instrumentors as published (they know their libraries far better than a
rewrite would). Discovery: the ``openinference_instrumentor`` entry points that
OpenInference packages declare, then a list of known ``openinference.instrumentation.<x>``
modules for packages that do not declare one. A broken or unsupported instrumentor is
logged and skipped; it never stops ``register``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from typing import Any

from opentelemetry.trace import TracerProvider

__all__ = ["KNOWN_MODULES", "discover_instrumentors", "instrument_all"]

_log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "openinference_instrumentor"
KNOWN_MODULES = (
    "openai",
    "anthropic",
    "langchain",
    "llama_index",
    "litellm",
    "bedrock",
    "mistralai",
    "groq",
    "vertexai",
    "google_genai",
    "dspy",
    "haystack",
    "crewai",
    "instructor",
    "openai_agents",
    "smolagents",
    "autogen_agentchat",
    "pydantic_ai",
    "agno",
    "mcp",
    "portkey",
    "beeai",
    "guardrails",
)
_PREFIX = "openinference.instrumentation."


def _instrumentor_class(module: Any) -> type | None:
    """The ``BaseInstrumentor`` subclass a module exports (``XInstrumentor``), if any."""
    from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

    for attr in dir(module):
        obj = getattr(module, attr, None)
        if (
            attr.endswith("Instrumentor")
            and isinstance(obj, type)
            and issubclass(obj, BaseInstrumentor)
            and obj is not BaseInstrumentor
        ):
            return obj
    return None


def discover_instrumentors() -> dict[str, type]:
    """Installed OpenInference instrumentor classes by short name (``"openai"``)."""
    found: dict[str, type] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception:
            _log.warning("tracejudge: could not load instrumentor %s", ep.value, exc_info=True)
            continue
        found.setdefault(ep.name, cls)
    covered = {getattr(cls, "__module__", "") for cls in found.values()}
    for short in KNOWN_MODULES:
        name = _PREFIX + short
        if short in found or any(m == name or m.startswith(name + ".") for m in covered):
            continue
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue  # not installed
        except Exception:
            _log.warning("tracejudge: importing %s failed", name, exc_info=True)
            continue
        cls = _instrumentor_class(module)
        if cls is not None:
            found[short] = cls
    return found


def instrument_all(tracer_provider: TracerProvider) -> list[str]:
    """Instrument every discovered library with ``tracer_provider``; returns the names done.

    An instrumentor already active (from an earlier ``register``) is re-pointed at the new
    provider by uninstrumenting it first: instrumentors are process-wide singletons.
    """
    done: list[str] = []
    for short, cls in sorted(discover_instrumentors().items()):
        try:
            inst = cls()
            if getattr(inst, "is_instrumented_by_opentelemetry", False):
                inst.uninstrument()
            inst.instrument(tracer_provider=tracer_provider)
        except Exception:
            _log.warning("tracejudge: instrumenting %s failed", short, exc_info=True)
            continue
        if getattr(inst, "is_instrumented_by_opentelemetry", False):
            done.append(short)
    return done
