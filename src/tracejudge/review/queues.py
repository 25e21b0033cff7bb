"""Review-queue rules: drawing a sample, handing out the next item, measuring progress.

Several reviewers share one queue. An item is handed to one reviewer at a time through a
*claim* (a lease that expires, default 10 minutes, so an abandoned item comes back), and
an item anyone has labelled is never handed out again. The store runs :func:`pick_next`
inside one write transaction, so two reviewers asking at once get different items.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from tracejudge.errors import ConfigurationError

__all__ = [
    "DEFAULT_LEASE_S",
    "MAX_QUEUE_ITEMS",
    "Claim",
    "QueueProgress",
    "pick_next",
    "sample_items",
]

DEFAULT_LEASE_S = 600.0
MAX_QUEUE_ITEMS = 10_000


@dataclass(frozen=True, slots=True)
class Claim:
    """The newest claim on one queue item: who holds it and until when."""

    trace_id: str
    annotator: str
    claimed_at_ns: int
    expires_at_ns: int

    def active(self, now_ns: int) -> bool:
        return self.expires_at_ns > now_ns


@dataclass(frozen=True, slots=True)
class QueueProgress:
    """How far a queue is: ``labelled`` of ``total`` items carry a label from anyone."""

    total: int
    labelled: int
    held: int = 0  # unlabelled items someone has claimed (lease not expired)

    @property
    def remaining(self) -> int:
        return self.total - self.labelled

    def __str__(self) -> str:
        return f"{self.labelled} of {self.total} labelled"


def sample_items(candidates: Sequence[str], size: int, seed: int) -> tuple[str, ...]:
    """``size`` distinct candidates drawn with ``random.Random(seed)`` (all of them, shuffled,
    when there are fewer): the same seed over the same candidates gives the same queue."""
    if size < 1 or size > MAX_QUEUE_ITEMS:
        raise ConfigurationError(f"sample: size must be between 1 and {MAX_QUEUE_ITEMS}")
    return tuple(random.Random(seed).sample(list(candidates), min(size, len(candidates))))


def pick_next(
    items: Sequence[str],
    labelled: Collection[str],
    claims: Mapping[str, Claim],
    annotator: str,
    now_ns: int,
) -> tuple[str | None, bool]:
    """The item ``annotator`` should review next and whether a new claim must be written.

    An unlabelled item the annotator already holds comes first (a reload shows the same
    trace); then the first unlabelled item in queue order nobody else holds. ``claims``
    maps trace id -> its newest claim. ``(None, False)`` when nothing is left.
    """
    for trace_id in items:
        claim = claims.get(trace_id)
        if (
            trace_id not in labelled
            and claim is not None
            and claim.annotator == annotator
            and claim.active(now_ns)
        ):
            return trace_id, False
    for trace_id in items:
        if trace_id in labelled:
            continue
        claim = claims.get(trace_id)
        if claim is None or not claim.active(now_ns) or claim.annotator == annotator:
            return trace_id, True
    return None, False
