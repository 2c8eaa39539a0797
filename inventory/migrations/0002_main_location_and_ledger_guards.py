"""The default location MAIN, and the database's own guard that the stock ledger is append-only.

UPDATE is refused by a trigger on SQLite and PostgreSQL. DELETE is refused by a trigger on PostgreSQL only:
on SQLite the test runner empties tables with DELETE between transactional tests (PostgreSQL uses TRUNCATE,
which row triggers do not see). The model and its queryset refuse both everywhere.
"""

from django.db import migrations


def create_main(apps, schema_editor):
    Location = apps.get_model("inventory", "Location")
    Location.objects.get_or_create(code="MAIN", defaults={"name": "Main warehouse", "kind": "warehouse"})


SQLITE_UP = [
    """CREATE TRIGGER inventory_stockmovement_no_update BEFORE UPDATE ON inventory_stockmovement
       BEGIN SELECT RAISE(ABORT, 'the stock ledger is append-only'); END;""",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS inventory_stockmovement_no_update;"]

POSTGRES_UP = [
    """CREATE OR REPLACE FUNCTION inventory_stockmovement_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'the stock ledger is append-only'; END; $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER inventory_stockmovement_no_change BEFORE UPDATE OR DELETE ON inventory_stockmovement
       FOR EACH ROW EXECUTE FUNCTION inventory_stockmovement_append_only();""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS inventory_stockmovement_no_change ON inventory_stockmovement;",
    "DROP FUNCTION IF EXISTS inventory_stockmovement_append_only();",
]


def guards_up(apps, schema_editor):
    statements = {"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}.get(schema_editor.connection.vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def guards_down(apps, schema_editor):
    statements = {"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}.get(schema_editor.connection.vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]

    operations = [
        migrations.RunPython(create_main, migrations.RunPython.noop),
        migrations.RunPython(guards_up, guards_down),
    ]
