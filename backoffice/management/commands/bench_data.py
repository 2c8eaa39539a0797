"""`manage.py bench_data --orders N`: a data set for measuring the read path (issue #16, part 1).

Fills PostgreSQL, set-based (`INSERT ... SELECT` over `generate_series`, in one transaction), with:

- 100,000 customers (`customer<i>@bench.example.com`), 5,000 SKUs (`SKU-00001`...), 3 locations (MAIN,
  EAST, WEST) and a stock level for every (SKU, location);
- N orders of 2 or 3 lines (distinct SKUs, quantities 1-3), created evenly over `--days` (730: two years)
  up to now, their numbers `ORD-000042` as the API gives them. Statuses follow the age: the last days are
  mostly pending / processing (some on hold, a few shipped or cancelled), the last week or so mostly
  shipped or delivered, older orders ~90% delivered with a few shipped, cancelled and refunded;
- what the services would have left: an allocation per line (open for pending, processing and on-hold
  orders; consumed for shipped ones; released for cancelled ones), a shipment per shipped order, a refund
  per refunded order, and history rows (django-fsm-log's StateLog: `create` for every order, then the
  transitions that led to its status);
- returns for ~3% of the orders (of the delivered ones: one unit of their first line), requested, approved,
  received (restocked), rejected or cancelled, with their lines and history rows;
- the ledger: one opening `receipt` movement per level (what its orders needed plus a margin), one
  `shipment` movement per shipped line, one `return_restock` movement per received return line; the
  levels' `on_hand` is the sum of their movements and `allocated` the sum of their open allocations, so
  `manage.py check_inventory` passes.

The data is random but repeatable (`--seed`). Refuses SQLite, and a database that already holds orders,
customers, items or movements unless `--append` (adds N more orders to what is there, reusing the bench
customers and SKUs) or `--reset` (TRUNCATEs the business tables first: orders, returns, stock, customers,
items and the history, with whatever references them; users, API keys and locations stay). Ends with
VACUUM ANALYZE of the tables it filled, so the planner and index-only scans see the data at once.

    python manage.py bench_data --orders 100000           # ~1 min on a small machine
    python manage.py bench_data --orders 1000000 --reset
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from orders.models import Order
from returns.models import Return

ACTOR = "command bench_data"
DESCRIPTION = f"[{ACTOR}]"
LOCATIONS = [("MAIN", "Main warehouse"), ("EAST", "East warehouse"), ("WEST", "West warehouse")]
FIRST_NAMES = [
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Kira", "Liam", "Maya", "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara",
]  # fmt: skip
LAST_NAMES = [
    "Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen",
    "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Quist", "Rossi", "Silva", "Tanaka",
    "Urban", "Varga", "Weber", "Xu", "Young",
]  # fmt: skip
ADJECTIVES = ["Classic", "Organic", "Compact", "Deluxe", "Travel", "Everyday", "Pro", "Mini", "Eco", "Smart"]
NOUNS = ["Mug", "Backpack", "Lamp", "Bottle", "Notebook", "Cable", "Charger", "Blanket", "Kettle", "Speaker"]
CITIES = ["Springfield", "Riverside", "Franklin", "Greenville", "Bristol", "Clinton", "Fairview", "Salem"]

# The tables --reset empties (CASCADE: and whatever references them, e.g. cases, work orders, warranties).
RESET_TABLES = [
    "orders_order",
    "orders_orderlineitem",
    "orders_shipment",
    "orders_shipmentlineitem",
    "orders_refund",
    "orders_ordertag",
    "orders_orderdiscount",
    "returns_return",
    "returns_returnlineitem",
    "inventory_allocation",
    "inventory_stockmovement",
    "inventory_stocklevel",
    "inventory_inventoryitem",
    "crm_customer",
    "django_fsm_log_statelog",
]
TEMP_TABLES = ["b_loc", "b_cust", "b_item", "b_level", "b_order", "b_ord", "b_line", "b_return", "b_move"]
# What VACUUM ANALYZE visits at the end.
FILLED_TABLES = [
    "crm_customer",
    "inventory_inventoryitem",
    "inventory_stocklevel",
    "orders_order",
    "orders_orderlineitem",
    "orders_shipment",
    "orders_shipmentlineitem",
    "orders_refund",
    "inventory_allocation",
    "inventory_stockmovement",
    "returns_return",
    "returns_returnlineitem",
    "django_fsm_log_statelog",
]


def order_number(prefix: str, column: str) -> str:
    """SQL for NumberedModel's f"{prefix}-{pk:06d}" (lpad alone would cut ids of seven digits)."""
    return f"'{prefix}-' || CASE WHEN {column} < 1000000 THEN lpad({column}::text, 6, '0') ELSE {column}::text END"


def sql_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


