"""The shared OTLP workload generator (``../shared/bench/otlp_load.py``), loaded by path."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

__all__ = ["DEFAULT_SHARED", "load_generator"]

DEFAULT_SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "bench"


def load_generator(shared: Path) -> ModuleType:
    """The shared ``otlp_load.py`` imported by file path."""
    path = Path(shared) / "otlp_load.py"
    spec = importlib.util.spec_from_file_location("otlp_load", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path} (pass --shared DIR)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
