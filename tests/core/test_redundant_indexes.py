"""No index of ours is a left prefix of another on the same table: the longer one answers every lookup the
shorter one does, and each index is written on every insert (and on every update that is not HOT). Django adds
an index to each foreign key and `db_index` field; where a composite index or a unique constraint starts with
that column, the field says `db_index=False`."""

from __future__ import annotations

from django.apps import apps
from django.db import connection

OURS = {"orders", "returns", "inventory", "manufacturing", "crm", "stateset", "backoffice"}
# `created_at` comes from stateset.models.TimeStampedModel with its index. Overriding it on these three models
# (whose (created_at, id) index makes it redundant) would move the column after `updated_at` in every field list.
# A return's status keeps its index: the list plans test's count by status reads the table without it.
KEPT = {
    "orders_order": [["created_at"]],
    "returns_return": [["created_at"], ["status"]],
    "crm_customer": [["created_at"]],
}


def partial(model) -> set[str]:
    """Names of the model's indexes and unique constraints with a condition: they cover only some rows."""
    return {c.name for c in [*model._meta.indexes, *model._meta.constraints] if getattr(c, "condition", None)}


def plain_indexes(table: str) -> dict[str, tuple[list[str], bool]]:
    """name -> (columns, unique) of the table's btree indexes on plain columns (the primary key left out)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    out = {}
    for name, c in constraints.items():
        if not c["index"] and not c["unique"] or c["primary_key"] or c.get("check"):
            continue
        if c.get("type") not in (None, "btree", "idx") or not c["columns"] or None in c["columns"]:
            continue
        out[name] = (list(c["columns"]), c["unique"])
    return out


def our_models():
    return [m for m in apps.get_models() if m._meta.app_label in OURS and m._meta.managed and not m._meta.proxy]


def test_every_declared_index_and_constraint_is_in_the_database(db):
    """What the models declare is what the migrations built, and what no migration dropped (a partial unique
    constraint on one column, such as one active BOM per part, is an index on that column too)."""
    missing = []
    for model in our_models():
        with connection.cursor() as cursor:
            present = set(connection.introspection.get_constraints(cursor, model._meta.db_table))
        declared = {i.name for i in model._meta.indexes} | {c.name for c in model._meta.constraints}
        missing += sorted(f"{model._meta.db_table}.{name}" for name in declared - present)
    assert missing == []


def test_no_index_is_a_left_prefix_of_another(db):
    redundant = []
    for model in our_models():
        table = model._meta.db_table
        indexes = plain_indexes(table)
        covering = {name: columns for name, (columns, _) in indexes.items() if name not in partial(model)}
        for name, (columns, unique) in indexes.items():
            if unique or name in partial(model) or columns in KEPT.get(table, []):
                continue  # a unique index guards something, whatever else covers its columns
            for other, longer in covering.items():
                if other == name or longer[: len(columns)] != columns or len(longer) < len(columns):
                    continue
                if len(longer) == len(columns) and (name.endswith("_like") or other.endswith("_like")):
                    continue  # PostgreSQL's pattern-ops twin of a text index serves LIKE 'x%'; the plain one cannot
                if len(longer) == len(columns) and not indexes[other][1] and other > name:
                    continue  # two plain indexes on the same columns: reported once, by the first name
                redundant.append(f"{table}.{name} {columns} ⊂ {other} {longer}")
                break
    assert redundant == []
