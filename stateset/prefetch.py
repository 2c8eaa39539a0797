"""Rendering an object from what a service already holds, instead of reading it again after the commit.

A service that wrote an object and keeps its fields exactly as stored (no F() expressions left on it, no
database defaults it did not see) marks it `as_written`, and puts the related rows it already has into the
object's prefetch cache with `prefetched` (the same cache Django's prefetch_related fills). The API then
renders it with at most one query per related set that is still missing (stateset.api.ResourceViewSet
.present), where it would otherwise re-read the object and every related set.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import models

AS_WRITTEN = "_stateset_as_written"
M = TypeVar("M", bound=models.Model)


def as_written(obj: M) -> M:
    """Mark `obj` as holding exactly what the database holds for it."""
    setattr(obj, AS_WRITTEN, True)
    return obj


def is_as_written(obj: Any) -> bool:
    return bool(getattr(obj, AS_WRITTEN, False))


def prefetched(obj: M, **related: Iterable[models.Model]) -> M:
    """Fill `obj`'s prefetch cache for each reverse relation named (`order_line_items=[...]`), in the given
    order, as `prefetch_related` would: `obj.order_line_items.all()` then costs no query."""
    cache = obj.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, rows in related.items():
        manager = getattr(obj, name)
        cache.pop(name, None)
        queryset = manager.get_queryset()  # a lazy, filtered queryset: no query runs here
        queryset._result_cache = list(rows)
        queryset._prefetch_done = True
        cache[name] = queryset
    return obj
