"""Migration operations that build and drop indexes without blocking writes (issue #16, issue #13).

`AddIndexConcurrently` / `RunSQL ... CONCURRENTLY` need a migration with `atomic = False` and exist on
PostgreSQL only; these run it there and the plain form elsewhere (SQLite builds the index in the
migration's own transaction: its tables are small, and it has no concurrent builds).
"""

from __future__ import annotations

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


def _postgres(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


class AddIndexWithoutLocking(migrations.AddIndex):
    """AddIndexConcurrently on PostgreSQL (`CREATE INDEX CONCURRENTLY`: writes go on while it builds), AddIndex
    elsewhere. The model state is AddIndex's, so the index is declared in the model's `Meta.indexes`."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if _postgres(schema_editor):
            concurrent = AddIndexConcurrently(self.model_name, self.index)
            return concurrent.database_forwards(app_label, schema_editor, from_state, to_state)
        return super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if _postgres(schema_editor):
            concurrent = AddIndexConcurrently(self.model_name, self.index)
            return concurrent.database_backwards(app_label, schema_editor, from_state, to_state)
        return super().database_backwards(app_label, schema_editor, from_state, to_state)


class RemoveIndexWithoutLocking(migrations.RemoveIndex):
    """RemoveIndexConcurrently on PostgreSQL (`DROP INDEX CONCURRENTLY`), RemoveIndex elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if _postgres(schema_editor):
            concurrent = RemoveIndexConcurrently(self.model_name, self.name)
            return concurrent.database_forwards(app_label, schema_editor, from_state, to_state)
        return super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if _postgres(schema_editor):
            concurrent = RemoveIndexConcurrently(self.model_name, self.name)
            return concurrent.database_backwards(app_label, schema_editor, from_state, to_state)
        return super().database_backwards(app_label, schema_editor, from_state, to_state)


class PostgresOnlySQL(migrations.RunSQL):
    """SQL run on PostgreSQL only (a trigram index, an extension); nothing elsewhere. Not part of any model's
    state: SQLite has no such index, and its search keeps the plain scan."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if _postgres(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if _postgres(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def trigram_index(table: str, name: str, *columns: str) -> PostgresOnlySQL:
    """A GIN trigram index on `UPPER(column)` for each column: it serves `UPPER(col) LIKE UPPER('%x%')`, which
    is what Django's `icontains` sends to PostgreSQL. Built concurrently (the migration is `atomic = False`)."""
    expressions = ", ".join(f'UPPER(("{column}")::text) gin_trgm_ops' for column in columns)
    return PostgresOnlySQL(
        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "{table}" USING gin ({expressions})',
        f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"',
    )


def prefix_index(table: str, name: str, column: str) -> PostgresOnlySQL:
    """A btree on `UPPER(column)` with `text_pattern_ops`: it serves `UPPER(col) LIKE UPPER('x%')` (Django's
    `istartswith`) whatever the database's collation, and `UPPER(col) = UPPER('x')` (`iexact`). Built
    concurrently (the migration is `atomic = False`)."""
    return PostgresOnlySQL(
        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "{table}" (UPPER(("{column}")::text) text_pattern_ops)',
        f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"',
    )


def trigram_extension() -> PostgresOnlySQL:
    return PostgresOnlySQL("CREATE EXTENSION IF NOT EXISTS pg_trgm", migrations.RunSQL.noop)


class DropFieldIndex(migrations.AlterField):
    """An AlterField to the same field with `db_index=False`, whose column a composite index or constraint
    starting with it already serves: drops the field's own index (and PostgreSQL's `_like` twin of a text
    column's), concurrently on PostgreSQL (the migration is `atomic = False`). Django's AlterField would also
    drop and re-add a foreign key's constraint, which checks every row again under a lock that stops writes."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        # Only the field's own index: not a unique one, and none the model declares (a partial unique constraint
        # on the column alone, such as one active BOM per part, is an index on the same column).
        declared = {index.name for index in model._meta.indexes} | {c.name for c in model._meta.constraints}
        names = schema_editor._constraint_names(
            model, [field.column], index=True, unique=False, type_=models.Index.suffix, exclude=declared
        )
        if _postgres(schema_editor) and not field.is_relation:
            names.append(schema_editor._create_index_name(model._meta.db_table, [field.column], suffix="_like"))
        concurrently = "CONCURRENTLY " if _postgres(schema_editor) else ""
        for name in dict.fromkeys(names):
            schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {schema_editor.quote_name(name)}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        for statement in schema_editor._field_indexes_sql(model, model._meta.get_field(self.name)):
            sql = str(statement)
            if _postgres(schema_editor):
                # Built without stopping writes, and skipped when a rollback that failed half-way built it already.
                sql = sql.replace("CREATE INDEX ", "CREATE INDEX CONCURRENTLY IF NOT EXISTS ", 1)
            schema_editor.execute(sql)
