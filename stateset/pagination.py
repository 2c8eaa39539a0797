"""One page of a list (contract §1.4–1.5; issue #16): a bounded count, an exact `has_more`, and offset or cursor
(keyset) paging. Used by every list the API serves (`stateset.api.ListMixin`, `/history`, an item's
`/movements`).

- **Counting.** `total_count` is exact up to `COUNT_BOUND` (10,000): `SELECT count(*) FROM (SELECT ... LIMIT
  10001)` reads at most 10,001 index entries. Above it the envelope says `total_count_exact: false` and
  `total_count` is PostgreSQL's estimate of the filtered query's rows (its `EXPLAIN`), never below 10,001;
  on SQLite it is 10,001 ("more than 10,000"). An offset page that reaches the end of the list is its own
  count (offset + its rows): no count query then.
- **`has_more`** is always exact: the page reads `limit + 1` rows.
- **Offset** stops at `MAX_OFFSET` (10,000): reading past it costs what skipping the rows costs, so a larger one
  is a 400 (`validation_error` on `offset`) that names the cursor parameters.
- **Cursors** (Stripe's shape): `starting_after=<id>` is the page after that row in the list's order,
  `ending_before=<id>` the page before it. The row's sort key `(order_by, id)` bounds the query (keyset), so
  the millionth page costs what the first does and rows inserted meanwhile shift nothing.
- **No skipped rows.** An id and a `created_at` are taken before the row's transaction commits, so a row can
  become visible after a row with a later key (a reader that moved past the later one would never see it). A
  cursor page therefore lists only rows created before the *settle horizon*: `CURSOR_SETTLE_SECONDS` (1 s)
  before the start of the oldest transaction still writing (PostgreSQL: `pg_stat_activity.xact_start` of the
  backends holding a transaction id), or before now when none is. The horizon is read in its own statement
  before the page's, so a writer that commits in between is in the page's snapshot. See docs/decisions.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, models
from django.db.models import Q
from django.utils import timezone
from rest_framework import exceptions

from stateset.limits import COUNT_BOUND, CURSOR_SETTLE_SECONDS, MAX_OFFSET


def check_offset(offset: int) -> None:
    if offset > MAX_OFFSET:
        message = (
            f"'offset' must be at most {MAX_OFFSET}: page further with a cursor, "
            "'starting_after=<id of the last row you have>' (or 'ending_before=<id>' backwards)."
        )
        raise exceptions.ValidationError({"offset": [message]})


@dataclass
class Page:
    rows: list[Any]
    total_count: int
    total_count_exact: bool
    has_more: bool

    def envelope(self, key: str, data: Any, *, limit: int, offset: int) -> dict[str, Any]:
        return {
            key: data,
            "total_count": self.total_count,
            "total_count_exact": self.total_count_exact,
            "limit": limit,
            "offset": offset,
            "has_more": self.has_more,
        }


def bounded_count(queryset: models.QuerySet) -> tuple[int, bool]:
    """(count, exact): exact up to COUNT_BOUND; above it the planner's estimate (PostgreSQL) or COUNT_BOUND+1."""
    queryset = queryset.order_by()
    found = queryset[: COUNT_BOUND + 1].count()
    if found <= COUNT_BOUND:
        return found, True
    estimate = 0
    if connection.vendor == "postgresql":
        # The filtered rows' ids: the estimate of the same WHERE, without planning the list's joined columns.
        plan = json.loads(queryset.values("pk").explain(format="json"))
        estimate = int(plan[0]["Plan"].get("Plan Rows", 0))
    return max(estimate, COUNT_BOUND + 1), False


def settle_horizon() -> datetime:
    """The moment before which every row that will ever be listed is already visible (see the module doc)."""
    settle = timedelta(seconds=CURSOR_SETTLE_SECONDS)
    if connection.vendor != "postgresql":
        return timezone.now() - settle
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT least(clock_timestamp(), min(xact_start)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
        )
        (oldest,) = cursor.fetchone()
    return oldest - settle


def _sort_field(model: type[models.Model], order_by: str) -> str:
    return "pk" if order_by in ("id", "pk") else order_by


def cursor_row_key(model: type[models.Model], field: str, pk: int, param: str) -> Any:
    if field != "pk" and model._meta.get_field(field).null:
        raise exceptions.ValidationError(
            {
                param: [
                    f"Cursor paging needs a sort on a field every row has; '{field}' may be empty: sort by "
                    "created_at, updated_at or id."
                ]
            }
        )
    values = model._default_manager.filter(pk=pk).values_list(field, flat=True)[:1]
    if not values:
        raise exceptions.ValidationError({param: [f"No {model._meta.verbose_name} {pk}: a cursor names a row."]})
    return values[0]


def page_query(
    queryset: models.QuerySet,
    *,
    order_by: str,
    descending: bool,
    limit: int,
    offset: int = 0,
    starting_after: int | None = None,
    ending_before: int | None = None,
    settle_field: str | None = "created_at",
) -> models.QuerySet:
    """The query of one page, `limit + 1` rows (the extra one says `has_more`), ordered by `(order_by, pk)` in
    the direction it is read (an `ending_before` page reads backwards from its cursor)."""
    model = queryset.model
    field = _sort_field(model, order_by)
    cursor = starting_after if starting_after is not None else ending_before
    down = descending
    if cursor is None:
        check_offset(offset)
    else:
        param = "starting_after" if starting_after is not None else "ending_before"
        key = cursor_row_key(model, field, cursor, param)
        # The rows after the cursor in the direction read: down (smaller keys) or up.
        down = descending if starting_after is not None else not descending
        op = "lt" if down else "gt"
        if field == "pk":
            queryset = queryset.filter(**{f"pk__{op}": cursor})
        else:
            queryset = queryset.filter(Q(**{f"{field}__{op}": key}) | Q(**{field: key, f"pk__{op}": cursor}))
        if settle_field is not None:
            queryset = queryset.filter(**{f"{settle_field}__lt": settle_horizon()})
        offset = 0
    prefix = "-" if down else ""
    ordering = [f"{prefix}{field}"] + ([f"{prefix}pk"] if field != "pk" else [])
    return queryset.order_by(*ordering)[offset : offset + limit + 1]


def paginate(queryset: models.QuerySet, *, limit: int, ending_before: int | None = None, **kwargs: Any) -> Page:
    """The page of `queryset` (see `page_query` for the arguments), with its bounded count. An offset page
    that holds the last row (no more after it, and rows or offset 0) says the count itself: offset + rows,
    with no count query (a search or a filter matching a few rows runs its query once, not twice)."""
    rows = list(page_query(queryset, limit=limit, ending_before=ending_before, **kwargs))
    has_more = len(rows) > limit
    rows = rows[:limit]
    offset = kwargs.get("offset", 0)
    by_cursor = ending_before is not None or kwargs.get("starting_after") is not None
    if not by_cursor and not has_more and (rows or not offset):
        total, exact = offset + len(rows), True
    else:
        total, exact = bounded_count(queryset)
    if ending_before is not None:
        rows.reverse()  # read backwards from the cursor, shown in the list's order
    return Page(rows, total, exact, has_more)
