"""The shared OTLP workload generator (``../shared/bench/otlp_load.py``), loaded by path."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

__all__ = ["DEFAULT_SHARED", "load_generator", "machine_load"]

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


def machine_load() -> str:
    """CPU count and 1-minute load average, printed beside figures that depend on them."""
    return f"{os.cpu_count()} / {os.getloadavg()[0]:.2f} (1-min average)"
