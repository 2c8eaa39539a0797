"""The lean floor of the read path: the order list's SELECTs, written by hand with psycopg and orjson, behind
bare WSGI.

What `GET /v1/orders` would cost if Django and DRF cost nothing: the same API key check as bench/floor.py,
then the statements the list runs (orders.selectors.order_list under stateset.api.ListMixin): the count as the
API counts (exact up to 10,000 rows, then the planner's estimate; stateset.pagination), the page of orders
joined to their customer, location and promotion in the list's order (created_at, id, descending), and one
query each for the page's lines, discounts, tags, refunds and shipments; every column
rendered, nested the way the API nests them, with orjson. It serves only

    GET /v1/orders?limit=&offset=

Run by bench/reads_http.py as `gunicorn bench.reads_floor:app` with FLOOR_DSN set to the benchmark's
database. Not part of the product: nothing imports it.
"""

from __future__ import annotations

import os
from decimal import Decimal
from urllib.parse import parse_qs

import orjson
import psycopg

from bench.floor import authenticate

DSN = os.environ.get("FLOOR_DSN", "")
MAX_LIMIT = 100
COUNT_BOUND = 10_000  # stateset.limits.COUNT_BOUND
RELATED = {
    "order_line_items": "SELECT * FROM orders_orderlineitem WHERE order_id = ANY(%s) ORDER BY id",
    "discounts": "SELECT * FROM orders_orderdiscount WHERE order_id = ANY(%s) ORDER BY id",
    "order_tags": "SELECT * FROM orders_ordertag WHERE order_id = ANY(%s) ORDER BY id",
    "refunds": "SELECT * FROM orders_refund WHERE order_id = ANY(%s) ORDER BY id",
    "shipments": "SELECT * FROM orders_shipment WHERE order_id = ANY(%s) ORDER BY id",
}
PAGE = (
    "SELECT o.*, l.code AS location_code, p.code AS promotion_code, c.email AS customer_email_of_record"
    " FROM orders_order o JOIN inventory_location l ON l.id = o.location_id"
    " LEFT JOIN crm_customer c ON c.id = o.customer_id LEFT JOIN orders_promotion p ON p.id = o.promotion_id"
    " ORDER BY o.created_at DESC, o.id DESC LIMIT %s OFFSET %s"
)

_conn: psycopg.Connection | None = None


def connection() -> psycopg.Connection:
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg.connect(DSN, autocommit=True)
    return _conn


def rows(cur) -> list[dict]:
    names = [column.name for column in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def default(value):
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError


def count(cur) -> tuple[int, bool]:
    """The API's counting rule (stateset.pagination.bounded_count): exact up to COUNT_BOUND rows, above it the
    planner's estimate of the list's rows (its EXPLAIN), flagged inexact."""
    cur.execute(f"SELECT COUNT(*) FROM (SELECT id FROM orders_order LIMIT {COUNT_BOUND + 1}) page", prepare=True)
    found = cur.fetchone()[0]
    if found <= COUNT_BOUND:
        return found, True
    cur.execute("EXPLAIN (FORMAT json) SELECT id FROM orders_order")
    plan = cur.fetchone()[0]
    plan = orjson.loads(plan) if isinstance(plan, str | bytes) else plan
    return max(int(plan[0]["Plan"]["Plan Rows"]), COUNT_BOUND + 1), False


def order_list(cur, limit: int, offset: int) -> dict:
    total, exact = count(cur)
    cur.execute(PAGE, (limit + 1, offset), prepare=True)  # one more row says has_more, as the API reads it
    orders = rows(cur)
    has_more = len(orders) > limit
    orders = orders[:limit]
    ids = [order["id"] for order in orders]
    by_id = {order["id"]: order for order in orders}
    for order in orders:
        order["object"] = "order"
        order["order_status"] = order["status"]
        order["location"] = order.pop("location_code")
        order["warehouse_id"] = order["location_id"]
        order["customer"] = order["customer_id"]
        order["balance"] = order["total"] - order["amount_refunded"]
        order["created_date"], order["updated_date"] = order["created_at"], order["updated_at"]
        for key in RELATED:
            order[key] = []
    for key, sql in RELATED.items():
        cur.execute(sql, (ids,), prepare=True)
        for row in rows(cur):
            by_id[row["order_id"]][key].append(row)
    for order in orders:
        order["tags"] = [tag["tag_name"] for tag in order["order_tags"]]
    return {
        "orders": orders,
        "total_count": total,
        "total_count_exact": exact,
        "limit": limit,
        "offset": offset,
        "has_more": has_more,
    }


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status":"ok"}']
    query = {key: values[-1] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
    with connection().cursor() as cur:
        if authenticate(cur, environ) is None:
            status, payload = 401, {"code": "authentication_failed"}
        elif path.rstrip("/") == "/v1/orders" and environ["REQUEST_METHOD"] == "GET":
            limit = min(max(int(query.get("limit", 10)), 1), MAX_LIMIT)
            status, payload = 200, order_list(cur, limit, max(int(query.get("offset", 0)), 0))
        else:
            status, payload = 404, {"code": "not_found"}
    data = orjson.dumps(payload, default=default)
    start_response(f"{status} X", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
