"""Annotation rules: validating what a reviewer sends, and what undo restores.

An annotation record carries the whole state of one (annotator, trace, span) key, so
"current" is simply the newest record of the key and undo is a *new* record (nothing is
ever updated). Each record's ``supersedes`` names the record whose state an undo of it
brings back; an undo record points one step further back, so repeated undos walk the
history instead of toggling between two states.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tracejudge.errors import ConfigurationError
from tracejudge.model import Annotation, Label

__all__ = [
    "EMPTY_STATE",
    "MAX_ANNOTATOR_CHARS",
    "MAX_NOTE_CHARS",
    "AnnotationState",
    "check_annotator",
    "check_label",
    "check_note",
    "resolve_failure_modes",
    "state_of",
    "undo_target",
]

MAX_NOTE_CHARS = 20_000
MAX_ANNOTATOR_CHARS = 200


@dataclass(frozen=True, slots=True)
class AnnotationState:
    """What one annotation key says right now (the fields a record sets)."""

    label: str | None = None
    note: str | None = None
    failure_modes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self.label is None and self.note is None and not self.failure_modes


EMPTY_STATE = AnnotationState()


def state_of(record: Annotation | None) -> AnnotationState:
    """The state a record sets (the empty state for no record)."""
    if record is None:
        return EMPTY_STATE
    return AnnotationState(record.label, record.note, record.failure_modes)


def check_label(value: object) -> str | None:
    """``pass``/``fail``/``defer`` (any case) or None; anything else is a ConfigurationError."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return Label(value.strip().lower()).value
        except ValueError:
            pass
    allowed = ", ".join(label.value for label in Label)
    raise ConfigurationError(f"label: must be one of {allowed} or null, not {value!r}")


def check_note(value: object) -> str | None:
    """A note as stored: None for blank, at most MAX_NOTE_CHARS characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"note: must be text, not {type(value).__name__}")
    if len(value) > MAX_NOTE_CHARS:
        raise ConfigurationError(f"note: longer than {MAX_NOTE_CHARS} characters")
    if "\x00" in value:
        raise ConfigurationError("note: contains a null byte")
    return value if value.strip() else None


def check_annotator(value: object) -> str:
    """A non-empty reviewer name without control characters."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError("annotator: a non-empty reviewer name is required")
    name = value.strip()
    if len(name) > MAX_ANNOTATOR_CHARS:
        raise ConfigurationError(f"annotator: longer than {MAX_ANNOTATOR_CHARS} characters")
    if any(ord(c) < 32 for c in name):
        raise ConfigurationError("annotator: contains control characters")
    return name


def resolve_failure_modes(values: Iterable[str], categories: Mapping[str, str]) -> tuple[str, ...]:
    """Category ids for ids or names (names match case-insensitively), in the given order,
    without duplicates. ``categories`` maps id -> name. Unknown ones are a
    ConfigurationError naming them (nothing is stored)."""
    if isinstance(values, str):
        raise ConfigurationError("failure_modes: a list of category ids or names, not a string")
    by_name = {name.casefold(): cid for cid, name in categories.items()}
    resolved: list[str] = []
    unknown: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise ConfigurationError(f"failure_modes: {value!r} is not a category id or name")
        cid = value if value in categories else by_name.get(value.strip().casefold())
        if cid is None:
            unknown.append(value)
        elif cid not in resolved:
            resolved.append(cid)
    if unknown:
        raise ConfigurationError(
            f"failure_modes: no such category in this project: {', '.join(map(repr, unknown))}"
        )
    return tuple(resolved)


def undo_target(
    current: Annotation | None, records: Mapping[str, Annotation]
) -> tuple[AnnotationState, str | None]:
    """The state an undo of ``current`` writes and the ``supersedes`` of that undo record.

    ``records`` maps id -> record of the same key. Raises ConfigurationError when there is
    nothing left to undo (no record, or already back at the empty start).
    """
    if current is None or (current.supersedes is None and state_of(current).empty):
        raise ConfigurationError("nothing to undo")
    if current.supersedes is None:
        return EMPTY_STATE, None  # undoing the first change clears the key
    previous = records[current.supersedes]
    return state_of(previous), previous.supersedes
