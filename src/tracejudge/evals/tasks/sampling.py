"""Deterministic sampling: whether a span is in a task's sample depends only on its id.

``sample_point(span_id)`` is the first 8 bytes of ``sha256(span_id)`` as a fraction of
``2**64``, uniform in ``[0, 1)``; a span is sampled at rate ``r`` when that point is below
``r``. So a re-run, a backfill or a second task with the same rate pick exactly the same
spans, and a higher rate picks a superset.
"""

from __future__ import annotations

import hashlib

__all__ = ["in_sample", "sample_point"]

_SCALE = 2.0**64


def sample_point(span_id: str) -> float:
    """The span's fixed point in ``[0, 1)``: ``int(sha256(span_id)[:8]) / 2**64``."""
    digest = hashlib.sha256(span_id.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def in_sample(span_id: str, rate: float) -> bool:
    """True when the span is in a ``rate`` sample (always for 1.0, never for 0.0)."""
    if rate >= 1.0:
        return True
    return sample_point(span_id) < rate
