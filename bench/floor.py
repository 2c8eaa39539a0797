"""The lean floor: W1's essential statements, written by hand with psycopg and orjson, behind bare WSGI.

It is what Django would cost if it cost nothing: the same tables (migrated by Django), the same API key
check (SHA-256 of the key, looked up by prefix), the same locks (the order row, then the stock levels in
primary-key order), the same rows (order, lines, allocations, ledger movements, shipment, audit rows), so
that `check_inventory` passes on what it leaves. It serves only the two W1 writes:

    POST /v1/orders                      {"customer": id, "order_line_items": [{sku, quantity, unit_price}]}
    POST /v1/orders/<id>/ship            {"tracking_number": ..., "carrier": ...}

Run by bench/w1_http.py as `gunicorn bench.floor:app` with FLOOR_DSN set to the benchmark's database.
Not part of the product: nothing imports it.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import psycopg

DSN = os.environ.get("FLOOR_DSN", "")
SHIP_PATH = re.compile(r"^/v1/orders/(\d+)/ship/?$")
CENT = Decimal("0.01")

_conn: psycopg.Connection | None = None
_content_type: dict[str, int] = {}


def connection() -> psycopg.Connection:
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg.connect(DSN, autocommit=False)
        with _conn.cursor() as cur:
            cur.execute("SELECT model, id FROM django_content_type WHERE app_label = 'orders'")
            _content_type.update(dict(cur.fetchall()))
        _conn.commit()
    return _conn


def authenticate(cur, environ) -> int | None:
    header = environ.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if len(parts) != 2:
        return None
    raw = parts[1]
    cur.execute("SELECT user_id, hashed_key, revoked FROM stateset_apikey WHERE prefix = %s", (raw[:11],), prepare=True)
    row = cur.fetchone()
    if row is None or row[1] != hashlib.sha256(raw.encode()).hexdigest() or row[2]:
        return None
    return row[0]


def lock_levels(cur, item_ids: list[int], location_id: int) -> dict[int, tuple[int, int, int]]:
    """item_id -> (level id, on_hand, allocated), locked in primary-key order."""
    cur.execute(
        "SELECT id, item_id, on_hand, allocated FROM inventory_stocklevel WHERE location_id = %s AND item_id = ANY(%s)"
        " ORDER BY id FOR UPDATE",
        (location_id, item_ids),
        prepare=True,
    )
    return {item_id: (pk, on_hand, allocated) for pk, item_id, on_hand, allocated in cur.fetchall()}


def audit(cur, user_id: int, object_id: int, source: str, state: str, transition: str, now: datetime) -> None:
    cur.execute(
        "INSERT INTO django_fsm_log_statelog (timestamp, by_id, source_state, state, transition, content_type_id,"
        " object_id, description) VALUES (%s, %s, %s, %s, %s, %s, %s, '')",
        (now, user_id, source, state, transition, _content_type["order"], object_id),
        prepare=True,
    )


def create_order(cur, user_id: int, body: dict) -> tuple[int, dict]:
    now = datetime.now(UTC)
    lines = body["order_line_items"]
    cur.execute("SELECT id, email, first_name, last_name FROM crm_customer WHERE id = %s", (body["customer"],))
    customer = cur.fetchone()
    cur.execute("SELECT id FROM inventory_location WHERE code = 'MAIN'", prepare=True)
    location_id = cur.fetchone()[0]
    skus = [line["sku"] for line in lines]
    cur.execute("SELECT sku, id FROM inventory_inventoryitem WHERE sku = ANY(%s)", (skus,), prepare=True)
    items = dict(cur.fetchall())
    wanted: dict[int, int] = {}
    for line in lines:
        wanted[items[line["sku"]]] = wanted.get(items[line["sku"]], 0) + line["quantity"]
    levels = lock_levels(cur, sorted(wanted), location_id)
    for item_id, quantity in wanted.items():
        _, on_hand, allocated = levels[item_id]
        if on_hand - allocated < quantity:
            return 422, {"code": "insufficient_stock"}
    totals = [(Decimal(line["unit_price"]) * line["quantity"]).quantize(CENT) for line in lines]
    subtotal = sum(totals, Decimal("0.00"))
    name = f"{customer[2]} {customer[3]}".strip()
    cur.execute(
        "INSERT INTO orders_order (created_at, updated_at, name, status, held_from_status, hold_reason, customer_id,"
        " customer_email, customer_name, customer_number, buyer_email, buyer_message, ordered_by, currency,"
        " shipping_address, billing_address, delivery_address, delivery_type, fulfillment_type, shipping_method,"
        " notes, seller_note, source, imported_status, is_import, is_cod, payment, metadata, shipping_amount,"
        " tax_amount, subtotal, discount_total, shipping_total, tax_total, total, amount_refunded,"
        " promotion_discount, cancel_reason, cancellation_initiator, tracking_number, carrier, is_replacement_order,"
        " location_id) VALUES (%s, %s, '', 'pending', '', '', %s, %s, %s, '', '', '', '', 'USD', '{}', '{}', '', '',"
        " '', '', '', '', '', '', false, false, '{}', '{}', 0, 0, %s, 0, 0, 0, %s, 0, 0, '', '', '', '', false, %s)"
        " RETURNING id",
        (now, now, customer[0], customer[1], name, subtotal, subtotal, location_id),
        prepare=True,
    )
    order_id = cur.fetchone()[0]
    number = f"ORD-{order_id:06d}"
    cur.execute("UPDATE orders_order SET order_number = %s WHERE id = %s", (number, order_id), prepare=True)
    cur.execute(
        "INSERT INTO orders_orderlineitem (created_at, updated_at, order_id, item_id, sku, product_name, quantity,"
        " unit_price, original_price, discount_total, total, quantity_shipped, quantity_returned,"
        " quantity_cancelled, status, requires_inventory) SELECT %s, %s, %s, item_id, sku, name, quantity, price,"
        " price, 0, total, 0, 0, 0, 'pending', true"
        " FROM UNNEST(%s::bigint[], %s::text[], %s::text[], %s::int[], %s::numeric[], %s::numeric[])"
        " AS t(item_id, sku, name, quantity, price, total) RETURNING id, item_id, quantity",
        (
            now,
            now,
            order_id,
            [items[line["sku"]] for line in lines],
            skus,
            [line.get("product_name", "") for line in lines],
            [line["quantity"] for line in lines],
            [Decimal(line["unit_price"]) for line in lines],
            totals,
        ),
        prepare=True,
    )
    created = cur.fetchall()
    cur.execute(
        "UPDATE inventory_stocklevel AS l SET allocated = l.allocated + d.q, updated_at = %s"
        " FROM UNNEST(%s::bigint[], %s::int[]) AS d(id, q) WHERE l.id = d.id",
        (now, [levels[i][0] for i in wanted], list(wanted.values())),
        prepare=True,
    )
    cur.execute(
        "INSERT INTO inventory_allocation (level_id, document_type, document_id, line_id, quantity, status,"
        " created_at, updated_at) SELECT level_id, 'order', %s, line_id, quantity, 'open', %s, %s"
        " FROM UNNEST(%s::bigint[], %s::bigint[], %s::int[]) AS t(level_id, line_id, quantity)",
        (
            order_id,
            now,
            now,
            [levels[item_id][0] for _, item_id, _ in created],
            [pk for pk, _, _ in created],
            [q for _, _, q in created],
        ),
        prepare=True,
    )
    audit(cur, user_id, order_id, "pending", "pending", "create", now)
    return 201, {"order": {"id": order_id, "order_number": number, "status": "pending", "total": str(subtotal)}}


def ship_order(cur, user_id: int, order_id: int, body: dict) -> tuple[int, dict]:
    now = datetime.now(UTC)
    cur.execute("SELECT status, order_number FROM orders_order WHERE id = %s FOR UPDATE", (order_id,), prepare=True)
    row = cur.fetchone()
    if row is None:
        return 404, {"code": "not_found"}
    if row[0] not in ("pending", "processing"):
        return 422, {"code": "invalid_state_transition"}
    cur.execute(
        "SELECT a.id, a.level_id, a.quantity, l.item_id, l.location_id FROM inventory_allocation a"
        " JOIN inventory_stocklevel l ON l.id = a.level_id"
        " WHERE a.document_type = 'order' AND a.document_id = %s AND a.status = 'open'",
        (order_id,),
        prepare=True,
    )
    allocations = cur.fetchall()
    per_level: dict[int, int] = {}
    for _, level_id, quantity, _, _ in allocations:
        per_level[level_id] = per_level.get(level_id, 0) + quantity
    cur.execute(
        "SELECT id FROM inventory_stocklevel WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
        (sorted(per_level),),
        prepare=True,
    )
    cur.execute(
        "UPDATE inventory_allocation SET quantity = 0, status = 'consumed', updated_at = %s WHERE id = ANY(%s)",
        (now, [a[0] for a in allocations]),
        prepare=True,
    )
    cur.execute(
        "UPDATE inventory_stocklevel AS l SET on_hand = l.on_hand - d.q, allocated = l.allocated - d.q,"
        " updated_at = %s FROM UNNEST(%s::bigint[], %s::int[]) AS d(id, q) WHERE l.id = d.id"
        " RETURNING l.id, l.item_id, l.location_id, l.on_hand",
        (now, list(per_level), list(per_level.values())),
        prepare=True,
    )
    after = cur.fetchall()
    cur.execute(
        "INSERT INTO inventory_stockmovement (item_id, location_id, quantity, on_hand_after, reason, reason_text,"
        " source_type, source_id, source_number, note, metadata, created_by_id, actor, created_at)"
        " SELECT item_id, location_id, -q, on_hand, 'shipment', '', 'order', %s, %s, '', '{}', %s, 'floor', %s"
        " FROM UNNEST(%s::bigint[], %s::bigint[], %s::int[], %s::int[]) AS t(item_id, location_id, q, on_hand)",
        (
            order_id,
            row[1],
            user_id,
            now,
            [a[1] for a in after],
            [a[2] for a in after],
            [per_level[a[0]] for a in after],
            [a[3] for a in after],
        ),
        prepare=True,
    )
    cur.execute(
        "UPDATE orders_orderlineitem SET quantity_shipped = quantity, status = 'shipped', updated_at = %s"
        " WHERE order_id = %s",
        (now, order_id),
        prepare=True,
    )
    # One parcel from the order's location with one line per order line, as ship makes it (issue #18).
    cur.execute(
        "INSERT INTO orders_shipment (order_id, location_id, status, number, tracking_number, carrier, service,"
        " tracking_url, package_count, notes, shipped_at, actor, created_at, updated_at)"
        " SELECT id, location_id, 'shipped', NULL, %s, %s, '', '', 1, '', %s,"
        " 'floor', %s, %s FROM orders_order WHERE id = %s RETURNING id",
        (body.get("tracking_number", ""), body.get("carrier", ""), now, now, now, order_id),
        prepare=True,
    )
    shipment_id = cur.fetchone()[0]
    cur.execute(
        "UPDATE orders_shipment SET number = 'SHP-' || lpad(id::text, 6, '0') WHERE id = %s",
        (shipment_id,),
        prepare=True,
    )
    cur.execute(
        "INSERT INTO orders_shipmentlineitem (shipment_id, line_id, quantity, quantity_returned)"
        " SELECT %s, id, quantity, 0 FROM orders_orderlineitem WHERE order_id = %s",
        (shipment_id, order_id),
        prepare=True,
    )
    audit(cur, user_id, order_id, row[0], "shipped", "ship", now)
    cur.execute(
        "UPDATE orders_order SET status = 'shipped', tracking_number = %s, carrier = %s, updated_at = %s WHERE id = %s",
        (body.get("tracking_number", ""), body.get("carrier", ""), now, order_id),
        prepare=True,
    )
    return 200, {"id": order_id, "object": "order", "shipped": True, "success": True}


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status":"ok"}']
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = orjson.loads(environ["wsgi.input"].read(length)) if length else {}
    conn = connection()
    try:
        with conn.cursor() as cur:
            user_id = authenticate(cur, environ)
            if user_id is None:
                status, payload = 401, {"code": "authentication_failed"}
            elif path.rstrip("/") == "/v1/orders" and environ["REQUEST_METHOD"] == "POST":
                status, payload = create_order(cur, user_id, body)
            elif (match := SHIP_PATH.match(path)) and environ["REQUEST_METHOD"] == "POST":
                status, payload = ship_order(cur, user_id, int(match.group(1)), body)
            else:
                status, payload = 404, {"code": "not_found"}
        if status < 300:
            conn.commit()
        else:
            conn.rollback()
    except Exception:
        conn.rollback()
        raise
    data = orjson.dumps(payload)
    start_response(f"{status} X", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
