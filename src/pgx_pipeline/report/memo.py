"""What the report writers make of the forms many patients share, kept by the form's identity.

A part of a cohort has ~17,500 distinct guidance rows and a few thousand distinct genotype rows, and each patient's
context holds ~270 and ~1,400 of them (context.DistinctRows). Their HTML, JSON and FHIR parts are made once per
form: an entry is keyed by the form's `id` and holds the form itself, so that id cannot be reused by another
object while the entry lives. Forms are read-only once made (`SharedForm`).
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

_SERIALS = itertools.count()


class SharedForm(dict):
    """A report form that many patients' contexts hold as the same object: never changed after it is made.
    `serial` names it for the life of the process (an id may be reused once the form is gone; a serial never)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.serial = next(_SERIALS)


class IdentityMemo:
    def __init__(self, limit: int = 100_000) -> None:
        self._entries: dict[int, tuple[Any, Any]] = {}
        self._limit = limit  # a bound on memory for very diverse cohorts; a miss only costs time

    def peek(self, obj: Any) -> Any:
        """What was made of `obj`, or None when nothing was."""
        hit = self._entries.get(id(obj))
        return hit[1] if hit is not None and hit[0] is obj else None

    def clear(self) -> None:
        self._entries.clear()

    def get(self, obj: Any, make: Callable[[Any], Any]) -> Any:
        hit = self._entries.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        if len(self._entries) >= self._limit:
            self._entries.clear()
        value = make(obj)
        self._entries[id(obj)] = (obj, value)
        return value


class KeyedMemo:
    """What was made of a composite of shared forms (a drug entry: its guideline rows plus the patient's own few
    fields), under a key that names the forms by `id`. Each entry holds the forms, so an id in a live key cannot be
    reused by another object."""

    def __init__(self, limit: int = 50_000) -> None:
        self._entries: dict[tuple, tuple[Any, Any]] = {}
        self._limit = limit

    def get(self, key: tuple, hold: Any, make: Callable[[], Any]) -> Any:
        hit = self._entries.get(key)
        if hit is not None:
            return hit[1]
        if len(self._entries) >= self._limit:
            self._entries.clear()
        value = make()
        self._entries[key] = (hold, value)
        return value
