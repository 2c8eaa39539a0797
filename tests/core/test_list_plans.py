"""Every list's default sort, documented filters and search are served by an index (issue #16), on PostgreSQL.

The tables are filled set-based (`INSERT ... SELECT ... FROM generate_series`, cloning one row made through the
services) to planner-realistic sizes and ANALYZEd; then each list's page query and count query, built as the
viewset builds them, is EXPLAINed, and a sequential scan of one of the big tables fails the test.
"""

import hashlib
import json

import pytest
from django.db import connection
from rest_framework.test import APIRequestFactory

from crm.api import CustomerViewSet
from inventory.models import Location, StockMovement
from orders.api import OrderViewSet
from returns.api import ReturnViewSet
from stateset.api import list_params
from stateset.limits import COUNT_BOUND
from stateset.pagination import page_query
from tests.factories import make_item, make_location, make_order
from tests.returns.support import make_return, shipped

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

BIG = {
    "orders_order",
    "orders_orderlineitem",
    "crm_customer",
    "returns_return",
    "returns_returnlineitem",
    "inventory_stockmovement",
}
ORDERS, CUSTOMERS = 100_000, 20_000


def clone(table: str, template_id: int, n: int, **overrides: str) -> None:
    """n copies of one row, each column as it is unless overridden by an SQL expression of `g` (1..n)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "AND table_schema = current_schema() ORDER BY ordinal_position",
            [table],
        )
        columns = [name for (name,) in cursor.fetchall() if name != "id"]
        names = ", ".join(f'"{c}"' for c in columns)
        values = ", ".join(overrides.get(c, f'"{c}"') for c in columns)
        source = f'"{table}", generate_series(1, {n}) AS g'
        cursor.execute(f'INSERT INTO "{table}" ({names}) SELECT {values} FROM {source} WHERE id = %s', [template_id])


EMAIL = "'c' || {k} || '.' || substr(md5({k}::text), 1, 6) || '@' || substr(md5('d' || {k} %% 500), 1, 6) || '.com'"
SKU = "'SKU-' || upper(substr(md5('s' || {k}), 1, 8))"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def email(k: int) -> str:
    return f"c{k}.{md5(str(k))[:6]}@{md5(f'd{k % 500}')[:6]}.com"


def sku(k: int) -> str:
    return f"SKU-{md5(f's{k}')[:8].upper()}"


def ago(unit: str = "minute") -> str:
    return f"now() - g * interval '1 {unit}'"


@pytest.fixture
def big_tables():
    item = make_item("LEDGER", on_hand=50)
    order = make_order((item, 1))
    ret = make_return(shipped((item, 1)))
    locations = [order.location_id] + [make_location().pk for _ in range(19)]
    # Text as varied as real data (md5 pieces), so that the planner's trigram statistics are realistic.
    k = f"(1 + g %% {CUSTOMERS})"  # the customer of row g
    clone(
        "crm_customer",
        order.customer_id,
        CUSTOMERS,
        email=EMAIL.format(k="g"),
        first_name="initcap(substr(md5('f' || g), 1, 6))",
        last_name="initcap(substr(md5('l' || g), 1, 8))",
        sso_id="NULL",
        created_at=ago(),
        updated_at=ago(),
    )
    first_customer = f"(SELECT max(id) - {CUSTOMERS} FROM crm_customer)"
    clone(
        "orders_order",
        order.pk,
        ORDERS,
        order_number="'ORD-' || lpad(g::text, 7, '0')",
        status="(ARRAY['pending','processing','shipped','delivered','cancelled'])[1 + g %% 5]",
        customer_id=f"{first_customer} + {k}",
        location_id=f"(ARRAY{locations})[1 + g %% 20]",
        customer_email=EMAIL.format(k=k),
        customer_name=f"initcap(substr(md5('f' || {k}), 1, 6)) || ' ' || initcap(substr(md5('l' || {k}), 1, 8))",
        created_at=ago(),
        updated_at=ago(),
    )
    line = order.order_line_items.get()
    clone(
        "orders_orderlineitem",
        line.pk,
        2 * ORDERS,
        order_id=f"(SELECT max(id) FROM orders_order) - g %% {ORDERS}",
        sku=SKU.format(k="g %% 3000"),
        created_at=ago("second"),
        updated_at=ago("second"),
    )
    clone(
        "returns_return",
        ret.pk,
        ORDERS // 4,
        rma="'RMA-' || lpad(g::text, 7, '0')",
        tracking_number="'1Z' || upper(substr(md5('t' || g), 1, 14))",
        customer_id=f"{first_customer} + {k}",
        customer_email=EMAIL.format(k=k),
        order_id=f"(SELECT max(id) FROM orders_order) - g %% {ORDERS}",
        status="(ARRAY['requested','approved','received','refunded','cancelled'])[1 + g %% 5]",
        created_at=ago(),
        updated_at=ago(),
    )
    clone("returns_returnlineitem", ret.return_line_items.get().pk, ORDERS // 4, sku=SKU.format(k="g %% 3000"))
    clone("inventory_inventoryitem", item.pk, 5_000, sku=SKU.format(k="10000 + g"), upc="''", created_at=ago())
    clone(
        "inventory_stockmovement",
        StockMovement.objects.filter(item=item).first().pk,
        ORDERS,
        item_id="(SELECT max(id) FROM inventory_inventoryitem) - g %% 5000",
        created_at=ago("second"),
    )
    with connection.cursor() as cursor:
        # As a vacuumed production table: the GIN indexes' pending lists merged (VACUUM cannot run in the
        # test's transaction; this can), then fresh statistics.
        cursor.execute(
            "SELECT gin_clean_pending_list(indexrelid) FROM pg_index JOIN pg_class c ON c.oid = indexrelid "
            "JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'gin'"
        )
        for table in sorted(BIG | {"inventory_location"}):
            cursor.execute(f'ANALYZE "{table}"')
    return {"order": order, "item": item, "location": locations[7]}


BLOCKING = {"Sort", "Incremental Sort", "Hash", "Aggregate", "SetOp", "Materialize", "WindowAgg", "Gather Merge"}


def seq_scans(queryset) -> list[str]:
    """The big tables a plan scans whole. A Seq Scan that streams into a Limit expecting to stop early (the
    bounded count's `LIMIT 10001` over most of a table), with no sort, hash or aggregate between them that
    would read it all first, is no full scan."""
    plan = json.loads(queryset.explain(format="json"))
    found, stack = [], [(plan[0]["Plan"], False)]
    while stack:
        node, bounded = stack.pop()
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in BIG and not bounded:
            found.append(node["Relation Name"])
        children = node.get("Plans", [])
        if node["Node Type"] == "Limit":
            bounded = any(child["Plan Rows"] > node["Plan Rows"] for child in children)
        elif node["Node Type"] in BLOCKING:
            bounded = False
        stack.extend((child, bounded) for child in children)
    return found


def list_queries(viewset, query: dict):
    """The page query and the count query of `GET /v1/<list>?<query>`, as the viewset builds them."""
    view = viewset()
    view.action, view.action_map, view.kwargs, view.format_kwarg = "list", {"get": "list"}, {}, None
    view.request = request = view.initialize_request(APIRequestFactory().get("/v1/list", query))
    params = list_params(request, ordering_fields=view.ordering_fields, default_order=view.default_order)
    queryset = view.filtered_queryset(params)
    page = page_query(
        queryset,
        order_by=params.order_by,
        descending=params.descending,
        limit=params.limit,
        offset=params.offset,
        starting_after=params.starting_after,
        ending_before=params.ending_before,
    )
    return page, queryset.order_by().values("pk")[: COUNT_BOUND + 1]


def test_every_list_query_is_served_by_indexes(big_tables):
    order = big_tables["order"]
    some_order = order.pk + ORDERS // 2
    cases = [
        (OrderViewSet, {}),
        (OrderViewSet, {"order_direction": "asc"}),
        (OrderViewSet, {"status": "processing"}),
        (OrderViewSet, {"status": "processing,on_hold"}),
        (OrderViewSet, {"customer": order.customer_id + 17}),
        (OrderViewSet, {"customer_email": email(17).upper()}),
        (OrderViewSet, {"location": Location.objects.get(pk=big_tables["location"]).code}),
        (OrderViewSet, {"number": "ord-0000123"}),
        (OrderViewSet, {"created_after": "2026-12-04T00:00:00Z", "created_before": "2026-12-05T00:00:00Z"}),
        (OrderViewSet, {"order_by": "total"}),
        (OrderViewSet, {"starting_after": some_order}),
        (OrderViewSet, {"ending_before": some_order}),
        (OrderViewSet, {"search": "ORD-0012345"}),
        (OrderViewSet, {"search": sku(77)}),
        (OrderViewSet, {"search": email(177).split("@")[0]}),
        (OrderViewSet, {"search": email(177)}),  # an address: the prefix index
        (OrderViewSet, {"sku": sku(77)}),
        (CustomerViewSet, {}),
        (CustomerViewSet, {"email": email(42).title()}),
        (CustomerViewSet, {"search": email(42).split("@")[0]}),
        (CustomerViewSet, {"search": email(42).upper()}),
        (CustomerViewSet, {"search": md5("l42")[:8]}),
        (ReturnViewSet, {}),
        (ReturnViewSet, {"status": "approved"}),
        (ReturnViewSet, {"order": some_order}),
        (ReturnViewSet, {"customer_email": email(17)}),
        (ReturnViewSet, {"tracking_number": "1z" + md5("t99")[:14]}),
        (ReturnViewSet, {"search": "1Z" + md5("t99")[:14].upper()}),
        (ReturnViewSet, {"search": sku(12)}),
    ]
    failures = []
    for viewset, query in cases:
        page, count = list_queries(viewset, query)
        for kind, queryset in (("page", page), ("count", count)):
            if scans := seq_scans(queryset):
                failures.append(f"{viewset.__name__} {query} {kind}: Seq Scan on {', '.join(scans)}")
    # An item's ledger (`/v1/inventory_items/{id}/movements`), newest first.
    ledger = StockMovement.objects.filter(item_id=big_tables["item"].pk + 2_500)
    if scans := seq_scans(page_query(ledger, order_by="created_at", descending=True, limit=10)):
        failures.append(f"movements: Seq Scan on {', '.join(scans)}")
    assert not failures, "\n".join(failures)


def test_an_address_search_reads_the_email_btree_not_the_trigram_posting_lists(big_tables):
    """Every address shares its domain's trigrams: the email arm of an address search must be the prefix index
    (LIKE 'X%' on UPPER(email)), never the trigram index, whose posting lists hold nearly every row."""
    customers = {"customer_email_prefix", "crm_customer_email_ci_unique"}
    orders = {"order_customer_email_prefix", "order_customer_email_upper", *customers}
    for viewset, query, btrees in (
        (OrderViewSet, {"search": email(177)}, orders),
        (CustomerViewSet, {"search": email(42)}, customers),
    ):
        page, _ = list_queries(viewset, query)
        plan = json.loads(page.explain(format="json"))
        used, stack = set(), [plan[0]["Plan"]]
        while stack:
            node = stack.pop()
            if "Index Name" in node and "email" in node.get("Index Cond", "").lower():
                used.add(node["Index Name"])
            stack.extend(node.get("Plans", []))
        assert used and used <= btrees, (viewset.__name__, used)
