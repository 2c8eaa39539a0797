"""Hot queries compiled once: the ORM builds and compiles a fixed-shape query the first time, later calls only
swap the parameter values into its SQL.

Compiling a query is most of what the ORM costs per statement: the SELECT of an order lists some hundred
columns (its own, its customer's, location's and promotion's), each quoted and joined for every request,
and a lock adds four EXISTS subqueries. For the few statements every write runs (an order locked, its stock
levels and allocations locked), `Compiled` keeps the compiled SQL, the parameter slots and the compiler's
row layout per database alias and thread, and builds the model instances exactly as the queryset's own
iterator does (joined rows cached on their relations, annotations set as attributes).

    order_by_pk = Compiled(lambda pk: Order.objects.select_for_update(of=("self",)).filter(pk=pk))
    orders = order_by_pk(42)  # a list of Order

The query's shape must depend only on the arguments' structure: each argument is an int, a string, or a
tuple or list of arguments (each length is its own shape, compiled on first use). Values enter the SQL only
as parameters: the first compile uses sentinel values and remembers where each lands among the parameters
(a shape where a sentinel does not land exactly once, as is, is never cached: a lookup that transforms its
value, such as `iexact` on SQLite, runs through the ORM every time).
Statements still go through the connection's cursor, so query counters and execute wrappers see them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.transaction import TransactionManagementError

# Sentinels: inside a 32-bit integer's range (out-of-range values make integer lookups match nothing),
# far above any id or quantity this API holds in the tests or the benchmarks.
_SENTINEL_BASE = 2_000_000_000
# Shapes kept per query and thread (a list's every length is a shape); past it, new shapes compile each time.
MAX_SHAPES = 256


def _shape(arg: Any) -> Any:
    if isinstance(arg, (list, tuple)):
        return tuple(_shape(a) for a in arg)
    if isinstance(arg, str):
        return "s"
    if isinstance(arg, bool) or not isinstance(arg, int):
        raise TypeError(f"Compiled queries take ints, strings and lists of them, not {type(arg).__name__}")
    return "i"


def _flatten(arg: Any, out: list) -> list:
    if isinstance(arg, (list, tuple)):
        for a in arg:
            _flatten(a, out)
    else:
        out.append(arg)
    return out


def _sentinels(shape: Any, counter: Iterator[int]) -> Any:
    if shape == "i":
        return next(counter)
    if shape == "s":
        return f"\x1fstateset-compiled-{next(counter)}\x1f"
    return [_sentinels(s, counter) for s in shape]


class _Entry:
    __slots__ = ("compiler", "sql", "params", "slots", "for_update", "layout")

    def __init__(self, compiler, sql, params, slots, for_update):
        self.compiler, self.sql, self.params, self.slots, self.for_update = compiler, sql, params, slots, for_update
        self.layout = None


class Compiled:
    """A queryset factory whose SQL is compiled once per argument shape, database alias and thread."""

    def __init__(self, build: Callable[..., QuerySet]):
        self.build = build
        self._local = threading.local()
        self._model = None
        self._for_write = False

    def __call__(self, *args: Any) -> list:
        shape = tuple(_shape(a) for a in args)
        if self._model is None:
            queryset = self.build(*args)
            self._model, self._for_write = queryset.model, queryset._for_write
            return list(queryset)
        alias = router.db_for_write(self._model) if self._for_write else router.db_for_read(self._model)
        cache = self._local.__dict__.setdefault("entries", {})
        key = (alias, shape)
        entry = cache.get(key, False)
        if entry is False:
            entry = self._compile(alias, shape)
            if len(cache) < MAX_SHAPES:
                cache[key] = entry
        if entry is None:  # not cacheable: the ORM all the way
            return list(self.build(*args).using(alias))
        return self._run(entry, alias, _flatten(args, []))

    def _compile(self, alias: str, shape: tuple) -> _Entry | None:
        counter = iter(range(_SENTINEL_BASE, _SENTINEL_BASE + 10_000))
        sentinels = [_sentinels(s, counter) for s in shape]
        flat = _flatten(sentinels, [])
        queryset = self.build(*sentinels).using(alias)
        if queryset._prefetch_related_lookups or queryset._known_related_objects or queryset._fields is not None:
            return None
        compiler = queryset.query.get_compiler(using=alias)
        try:
            sql, params = compiler.as_sql()
        except Exception:  # EmptyResultSet and the like: let the ORM answer every time
            return None
        params = list(params)
        slots = []
        for value in flat:
            # A backend may wrap a value for its driver (psycopg's Int8 for a bigint): the slot keeps the wrapper.
            kind = str if isinstance(value, str) else int
            positions = [
                i for i, p in enumerate(params) if isinstance(p, kind) and not isinstance(p, bool) and p == value
            ]
            if len(positions) != 1:
                return None
            wrapper = type(params[positions[0]])
            slots.append((positions[0], None if wrapper is kind else wrapper))
        features = compiler.connection.features
        for_update = bool(queryset.query.select_for_update and features.has_select_for_update)
        return _Entry(compiler, sql, params, slots, for_update)

    def _run(self, entry: _Entry, alias: str, values: list) -> list:
        connection = connections[alias]
        if entry.for_update and connection.get_autocommit() and connection.features.supports_transactions:
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        params = entry.params.copy()
        for (slot, wrapper), value in zip(entry.slots, values, strict=True):
            params[slot] = value if wrapper is None else wrapper(value)
        compiler = entry.compiler
        with connection.cursor() as cursor:
            cursor.execute(entry.sql, params)
            rows = cursor.fetchall()
        if compiler.has_extra_select:
            rows = [row[: compiler.col_count] for row in rows]
        if entry.layout is None:
            select, klass_info = compiler.select, compiler.klass_info
            start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            init_list = [f[0].target.attname for f in select[start:end]]
            entry.layout = (
                klass_info["model"],
                start,
                end,
                init_list,
                get_related_populators(klass_info, select, alias),
                compiler.annotation_col_map,
            )
        model, start, end, init_list, populators, annotations = entry.layout
        result = []
        for row in compiler.results_iter([rows]):
            obj = model.from_db(alias, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            if annotations:
                for name, position in annotations.items():
                    setattr(obj, name, row[position])
            result.append(obj)
        return result


def update_rows(model: type[Model], rows: Sequence[Model], fields: Sequence[str]) -> None:
    """`model.objects.bulk_update(rows, fields)` written by hand, one statement per batch, for the hot writes (a
    ship raises every shipped line's `quantity_shipped`): the ORM builds a `Case`/`When` per row and field and
    compiles it, which costs several times the write. A field every row of the batch sets to the same value
    is set once; the others take `CASE pk WHEN .. THEN .. END`. Like `bulk_update`: no `pre_save` (set
    `updated_at` yourself), no signals, every batch in one transaction; a row holding an expression (`F()`),
    or one never saved, goes to `bulk_update` itself."""
    if not rows:
        return
    attnames = [model._meta.get_field(name).attname for name in fields]
    if any(row.pk is None or any(hasattr(getattr(row, a), "resolve_expression") for a in attnames) for row in rows):
        model._base_manager.bulk_update(rows, fields)  # an expression or an unsaved row: the ORM's way
        return
    alias = router.db_for_write(model)
    connection = connections[alias]
    batch = connection.ops.bulk_batch_size(["pk", "pk", *fields], rows) or len(rows)
    with transaction.atomic(using=alias, savepoint=False):
        for start in range(0, len(rows), batch):
            _update_batch(connection, model, rows[start : start + batch], fields)


def _update_batch(connection, model: type[Model], rows: Sequence[Model], fields: Sequence[str]) -> None:
    qn = connection.ops.quote_name
    meta = model._meta
    pk_column = qn(meta.pk.column)
    postgresql = connection.vendor == "postgresql"
    sets, params = [], []
    pks = [meta.pk.get_db_prep_value(row.pk, connection) for row in rows]
    for name in fields:
        field = meta.get_field(name)
        column = qn(field.column)
        cast = f"::{field.cast_db_type(connection)}" if postgresql else ""
        values = [field.get_db_prep_save(getattr(row, field.attname), connection) for row in rows]
        if all(value == values[0] for value in values):
            sets.append(f"{column} = %s{cast}")
            params.append(values[0])
        else:
            sets.append(f"{column} = CASE {pk_column}{f' WHEN %s THEN %s{cast}' * len(rows)} END")
            for pk, value in zip(pks, values, strict=True):
                params.extend((pk, value))
    params.extend(pks)
    sql = f"UPDATE {qn(meta.db_table)} SET {', '.join(sets)} WHERE {pk_column} IN ({', '.join(['%s'] * len(rows))})"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