class Command(BaseCommand):
    help = "Fill PostgreSQL with N orders (and customers, SKUs, stock, returns, history) for benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=100_000, help="How many orders (default 100,000).")
        parser.add_argument("--customers", type=int, default=100_000)
        parser.add_argument("--skus", type=int, default=5_000)
        parser.add_argument("--days", type=int, default=730, help="The orders are spread over this many days.")
        parser.add_argument("--seed", type=float, default=0.42, help="PostgreSQL setseed(), in [-1, 1].")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--append", action="store_true", help="Add to the data already there.")
        mode.add_argument("--reset", action="store_true", help="Empty the business tables first.")
        parser.add_argument("--no-vacuum", action="store_true", help="Skip the final VACUUM ANALYZE.")

    # ---- helpers ---------------------------------------------------------------------------------------

    def step(self, label: str, sql: str, params: dict | None = None) -> int:
        t = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(sql, params or {})
            rows = cur.rowcount
        seconds = time.perf_counter() - t
        self.timings.append((label, rows, seconds))
        self.stdout.write(f"  {label:<34} {rows:>10,} rows {seconds:>8.2f} s")
        return rows

    def run(self, *statements: str) -> None:
        with connection.cursor() as cur:
            for sql in statements:
                cur.execute(sql)

    def scalar(self, sql: str, params: dict | None = None):
        with connection.cursor() as cur:
            cur.execute(sql, params or {})
            return cur.fetchone()[0]

    # ---- the command -----------------------------------------------------------------------------------

    def handle(self, *args, orders, customers, skus, days, seed, append, reset, no_vacuum, **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                f"bench_data needs PostgreSQL (this database is {connection.vendor}): "
                "set DATABASE_URL=postgres://user@host:5432/name."
            )
        if orders < 1 or customers < 1 or skus < 4 or days < 1:
            raise CommandError("--orders and --customers must be positive, --skus at least 4, --days positive.")
        if not -1 <= seed <= 1:
            raise CommandError("--seed must be between -1 and 1 (PostgreSQL setseed).")
        self.timings: list[tuple[str, int, float]] = []
        started = time.perf_counter()

        if reset:
            # (Under an outer transaction, as in the tests, deferred FK checks must run before a TRUNCATE.)
            self.run("SET CONSTRAINTS ALL IMMEDIATE")
            self.step("reset (TRUNCATE ... CASCADE)", f"TRUNCATE {', '.join(RESET_TABLES)} RESTART IDENTITY CASCADE")
        elif not append:
            filled = [
                table
                for table in ("orders_order", "crm_customer", "inventory_inventoryitem", "inventory_stockmovement")
                if self.scalar(f"SELECT EXISTS (SELECT 1 FROM {table})")
            ]
            if filled:
                raise CommandError(
                    f"The database is not empty ({', '.join(filled)} hold rows): "
                    "pass --append to add to it, or --reset to empty the business tables first."
                )

        now = timezone.now().replace(microsecond=0)
        start = now - timedelta(days=days)
        params = {
            "now": now,
            "start": start,
            "opening_at": start - timedelta(days=1),
            "step": timedelta(days=days) / orders,
            "n": orders,
            "customers": customers,
            "skus": skus,
            "stride": skus // 3 + 1,
            "order_ct": ContentType.objects.get_for_model(Order).pk,
            "return_ct": ContentType.objects.get_for_model(Return).pk,
            "actor": ACTOR,
            "description": DESCRIPTION,
        }
        self.stdout.write(
            f"bench_data: {orders:,} orders over {days} days, {customers:,} customers, {skus:,} SKUs, "
            f"{len(LOCATIONS)} locations"
        )
        with transaction.atomic():
            self.scalar("SELECT setseed(%(seed)s)", {"seed": seed})
            self.run("SET LOCAL maintenance_work_mem = '512MB'", "SET LOCAL work_mem = '256MB'")
            # As pg_restore --disable-triggers: no per-row foreign key checks at the commit (the rows are
            # built from joins on the rows they point to). Needs a superuser; without one, the checks run.
            if self.scalar("SELECT current_setting('is_superuser')") == "on":
                self.run("SET LOCAL session_replication_role = replica")
            else:
                self.stdout.write("  (not a superuser: foreign keys are checked row by row at the commit)")
            # Secondary indexes of the tables still empty are built once at the end rather than row by row.
            dropped = self.drop_indexes()
            self.fill(params)
            self.rebuild_indexes(dropped)
            # Back to the defaults for the rest of an outer transaction (the events above are not queued).
            self.run(
                "SET LOCAL session_replication_role TO DEFAULT",
                "SET LOCAL maintenance_work_mem TO DEFAULT",
                "SET LOCAL work_mem TO DEFAULT",
            )
            t = time.perf_counter()
        self.timings.append(("commit", 0, time.perf_counter() - t))
        self.stdout.write(f"  {'commit':<34} {'':>15} {self.timings[-1][2]:>8.2f} s")
        if not no_vacuum:
            with connection.cursor() as cur:
                for table in FILLED_TABLES:
                    t = time.perf_counter()
                    cur.execute(f"VACUUM ANALYZE {table}")
                    self.timings.append((f"vacuum analyze {table}", 0, time.perf_counter() - t))
            vacuum = sum(s for label, _, s in self.timings if label.startswith("vacuum"))
            self.stdout.write(f"  {'vacuum analyze (all tables)':<34} {'':>15} {vacuum:>8.2f} s")
        total = time.perf_counter() - started
        counts = {
            table: self.scalar(f"SELECT count(*) FROM {table}")
            for table in ("orders_order", "orders_orderlineitem", "returns_return", "inventory_stockmovement")
        }
        self.stdout.write(
            f"done in {total:.1f} s: " + ", ".join(f"{table} {count:,}" for table, count in counts.items())
        )

    def drop_indexes(self) -> dict[str, list[str]]:
        """Drop the indexes (but those of primary keys and constraints) of the empty tables this command
        fills; returns their definitions by table."""
        dropped: dict[str, list[str]] = {}
        for table in FILLED_TABLES:
            if self.scalar(f"SELECT EXISTS (SELECT 1 FROM {table})"):
                continue
            with connection.cursor() as cur:
                cur.execute(
                    "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
                    " WHERE i.indrelid = %s::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
                    "   WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)",
                    [table],
                )
                indexes = cur.fetchall()
            if indexes:
                self.run(f"DROP INDEX {', '.join(name for name, _ in indexes)}")
                dropped[table] = [definition for _, definition in indexes]
        return dropped

    def rebuild_indexes(self, dropped: dict[str, list[str]]) -> None:
        for table, definitions in dropped.items():
            t = time.perf_counter()
            self.run(*definitions)
            seconds = time.perf_counter() - t
            self.timings.append((f"indexes {table}", len(definitions), seconds))
            self.stdout.write(f"  {'indexes ' + table:<34} {len(definitions):>10,} idx  {seconds:>8.2f} s")

    def fill(self, p: dict) -> None:
        # The plan lives in temporary tables, dropped at the end (and at the commit, should a step fail):
        # under an outer transaction (the tests) the commit is not this command's.
        self.run(f"DROP TABLE IF EXISTS {', '.join(TEMP_TABLES)}")
        self.plan_and_insert(p)
        self.run(f"DROP TABLE {', '.join(TEMP_TABLES)}")

    def plan_and_insert(self, p: dict) -> None:
        step = self.step
        # ---- the dimensions: locations, customers, items, levels (created when missing) ------------------
        for code, name in LOCATIONS:
            step(
                f"inventory_location {code}",
                "INSERT INTO inventory_location (created_at, updated_at, code, name, kind, active)"
                " SELECT %(start)s, %(start)s, %(code)s, %(name)s, 'warehouse', true"
                " WHERE NOT EXISTS (SELECT 1 FROM inventory_location WHERE code = %(code)s)",
                {**p, "code": code, "name": name},
            )
        step(
            "tmp locations",
            "CREATE TEMP TABLE b_loc ON COMMIT DROP AS SELECT row_number() OVER (ORDER BY array_position("
            f"{sql_array([c for c, _ in LOCATIONS])}::text[], code::text)) AS rn, id FROM inventory_location"
            f" WHERE code IN ({', '.join(repr(c) for c, _ in LOCATIONS)})",
        )
        step(
            "crm_customer",
            "INSERT INTO crm_customer (created_at, updated_at, email, first_name, last_name, phone,"
            " stripe_customer_id, timestamp)"
            " SELECT ts, ts, 'customer' || g || '@bench.example.com',"
            f" ({sql_array(FIRST_NAMES)})[1 + g %% {len(FIRST_NAMES)}],"
            f" ({sql_array(LAST_NAMES)})[1 + (g / {len(FIRST_NAMES)}) %% {len(LAST_NAMES)}],"
            " '+1555' || lpad((g %% 10000000)::text, 7, '0'), '', ts"
            " FROM generate_series(1, %(customers)s) g"
            " CROSS JOIN LATERAL (SELECT %(opening_at)s - (g %% 1000) * interval '1 hour' AS ts) t"
            " WHERE NOT EXISTS (SELECT 1 FROM crm_customer c"
            "   WHERE upper(c.email) = upper('customer' || g || '@bench.example.com'))",
            p,
        )
        step(
            "tmp customers",
            "CREATE TEMP TABLE b_cust ON COMMIT DROP AS"
            " SELECT substring(email FROM 9 FOR position('@' IN email) - 9)::int AS rn, id, email,"
            " first_name || ' ' || last_name AS name FROM crm_customer"
            " WHERE email LIKE 'customer%%@bench.example.com'",
        )
        self.run("CREATE UNIQUE INDEX ON b_cust (rn)", "ANALYZE b_cust")
        step(
            "inventory_inventoryitem",
            "INSERT INTO inventory_inventoryitem (created_at, updated_at, sku, upc, description, size, color,"
            " unit_cost, reorder_point, active, purchase_order_id)"
            " SELECT %(opening_at)s, %(opening_at)s, 'SKU-' || lpad(g::text, 5, '0'), lpad((g * 7919)::text, 12, '0'),"
            f" ({sql_array(ADJECTIVES)})[1 + g %% {len(ADJECTIVES)}] || ' '"
            f" || ({sql_array(NOUNS)})[1 + (g / {len(ADJECTIVES)}) %% {len(NOUNS)}] || ' ' || g,"
            " '', '', round((2.99 + (g * 37) %% 120) * 0.4, 2), 10, true, ''"
            " FROM generate_series(1, %(skus)s) g"
            " WHERE NOT EXISTS (SELECT 1 FROM inventory_inventoryitem i"
            "   WHERE upper(i.sku) = 'SKU-' || lpad(g::text, 5, '0'))",
            p,
        )
        step(
            "tmp items",
            "CREATE TEMP TABLE b_item ON COMMIT DROP AS"
            " SELECT substring(sku FROM 5)::int AS rn, id, sku, description,"
            " (4.99 + (substring(sku FROM 5)::int * 37) %% 120)::numeric(12, 2) AS price"
            " FROM inventory_inventoryitem WHERE sku ~ '^SKU-[0-9]{5,}$'"
            " AND substring(sku FROM 5)::int <= %(skus)s",
            p,
        )
        self.run("CREATE UNIQUE INDEX ON b_item (rn)", "ANALYZE b_item")
        step(
            "inventory_stocklevel",
            "INSERT INTO inventory_stocklevel (item_id, location_id, on_hand, allocated, incoming, updated_at)"
            " SELECT i.id, l.id, 0, 0, 0, %(opening_at)s FROM b_item i CROSS JOIN b_loc l"
            " WHERE NOT EXISTS (SELECT 1 FROM inventory_stocklevel s WHERE s.item_id = i.id AND s.location_id = l.id)",
            p,
        )
        step(
            "tmp levels",
            "CREATE TEMP TABLE b_level ON COMMIT DROP AS SELECT s.id, s.item_id, s.location_id, s.on_hand"
            " FROM inventory_stocklevel s JOIN b_item i ON i.id = s.item_id JOIN b_loc l ON l.id = s.location_id",
        )
        self.run("CREATE UNIQUE INDEX ON b_level (item_id, location_id)", "ANALYZE b_level")

        # ---- the orders, planned in temporary tables first ---------------------------------------------
        p["o0"] = self.scalar("SELECT coalesce(max(id), 0) FROM orders_order")
        p["l0"] = self.scalar("SELECT coalesce(max(id), 0) FROM orders_orderlineitem")
        p["r0"] = self.scalar("SELECT coalesce(max(id), 0) FROM returns_return")
        # Age in days -> status: the last 3 days are mostly open, then shipped/delivered, then delivered.
        step(
            "tmp orders (plan)",
            "CREATE TEMP TABLE b_order ON COMMIT DROP AS"
            " SELECT s.*,"
            "   CASE WHEN status IN ('shipped', 'delivered', 'refunded')"
            "     THEN created_at + least(interval '2 days', (%(now)s - created_at) / 2) END AS shipped_at"
            " FROM ("
            "   SELECT s.*, CASE"
            "     WHEN age < 3 THEN CASE WHEN u < .55 THEN 'pending' WHEN u < .85 THEN 'processing'"
            "       WHEN u < .90 THEN 'on_hold' WHEN u < .97 THEN 'shipped' ELSE 'cancelled' END"
            "     WHEN age < 10 THEN CASE WHEN u < .03 THEN 'pending' WHEN u < .10 THEN 'processing'"
            "       WHEN u < .12 THEN 'on_hold' WHEN u < .60 THEN 'shipped' WHEN u < .95 THEN 'delivered'"
            "       ELSE 'cancelled' END"
            "     ELSE CASE WHEN u < .90 THEN 'delivered' WHEN u < .92 THEN 'shipped'"
            "       WHEN u < .97 THEN 'cancelled' ELSE 'refunded' END"
            "   END AS status"
            "   FROM ("
            "     SELECT %(o0)s + g AS id, created_at,"
            "       extract(epoch FROM %(now)s - created_at) / 86400 AS age,"
            "       random() AS u, random() AS u2,"
            "       1 + floor(random() * %(customers)s)::int AS customer_rn,"
            "       CASE WHEN random() < .6 THEN 1 WHEN random() < .5 THEN 2 ELSE 3 END AS location_rn,"
            "       CASE WHEN random() < .5 THEN 2 ELSE 3 END AS nlines,"
            # popular SKUs: the first SKU of an order is skewed towards the low numbers
            "       floor(power(random(), 2) * %(skus)s)::int AS item_base"
            "     FROM generate_series(1, %(n)s) g"
            "     CROSS JOIN LATERAL (SELECT %(start)s + (g - 1 + random()) * %(step)s AS created_at) t"
            "   ) s"
            " ) s",
            p,
        )
        step(
            "tmp orders (times, customer)",
            "CREATE TEMP TABLE b_ord ON COMMIT DROP AS"
            " SELECT o.id, o.created_at, o.status, o.u2, o.nlines, o.item_base, o.shipped_at,"
            "   CASE WHEN o.status = 'delivered'"
            "     THEN o.shipped_at + least(interval '3 days', (%(now)s - o.shipped_at) / 2) END AS delivered_at,"
            "   CASE WHEN o.status = 'cancelled'"
            "     THEN o.created_at + least(interval '6 hours', (%(now)s - o.created_at) / 2) END AS cancelled_at,"
            "   CASE WHEN o.status = 'refunded'"
            "     THEN o.shipped_at + least(interval '10 days', (%(now)s - o.shipped_at) / 2) END AS refunded_at,"
            "   CASE WHEN o.status = 'on_hold'"
            "     THEN CASE WHEN o.u2 < .5 THEN 'pending' ELSE 'processing' END ELSE '' END AS held_from,"
            "   c.id AS customer_id, c.email AS customer_email, c.name AS customer_name, l.id AS location_id,"
            f"   {order_number('ORD', 'o.id')} AS number"
            " FROM b_order o JOIN b_cust c ON c.rn = o.customer_rn JOIN b_loc l ON l.rn = o.location_rn",
            p,
        )
        self.run("CREATE UNIQUE INDEX ON b_ord (id)", "ANALYZE b_ord")
        step(
            "tmp lines (plan)",
            "CREATE TEMP TABLE b_line ON COMMIT DROP AS"
            " SELECT %(l0)s + row_number() OVER (ORDER BY s.order_id, s.k) AS id, s.*,"
            "   (s.quantity * s.price)::numeric(12, 2) AS total, 0 AS quantity_returned"
            " FROM ("
            "   SELECT o.id AS order_id, k, i.id AS item_id, i.sku, i.description AS product_name, i.price,"
            "     1 + floor(random() * 3)::int AS quantity, lv.id AS level_id, o.location_id"
            "   FROM b_ord o CROSS JOIN LATERAL generate_series(0, o.nlines - 1) k"
            "   JOIN b_item i ON i.rn = (o.item_base + k * %(stride)s) %% %(skus)s + 1"
            "   JOIN b_level lv ON lv.item_id = i.id AND lv.location_id = o.location_id"
            " ) s",
            p,
        )
        self.run("CREATE INDEX ON b_line (order_id)", "ANALYZE b_line")
        # ~3% of the orders: one unit of the first line of a delivered order.
        step(
            "tmp returns (plan)",
            "CREATE TEMP TABLE b_return ON COMMIT DROP AS"
            " SELECT s.*, %(r0)s + row_number() OVER (ORDER BY s.order_id) AS id,"
            "   CASE WHEN s.status = 'received'"
            "     THEN s.requested_at + least(interval '7 days', (%(now)s - s.requested_at) / 2) END AS received_at,"
            "   CASE WHEN s.status <> 'requested'"
            "     THEN s.requested_at + least(interval '1 day', (%(now)s - s.requested_at) / 3) END AS decided_at"
            " FROM ("
            "   SELECT o.id AS order_id, o.customer_id, o.customer_email, o.location_id, o.created_at AS order_date,"
            "     o.shipped_at, o.number AS order_number, l.id AS line_id, l.item_id, l.sku, l.product_name, l.price,"
            "     o.delivered_at + least(interval '5 days', (%(now)s - o.delivered_at) / 2) AS requested_at,"
            "     CASE WHEN r < .25 THEN 'requested' WHEN r < .45 THEN 'approved' WHEN r < .80 THEN 'received'"
            "       WHEN r < .90 THEN 'rejected' ELSE 'cancelled' END AS status,"
            f"     ({sql_array(['defective', 'wrong_item', 'changed_mind', 'damaged_in_transit'])})"
            "       [1 + floor(r * 1000)::int %% 4] AS reason_category"
            "   FROM b_ord o JOIN b_line l ON l.order_id = o.id AND l.k = 0"
            "   CROSS JOIN LATERAL (SELECT random() + o.id * 0 AS r) t"
            "   WHERE o.status = 'delivered' AND o.u2 < .034"
            " ) s",
            p,
        )
        self.run("ALTER TABLE b_return ADD COLUMN rma text")
        self.run(f"UPDATE b_return SET rma = {order_number('RMA', 'id')}")
        step(
            "tmp lines: units under a return",
            "UPDATE b_line l SET quantity_returned = 1 FROM b_return r"
            " WHERE r.line_id = l.id AND r.status IN ('requested', 'approved', 'received')",
        )

        # ---- the rows ------------------------------------------------------------------------------------
        step(
            "orders_order",
            "INSERT INTO orders_order (id, created_at, updated_at, order_number, name, status, held_from_status,"
            " hold_reason, customer_id, customer_email, customer_name, customer_number, buyer_email, buyer_message,"
            " ordered_by, currency, location_id, shipping_address, billing_address, delivery_address,"
            " delivery_type, fulfillment_type, shipping_method, notes, seller_note, source, imported_status,"
            " is_import, is_cod, payment, metadata, shipping_amount, tax_amount, subtotal, discount_total,"
            " shipping_total, tax_total, total, amount_refunded, promotion_discount, cancel_reason,"
            " cancellation_initiator, cancelled_at, tracking_number, carrier, shipped_at, delivered_at,"
            " is_replacement_order)"
            " SELECT o.id, o.created_at,"
            "   greatest(o.created_at, o.shipped_at, o.delivered_at, o.cancelled_at, o.refunded_at),"
            "   o.number, '', o.status, o.held_from,"
            "   CASE WHEN o.status = 'on_hold' THEN 'Address to confirm' ELSE '' END,"
            "   o.customer_id, o.customer_email, o.customer_name, '', '', '', o.customer_name, 'USD', o.location_id,"
            "   jsonb_build_object('name', o.customer_name, 'line1', (100 + o.id %% 900) || ' Main St',"
            f"     'city', ({sql_array(CITIES)})[1 + o.id %% {len(CITIES)}],"
            "     'postal_code', lpad((o.id %% 99999)::text, 5, '0'), 'country', 'US'),"
            "   '{}'::jsonb, '', '', '', CASE WHEN t.subtotal < 50 THEN 'standard' ELSE 'free' END, '', '',"
            "   CASE WHEN o.u2 < .8 THEN 'web' ELSE 'pos' END, '', false, false, '{}'::jsonb, '{}'::jsonb,"
            "   t.shipping, 0, t.subtotal, 0, t.shipping, 0, t.subtotal + t.shipping,"
            "   CASE WHEN o.status = 'refunded' THEN t.subtotal + t.shipping ELSE 0 END, 0,"
            "   CASE WHEN o.status = 'cancelled' THEN 'Customer request' ELSE '' END,"
            "   CASE WHEN o.status = 'cancelled' THEN 'customer' ELSE '' END, o.cancelled_at,"
            "   CASE WHEN o.shipped_at IS NOT NULL THEN '1Z' || lpad(o.id::text, 12, '0') ELSE '' END,"
            "   CASE WHEN o.shipped_at IS NULL THEN ''"
            "     ELSE (ARRAY['UPS', 'FedEx', 'USPS'])[1 + o.id %% 3] END,"
            "   o.shipped_at, o.delivered_at, false"
            " FROM b_ord o JOIN ("
            "   SELECT order_id, sum(total) AS subtotal,"
            "     CASE WHEN sum(total) < 50 THEN 5.99 ELSE 0 END::numeric(12, 2) AS shipping"
            "   FROM b_line GROUP BY order_id"
            " ) t ON t.order_id = o.id ORDER BY o.id",
            p,
        )
        step(
            "orders_orderlineitem",
            "INSERT INTO orders_orderlineitem (id, created_at, updated_at, order_id, item_id, sku, product_name,"
            " quantity, unit_price, original_price, discount_total, total, quantity_shipped, quantity_returned,"
            " quantity_cancelled, status, requires_inventory)"
            " SELECT l.id, o.created_at, greatest(o.created_at, o.shipped_at, o.cancelled_at), l.order_id,"
            "   l.item_id, l.sku, l.product_name, l.quantity, l.price, l.price, 0, l.total,"
            "   CASE WHEN o.shipped_at IS NOT NULL THEN l.quantity ELSE 0 END, l.quantity_returned, 0,"
            "   CASE WHEN o.shipped_at IS NOT NULL THEN 'shipped' WHEN o.status = 'cancelled' THEN 'cancelled'"
            "     ELSE 'open' END, true"
            " FROM b_line l JOIN b_ord o ON o.id = l.order_id ORDER BY l.id",
        )
        step(
            "orders_shipment",
            # One parcel per shipped order, from its location, as ship makes it (issue #18), and its lines.
            "INSERT INTO orders_shipment (order_id, location_id, status, number, tracking_number, carrier, service,"
            "   tracking_url, package_count, notes, shipped_at, delivered_at, actor, created_at, updated_at)"
            " SELECT id, location_id, CASE WHEN delivered_at IS NOT NULL THEN 'delivered' ELSE 'shipped' END,"
            "   NULL, '1Z' || lpad(id::text, 12, '0'),"
            "   (ARRAY['UPS', 'FedEx', 'USPS'])[1 + id %% 3], '', '', 1, '', shipped_at, delivered_at, %(actor)s,"
            "   shipped_at, coalesce(delivered_at, shipped_at) FROM b_ord WHERE shipped_at IS NOT NULL ORDER BY id",
            p,
        )
        step(
            "orders_shipment numbers",
            "UPDATE orders_shipment SET number = 'SHP-' || lpad(id::text, 6, '0') WHERE number IS NULL",
            p,
        )
        step(
            "orders_shipmentlineitem",
            "INSERT INTO orders_shipmentlineitem (shipment_id, line_id, quantity, quantity_returned)"
            " SELECT s.id, l.id, l.quantity_shipped, l.quantity_returned FROM orders_shipment s"
            " JOIN b_ord o ON o.id = s.order_id JOIN orders_orderlineitem l ON l.order_id = s.order_id"
            " WHERE l.quantity_shipped > 0 ORDER BY s.id, l.id",
            p,
        )
        step(
            "orders_refund",
            "INSERT INTO orders_refund (order_id, amount, reason, source_type, reference, actor, created_at)"
            " SELECT o.id, x.total, 'Refunded in full', '', '', %(actor)s, o.refunded_at"
            " FROM b_ord o JOIN orders_order x ON x.id = o.id WHERE o.status = 'refunded' ORDER BY o.id",
            p,
        )
        step(
            "inventory_allocation",
            "INSERT INTO inventory_allocation (level_id, document_type, document_id, line_id, quantity, status,"
            " created_at, updated_at)"
            " SELECT l.level_id, 'order', l.order_id, l.id,"
            "   CASE WHEN o.status IN ('pending', 'processing', 'on_hold') THEN l.quantity ELSE 0 END,"
            "   CASE WHEN o.status IN ('pending', 'processing', 'on_hold') THEN 'open'"
            "     WHEN o.status = 'cancelled' THEN 'released' ELSE 'consumed' END,"
            "   o.created_at, coalesce(o.shipped_at, o.cancelled_at, o.created_at)"
            " FROM b_line l JOIN b_ord o ON o.id = l.order_id ORDER BY l.id",
        )
        step(
            "returns_return",
            "INSERT INTO returns_return (id, created_at, updated_at, rma, status, order_id, customer_id, location_id,"
            " customer_email, entered_by, description, issue, reason_category, reported_condition, condition,"
            " action_needed, tracking_number, zendesk_number, fedex_status, serial_number, scanned_serial_number,"
            " match, country, shipping_address, sso_id, workflow_id, flat_rate_shipping, tax_refunded,"
            " created_date, order_date, shipped_date, requested_date, restocking_fee, amount, total_refunded,"
            " order_refunded, warehouse_received_date, received_by, approval_notes, rejection_reason, cancel_reason)"
            " SELECT id, requested_at, coalesce(received_at, decided_at, requested_at), rma, status, order_id,"
            "   customer_id, location_id, customer_email, 'customer', '', '', reason_category, '',"
            "   CASE WHEN status = 'received' THEN 'new' ELSE '' END, false, '', '', '', '', '', false, 'US',"
            "   '{}'::jsonb, '', '', 0, 0, requested_at, order_date, shipped_at, requested_at, 0, price, 0, false,"
            "   received_at, CASE WHEN status = 'received' THEN 'warehouse' ELSE '' END,"
            "   CASE WHEN status IN ('approved', 'received') THEN 'OK' ELSE '' END,"
            "   CASE WHEN status = 'rejected' THEN 'Outside the return window' ELSE '' END,"
            "   CASE WHEN status = 'cancelled' THEN 'Customer kept the item' ELSE '' END"
            " FROM b_return ORDER BY id",
        )
        step(
            "returns_returnlineitem",
            "INSERT INTO returns_returnlineitem (created_at, updated_at, parent_return_id, order_line_item_id, sku,"
            " name, price, amount, quantity, quantity_received, condition, restock, restocked, status, reason,"
            " serial_number, tax_refunded, flat_rate_shipping)"
            " SELECT requested_at, coalesce(received_at, decided_at, requested_at), id, line_id, sku, product_name,"
            "   price, price, 1, CASE WHEN status = 'received' THEN 1 ELSE 0 END, 'new', true, status = 'received',"
            "   status, reason_category, '', 0, 0"
            " FROM b_return ORDER BY id",
        )

        # ---- the ledger and the levels -----------------------------------------------------------------
        step(
            "tmp movements (plan)",
            "CREATE TEMP TABLE b_move ON COMMIT DROP AS"
            # the opening stock of each level: what its new orders need, and a margin
            " SELECT lv.item_id, lv.location_id, coalesce(d.demand, 0) + 50 + (lv.item_id %% 200)::int AS quantity,"
            "   'receipt' AS reason, 'bench opening stock' AS reason_text, '' AS source_type,"
            "   NULL::bigint AS source_id,"
            "   '' AS source_number, %(opening_at)s::timestamptz AS created_at"
            " FROM b_level lv LEFT JOIN ("
            "   SELECT level_id, sum(quantity) AS demand FROM b_line GROUP BY level_id"
            " ) d ON d.level_id = lv.id"
            " UNION ALL"
            " SELECT l.item_id, l.location_id, -l.quantity, 'shipment', '', 'order', o.id, o.number, o.shipped_at"
            " FROM b_line l JOIN b_ord o ON o.id = l.order_id WHERE o.shipped_at IS NOT NULL"
            " UNION ALL"
            " SELECT item_id, location_id, 1, 'return_restock', '', 'return', id, rma, received_at"
            " FROM b_return WHERE status = 'received'",
            p,
        )
        step(
            "inventory_stockmovement",
            "INSERT INTO inventory_stockmovement (item_id, location_id, quantity, on_hand_after, reason, reason_text,"
            " source_type, source_id, source_number, note, metadata, actor, created_at)"
            " SELECT m.item_id, m.location_id, m.quantity,"
            "   lv.on_hand + sum(m.quantity) OVER (PARTITION BY m.item_id, m.location_id"
            "     ORDER BY m.created_at, m.source_id NULLS FIRST ROWS UNBOUNDED PRECEDING),"
            "   m.reason, m.reason_text, m.source_type, m.source_id, m.source_number, '', '{}'::jsonb, %(actor)s,"
            "   m.created_at"
            " FROM b_move m JOIN b_level lv ON lv.item_id = m.item_id AND lv.location_id = m.location_id"
            " ORDER BY m.created_at, m.source_id NULLS FIRST",
            p,
        )
        step(
            "inventory_stocklevel (on hand, allocated)",
            "UPDATE inventory_stocklevel s SET on_hand = s.on_hand + d.moved, allocated = s.allocated + d.held,"
            " updated_at = %(now)s"
            " FROM ("
            "   SELECT lv.id, coalesce(m.moved, 0) AS moved, coalesce(a.held, 0) AS held FROM b_level lv"
            "   LEFT JOIN (SELECT item_id, location_id, sum(quantity) AS moved FROM b_move"
            "     GROUP BY item_id, location_id) m ON m.item_id = lv.item_id AND m.location_id = lv.location_id"
            "   LEFT JOIN (SELECT l.level_id, sum(l.quantity) AS held FROM b_line l JOIN b_ord o ON o.id = l.order_id"
            "     WHERE o.status IN ('pending', 'processing', 'on_hold') GROUP BY l.level_id) a ON a.level_id = lv.id"
            " ) d WHERE d.id = s.id",
            p,
        )

        # ---- the history ---------------------------------------------------------------------------------
        step(
            "django_fsm_log_statelog (orders)",
            "INSERT INTO django_fsm_log_statelog (timestamp, state, transition, object_id, content_type_id,"
            " description, source_state)"
            " SELECT e.at, e.state, e.transition, o.id, %(order_ct)s, %(description)s, e.source"
            " FROM b_ord o CROSS JOIN LATERAL (VALUES"
            "   (o.created_at, 'pending', 'pending', 'create', true),"
            "   (o.created_at + interval '1 hour', 'pending', 'processing', 'process',"
            "     o.status = 'processing' OR o.held_from = 'processing'),"
            "   (o.created_at + interval '2 hours', o.held_from, 'on_hold', 'hold', o.status = 'on_hold'),"
            "   (o.shipped_at, 'pending', 'shipped', 'ship', o.shipped_at IS NOT NULL),"
            "   (o.delivered_at, 'shipped', 'delivered', 'deliver', o.delivered_at IS NOT NULL),"
            "   (o.cancelled_at, 'pending', 'cancelled', 'cancel', o.cancelled_at IS NOT NULL),"
            "   (o.refunded_at, 'shipped', 'refunded', 'refund', o.refunded_at IS NOT NULL)"
            " ) AS e(at, source, state, transition, happened)"
            " WHERE e.happened ORDER BY e.at, o.id",
            p,
        )
        step(
            "django_fsm_log_statelog (returns)",
            "INSERT INTO django_fsm_log_statelog (timestamp, state, transition, object_id, content_type_id,"
            " description, source_state)"
            " SELECT e.at, e.state, e.transition, r.id, %(return_ct)s, %(description)s, e.source"
            " FROM b_return r CROSS JOIN LATERAL (VALUES"
            "   (r.requested_at, 'requested', 'requested', 'create', true),"
            "   (r.decided_at, 'requested', 'approved', 'approve', r.status IN ('approved', 'received')),"
            "   (r.decided_at, 'requested', 'rejected', 'reject', r.status = 'rejected'),"
            "   (r.decided_at, 'requested', 'cancelled', 'cancel', r.status = 'cancelled'),"
            "   (r.received_at, 'approved', 'received', 'receive', r.status = 'received')"
            " ) AS e(at, source, state, transition, happened)"
            " WHERE e.happened ORDER BY e.at, r.id",
            p,
        )
        for table in ("orders_order", "orders_orderlineitem", "returns_return"):
            self.scalar(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
            )
