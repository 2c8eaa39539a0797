"""Events: every change published once, written in the transaction of the change (issue #17).

A service never writes an event row itself. `stateset.fsm` calls `emit()` for every audited action (each
`apply_transition` that changes a status, each `log_event`), and the few writes that leave no audit row (a
create, a delete, a stock level moved) call it once. `emit()` only notes the change; the events of one
transaction are rendered and inserted in ONE statement when its outermost `transaction.atomic()` block ends
successfully, before the COMMIT (the `Atomic.__exit__` hook installed by `install()`). So:

- a rolled-back write (an exception out of the block, or out of a savepoint inside it) leaves no event, and a
  committed one always has its events: they are rows of the same transaction;
- `data` is the object as the API renders it once the whole change is done (a delete: as it was before);
- the write path pays one INSERT per action for its events, whatever the number of objects it touched.

The core app knows no domain model: each app registers its models here (`register`) with the viewset whose
rendering an event carries, from its AppConfig.ready().
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, models, transaction
from django.db.transaction import Atomic
from django.utils import timezone

from stateset.actors import Actor
from stateset.middleware import current_request_id

LOADED = "_stateset_event_loaded"
BUFFER = "_stateset_events"
TRANSPARENT = "_stateset_events_transparent"


@dataclass(frozen=True)
class Source:
    """A model whose changes are published: its object type (`order`) and the viewset that renders it."""

    model: type[models.Model]
    object_type: str
    viewset: type
    view_permission: str
    follow: Any = None
    from_memory: Any = None


_sources: dict[type[models.Model], Source] = {}


def register(
    model: type[models.Model], *, viewset: type, object_type: str | None = None, follow=None, from_memory=None
) -> None:
    """Publish the changes of `model`, rendered as `viewset` renders it (its queryset and serializer).
    `follow(obj, data)` may name further events the rendered object calls for (`stock.low`);
    `from_memory(objs)` may ready objects for rendering without a read (and mark them `as_written`)."""
    opts = model._meta
    _sources[model] = Source(
        model=model,
        object_type=object_type or viewset.get_object_type(),
        viewset=viewset,
        view_permission=f"{opts.app_label}.view_{opts.model_name}",
        follow=follow,
        from_memory=from_memory,
    )


_api_names: dict[type[models.Model], dict[str, str]] = {}


def api_names(source: Source) -> dict[str, str]:
    """Model field name -> the key the API renders it under (`first_name` -> `firstName`), for the fields the
    API renders straight from a model field."""
    names = _api_names.get(source.model)
    if names is None:
        serializer = source.viewset.serializer_class()
        names = {}
        for key, fld in serializer.fields.items():
            src = getattr(fld, "source", None) or key
            if src != "*" and "." not in src:
                names.setdefault(src, key)
        _api_names[source.model] = names
    return names


def source_for(model: type[models.Model] | models.Model) -> Source | None:
    model = model if isinstance(model, type) else type(model)
    return _sources.get(model) or _sources.get(model._meta.concrete_model)


def sources() -> list[Source]:
    return list(_sources.values())


def source_by_type(object_type: str) -> Source | None:
    return next((s for s in _sources.values() if s.object_type == object_type), None)


# ---- naming --------------------------------------------------------------------------------------------

_PAST = {
    "hold": "held",
    "split": "split",
    "ship": "shipped",
    "cancel": "cancelled",
    "send": "sent",
    "tag": "tagged",
    "untag": "untagged",
    "submit": "submitted",
    "buildtostock": "built_to_stock",
    "mark_returned": "returned",
    "unmark_returned": "return_reverted",
    "mark_exchanged": "exchanged",
    "update_order": "updated",
    "merge_into": "merged_into",
}
_VERBS = {"add", "remove", "change", "apply", "sync", "return", "unreturn"}


def past_tense(action: str) -> str:
    """The event name of an action: `ship` -> `shipped`, `add_item` -> `item_added`, `create` -> `created`."""
    if action in _PAST:
        return _PAST[action]
    verb, _, rest = action.partition("_")
    if rest and verb in _VERBS:
        return f"{rest}_{past_tense(verb)}"
    if action.endswith("e"):
        return action + "d"
    if action.endswith("y") and action[-2:-1] not in "aeiou":
        return action[:-1] + "ied"
    return action + "ed"


def event_type(source: Source, action: str) -> str:
    return action if "." in action else f"{source.object_type}.{past_tense(action)}"


# ---- noting a change -------------------------------------------------------------------------------------


@dataclass
class Pending:
    obj: models.Model
    source: Source
    type: str
    actor: str
    request_id: str
    created_at: datetime
    depth: int
    data: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    key: tuple[str, int] = field(init=False)

    def __post_init__(self):
        self.key = (self.source.object_type, int(self.obj.pk))


def _field_values(obj: models.Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname, None) for f in obj._meta.concrete_fields if not f.primary_key}


def remember(obj: models.Model) -> None:
    """Keep the field values `obj` was read with (`stateset.fsm.lock` calls this), for `previous_attributes`."""
    if source_for(obj) is not None:
        obj.__dict__[LOADED] = _field_values(obj)


def _previous(obj: models.Model, rendered_as: dict[str, str]) -> dict[str, Any] | None:
    """The fields changed since `remember` (or the last event), with their old values, as JSON, under the names
    the API renders them with (a field the API does not render is left out)."""
    loaded = obj.__dict__.get(LOADED)
    if loaded is None:
        return None
    now = _field_values(obj)
    obj.__dict__[LOADED] = now
    names = {f.attname: f.name for f in obj._meta.concrete_fields}
    changed = {
        rendered_as[names[a]]: old
        for a, old in loaded.items()
        if a in now and old != now[a] and names[a] in rendered_as and a != "updated_at" and not _is_expression(now[a])
    }
    return json.loads(json.dumps(changed, cls=DjangoJSONEncoder)) if changed else None


def _is_expression(value: Any) -> bool:
    return hasattr(value, "resolve_expression")


def _outer(block) -> bool:
    """A block around whole requests or tests, not a write's own transaction: events are written when the
    blocks inside it end (their rows are still part of its transaction, and roll back with it)."""
    return getattr(block, "_from_testcase", False) or getattr(block, TRANSPARENT, False)


def transparent(block: Atomic) -> Atomic:
    """Mark an atomic block that wraps a whole request (stateset.idempotency): the services' blocks inside it
    write their events when they end, so the response renders what they rendered."""
    setattr(block, TRANSPARENT, True)
    return block


def _only_testcase_blocks(conn) -> bool:
    return all(_outer(block) for block in conn.atomic_blocks)


def emit(obj: models.Model, action: str, *, by: Actor, snapshot: bool = False) -> None:
    """Note that `action` happened to `obj` (an event `<object type>.<action in the past tense>`, or `action`
    itself when it has a dot, like `stock.low`). Written when the transaction's outermost block ends (at once
    outside one). `snapshot` renders the object now: for a delete, before the row goes."""
    source = source_for(obj)
    if source is None or obj.pk is None:
        return
    conn = transaction.get_connection()
    pending = Pending(
        obj=obj,
        source=source,
        type=event_type(source, action),
        actor=by.label[:255],
        request_id=current_request_id() if current_request_id() != "-" else "",
        created_at=timezone.now(),
        depth=len(conn.atomic_blocks),
        previous=_previous(obj, api_names(source)),
    )
    if snapshot:
        pending.data = render(source, [obj])[obj.pk]
    if not conn.in_atomic_block or _only_testcase_blocks(conn):
        write([pending])
        return
    conn.__dict__.setdefault(BUFFER, []).append(pending)


# ---- rendering -------------------------------------------------------------------------------------------


def _view(source: Source):
    view = source.viewset()
    view.request, view.format_kwarg, view.action, view.args, view.kwargs = None, None, "retrieve", (), {}
    return view


_querysets: dict[Source, models.QuerySet] = {}


def _queryset(source: Source, view) -> models.QuerySet:
    """The viewset's queryset (without a request), built once per source: building one can cost more than
    rendering from memory (the item list's three total subqueries: about 7 ms). It is never evaluated itself,
    only read for its joins and prefetches, and filtered (a clone) for the objects read again."""
    queryset = _querysets.get(source)
    if queryset is None:
        queryset = _querysets[source] = view.get_queryset()
    return queryset


def render(source: Source, objs: Iterable[models.Model]) -> dict[int, dict[str, Any]]:
    """Each object as the API renders it: from memory when a service marked it `as_written` (the response then
    finds its related sets already loaded), else read again through the viewset's queryset, in one query for
    all of them; the object then holds what was read (and is `as_written`), so the response reads nothing
    more."""
    from django.db.models import prefetch_related_objects

    from stateset.api import _holds_related
    from stateset.prefetch import as_written, is_as_written

    view = _view(source)
    queryset = _queryset(source, view)
    if source.from_memory is not None:
        objs = list(objs)
        source.from_memory(objs)
    out: dict[int, dict[str, Any]] = {}
    stale: dict[int, list[models.Model]] = defaultdict(list)
    for obj in objs:
        if obj.pk in out or obj.pk in stale:
            stale[obj.pk].append(obj) if obj.pk in stale else None
            continue
        if is_as_written(obj) and _holds_related(obj, queryset):
            prefetch_related_objects([obj], *queryset._prefetch_related_lookups)
            out[obj.pk] = _plain(view.render(obj))
        else:
            stale[obj.pk].append(obj)
    if stale:
        fresh = {row.pk: row for row in queryset.filter(pk__in=list(stale))}
        for pk, held in stale.items():
            row = fresh.get(pk)
            if row is None:  # gone within the transaction: as last held
                out[pk] = _plain(view.render(held[0]))
                continue
            out[pk] = _plain(view.render(row))
            for obj in held:
                loaded = obj.__dict__.get(LOADED)
                obj.__dict__.update(row.__dict__)
                if loaded is not None:
                    obj.__dict__[LOADED] = loaded
                as_written(obj)
    return out


def _plain(data: Any) -> Any:
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


# ---- writing ---------------------------------------------------------------------------------------------


def write(pending: list[Pending]) -> None:
    """Render what is not rendered yet, number each object's events and insert them in one statement."""
    if not pending:
        return
    # An object deleted later in the transaction is rendered by its snapshot (emit(..., snapshot=True) before
    # the delete): it can no longer be read, and Django has cleared its primary key.
    snapshots = {p.key: p.data for p in pending if p.data is not None}
    for p in pending:
        if p.data is None and p.obj.pk is None and p.key in snapshots:
            p.data = snapshots[p.key]
    by_source: dict[Source, list[models.Model]] = defaultdict(list)
    for p in pending:
        if p.data is None:
            by_source[p.source].append(p.obj)
    rendered = {(s.object_type, pk): data for s, objs in by_source.items() for pk, data in render(s, objs).items()}
    followed = []
    for p in pending:
        if p.source.follow is not None and p.data is None:
            for action in p.source.follow(p.obj, rendered[p.key]):
                followed.append(
                    Pending(p.obj, p.source, event_type(p.source, action), p.actor, p.request_id, p.created_at, p.depth)
                )
    pending = pending + followed
    counts: dict[tuple[str, int], int] = defaultdict(int)
    rows = []
    for p in pending:
        counts[p.key] += 1
        data = p.data if p.data is not None else rendered[p.key]
        rows.append((p, counts[p.key], data))
    conn = connections["default"]
    if conn.vendor == "postgresql":
        _insert_postgresql(conn, rows, counts)
    else:
        _insert_numbered_from_events(conn, rows)
    _after_write()


def _values(conn, p: Pending, data: dict, k: int) -> list[Any]:
    created = conn.ops.adapt_datetimefield_value(p.created_at)
    previous = json.dumps(p.previous) if p.previous else None
    return [p.type, p.key[0], p.key[1], k, json.dumps(data), previous, p.actor, p.request_id, created]


_COLUMNS = "type, object_type, object_id, sequence, data, previous_attributes, actor, request_id, created_at"


def _insert_numbered_from_events(conn, rows) -> None:
    """SQLite (writers serialised): each object's next numbers follow the largest it has (or had, before a
    purge: stateset.services.event_purge keeps it in the counter)."""
    params: list[Any] = []
    values = []
    for p, k, data in rows:
        t, ot, oid, _, d, prev, actor, rid, created = _values(conn, p, data, k)
        values.append(
            "(%s, %s, %s, (SELECT COALESCE(MAX(n), 0) + %s FROM (SELECT MAX(sequence) AS n FROM stateset_event "
            "WHERE object_type = %s AND object_id = %s UNION ALL SELECT last FROM stateset_eventcounter "
            "WHERE object_type = %s AND object_id = %s)), %s, %s, %s, %s, %s)"
        )
        params += [t, ot, oid, k, ot, oid, ot, oid, d, prev, actor, rid, created]
    with conn.cursor() as cursor:
        cursor.execute(f"INSERT INTO stateset_event ({_COLUMNS}) VALUES {', '.join(values)}", params)


def _insert_postgresql(conn, rows, counts) -> None:
    """PostgreSQL: one statement takes each object's counter row (locked until the commit, in a fixed order, so
    two transactions writing one object's events number them one after the other) and inserts the events."""
    keys = sorted(counts)
    counter_values = ", ".join(["(%s, %s::bigint, %s::int)"] * len(keys))
    params: list[Any] = []
    for key in keys:
        params += [key[0], key[1], counts[key]]
    event_values = ", ".join(
        ["(%s, %s, %s::bigint, %s::int, %s::int, %s::jsonb, %s::jsonb, %s, %s, %s::timestamptz)"] * len(rows)
    )
    for p, k, data in rows:
        t, ot, oid, _, d, prev, actor, rid, created = _values(conn, p, data, k)
        params += [t, ot, oid, counts[p.key], k, d, prev, actor, rid, created]
    sql = (
        "WITH c AS (INSERT INTO stateset_eventcounter (object_type, object_id, last) "
        f"VALUES {counter_values} ON CONFLICT (object_type, object_id) "
        "DO UPDATE SET last = stateset_eventcounter.last + EXCLUDED.last RETURNING object_type, object_id, last) "
        f"INSERT INTO stateset_event ({_COLUMNS}) "
        "SELECT v.type, v.object_type, v.object_id, c.last - v.n + v.k, v.data, v.previous, v.actor, v.request_id, "
        f"v.created_at FROM (VALUES {event_values}) AS v(type, object_type, object_id, n, k, data, previous, actor, "
        "request_id, created_at) JOIN c ON c.object_type = v.object_type AND c.object_id = v.object_id"
    )
    with conn.cursor() as cursor:
        cursor.execute(sql, params)


def _after_write() -> None:
    """Hook for delivery (stateset.webhooks): called inside the transaction after events were written."""
    for hook in _write_hooks:
        hook()


_write_hooks: list = []


def on_write(hook) -> None:
    if hook not in _write_hooks:
        _write_hooks.append(hook)


# ---- the transaction hook --------------------------------------------------------------------------------

_original_exit = Atomic.__exit__


def _atomic_exit(self, exc_type, exc_value, traceback):
    conn = transaction.get_connection(self.using)
    buffer = conn.__dict__.get(BUFFER)
    if buffer and conn.in_atomic_block:
        depth = len(conn.atomic_blocks)  # this block is the last one
        if exc_type is not None or conn.needs_rollback:
            buffer[:] = [p for p in buffer if p.depth < depth]  # its changes are undone: so are their events
        elif not _outer(self) and all(_outer(block) for block in conn.atomic_blocks[:-1]):
            pending = buffer[:]
            buffer.clear()
            try:
                write(pending)
            except BaseException:
                exc_info = sys.exc_info()
                _original_exit(self, *exc_info)  # roll back: the change without its events is not committed
                raise
        else:
            for p in buffer:  # the block's savepoint is released: its events belong to the enclosing block
                p.depth = min(p.depth, depth - 1)
    return _original_exit(self, exc_type, exc_value, traceback)


def install() -> None:
    """Write the buffered events at the end of each outermost atomic block (from StatesetConfig.ready)."""
    if Atomic.__exit__ is not _atomic_exit:
        Atomic.__exit__ = _atomic_exit
