"""Orders over HTTP: create (allocating all lines or nothing), retrieve and its aliases, update, lists."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Customer
from inventory.models import Allocation, StockMovement
from inventory.selectors import ledger_mismatches
from orders.models import Order, OrderLineItem
from tests.factories import level, make_customer, make_item, make_location, make_order
from tests.helpers import assert_error, assert_list_queries_constant
from tests.orders.support import assert_consistent, fresh, order_in, snapshot, stock

pytestmark = pytest.mark.django_db

DOCUMENTED = {  # reference §2.2
    "id",
    "name",
    "order_number",
    "created_date",
    "updated_date",
    "order_status",
    "imported_status",
    "delivery_date",
    "ordered_by",
    "delivery_address",
    "notes",
    "imported_date",
    "customer_number",
    "customer_name",
    "import",
    "customer_email",
    "source",
    "buyer_email",
    "buyer_message",
    "cancel_order_sla_time",
    "cancel_reason",
    "cancellation_initiator",
    "fulfillment_type",
    "delivery_type",
    "is_cod",
    "is_replacement_order",
    "seller_note",
    "status",
    "tracking_number",
    "warehouse_id",
    "order_line_items",
}
CONTRACT = {  # contract §3
    "customer",
    "currency",
    "location",
    "shipping_address",
    "billing_address",
    "tags",
    "subtotal",
    "discount_total",
    "shipping_total",
    "tax_total",
    "total",
    "amount_refunded",
    "hold_reason",
    "cancel_reason",
    "tracking_number",
    "carrier",
    "shipped_at",
    "delivered_at",
    "split_from",
    "merged_into",
    "exchange_for",
    "is_replacement_order",
    "object",
    "created_at",
    "updated_at",
}
LINE = {
    "sku",
    "product_name",
    "quantity",
    "unit_price",
    "original_price",
    "discount_total",
    "total",
    "quantity_shipped",
    "quantity_returned",
    "status",
}


def test_create_allocates_every_line_and_answers_the_documented_fields(api):
    a, b = stock(10)
    customer = make_customer(email="ann@example.com", first_name="Ann", last_name="Lee")
    response = api.post(
        "/v1/orders",
        {
            "customer": customer.pk,
            "order_line_items": [
                {"sku": "A", "quantity": "2", "unit_price": 19.99, "product_name": "Widget"},
                {"sku": "B", "quantity": 1, "unit_price": "5.005"},
                {"sku": "GIFT-WRAP", "quantity": 1, "unit_price": "3.50", "requires_inventory": False},
            ],
            "shipping_amount": "4.95",
            "tax_amount": "3.10",
            "shipping_address": {"line1": "1 Main St", "city": "Austin"},
            "notes": "ring twice",
            "import": True,
            "tags": ["vip", {"tag_name": "channel", "tag_value": "web"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    order = response.json()["order"]
    assert response["Location"].endswith(f"/v1/orders/{order['id']}")
    assert set(order) >= DOCUMENTED | CONTRACT
    assert set(order["order_line_items"][0]) >= LINE
    assert order["order_number"] == f"ORD-{order['id']:06d}"
    assert (order["status"], order["order_status"], order["customer"], order["customer_email"]) == (
        "pending",
        "pending",
        customer.pk,
        "ann@example.com",
    )
    assert order["customer_name"] == "Ann Lee"
    assert (order["location"], order["warehouse_id"], order["currency"], order["import"]) == ("MAIN", 1, "USD", True)
    assert order["tags"] == ["vip", "channel"]
    assert [line["unit_price"] for line in order["order_line_items"]] == ["19.99", "5.01", "3.50"]
    assert (order["subtotal"], order["shipping_total"], order["tax_total"], order["total"]) == (
        "48.49",
        "4.95",
        "3.10",
        "56.54",
    )
    assert level(a) == (10, 2, 0) and level(b) == (10, 1, 0)
    assert ledger_mismatches() == []


def test_create_in_the_2025_docs_form_finds_or_creates_the_customer(api):
    stock()
    body = {
        "customer": {"email": "New@Example.com", "first_name": "Nia", "last_name": "Obi", "phone": "555"},
        "items": [{"sku": "A", "quantity": 2, "price": 2999, "name": "Widget"}],
        "shipping_address": {"line1": "2 Elm", "city": "Oslo", "postal_code": "0150", "country": "NO"},
        "payment": {"method": "card", "payment_intent_id": "pi_1"},
        "shipping": {"method": "express", "carrier": "DHL"},
        "metadata": {"cart": "c1"},
    }
    order = api.post("/v1/orders", body, format="json").json()["order"]
    customer = Customer.objects.get(email="New@Example.com")
    assert (order["customer"], order["customer_name"], order["subtotal"]) == (customer.pk, "Nia Obi", "59.98")
    assert (order["shipping_method"], order["carrier"], order["payment"]["method"]) == ("express", "DHL", "card")
    assert order["order_line_items"][0]["product_name"] == "Widget"
    again = api.post("/v1/orders", {**body, "customer": {"email": "new@example.COM"}}, format="json").json()
    assert again["order"]["customer"] == customer.pk
    assert Customer.objects.count() == 1


def test_customer_email_alone_links_or_creates_the_customer(api):
    stock()
    existing = make_customer(email="kim@example.com")
    order = api.post(
        "/v1/orders",
        {"customer_email": "KIM@example.com", "order_line_items": [{"sku": "A", "quantity": 1, "unit_price": 1}]},
        format="json",
    ).json()["order"]
    assert order["customer"] == existing.pk


def test_short_stock_is_422_naming_each_sku_and_creates_nothing(api):
    make_item("A", on_hand=1)
    make_item("B", on_hand=0)
    make_item("C", on_hand=5)
    response = api.post(
        "/v1/orders",
        {
            "customer": {"email": "nobody@example.com"},
            "order_line_items": [
                {"sku": "A", "quantity": 2, "unit_price": 1},
                {"sku": "B", "quantity": 1, "unit_price": 1},
                {"sku": "C", "quantity": 5, "unit_price": 1},
            ],
        },
        format="json",
    )
    error = assert_error(response, 422, "invalid_request_error", "insufficient_stock")
    assert set(error["errors"]) == {"A", "B"}
    assert "A at MAIN (requested 2, available 1)" in error["message"]
    assert (Order.objects.count(), OrderLineItem.objects.count(), Allocation.objects.count()) == (0, 0, 0)
    assert not Customer.objects.filter(email="nobody@example.com").exists()


def test_unknown_sku_is_422_naming_it_unless_the_line_needs_no_stock(api):
    make_item("A", on_hand=5)
    lines = [{"sku": "A", "quantity": 1, "unit_price": 1}, {"sku": "NOPE", "quantity": 1, "unit_price": 1}]
    error = assert_error(
        api.post("/v1/orders", {"order_line_items": lines}, format="json"),
        422,
        "invalid_request_error",
        "unknown_sku",
    )
    assert error["errors"] == {"NOPE": "no inventory item with this SKU"}
    assert Order.objects.count() == 0
    lines[1]["requires_inventory"] = False
    order = api.post("/v1/orders", {"order_line_items": lines}, format="json").json()["order"]
    assert [line["product_id"] for line in order["order_line_items"]][1] is None
    assert Allocation.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"order_line_items": []}, "validation_error", "order_line_items"),
        ({"order_line_items": None}, "validation_error", "order_line_items"),
        ({"order_line_items": [{"sku": "A", "quantity": 0, "unit_price": 1}]}, "validation_error", "order_line_items"),
        ({"order_line_items": [{"sku": "A", "quantity": 1}]}, "validation_error", "order_line_items"),
        ({"order_line_items": [{"sku": "A", "quantity": 1, "unit_price": 1, "total": 9}]}, "read_only_field", None),
        ({"total": "1.00"}, "read_only_field", "total"),
        ({"status": "shipped"}, "read_only_field", "status"),
        ({"favourite": 1}, "unknown_field", "favourite"),
        ({"location": "NOWHERE"}, "validation_error", "location"),
        ({"customer": 999}, "validation_error", "customer"),
        ({"shipping_amount": "-1"}, "validation_error", "shipping_amount"),
    ],
)
def test_bad_create_input_is_400_and_creates_nothing(api, body, code, field):
    stock()
    base = {"order_line_items": [{"sku": "A", "quantity": 1, "unit_price": 1}]}
    error = assert_error(api.post("/v1/orders", {**base, **body}, format="json"), 400, "invalid_request_error", code)
    if field:
        assert field in error["errors"]
    assert Order.objects.count() == 0 and Allocation.objects.count() == 0


def test_writing_status_names_the_actions(api):
    stock()
    order = order_in("pending")
    error = assert_error(
        api.patch(f"/v1/orders/{order.pk}", {"status": "shipped"}, format="json"),
        400,
        "invalid_request_error",
        "read_only_field",
    )
    assert "ship" in error["errors"]["status"] and "cancel" in error["errors"]["status"]


def test_location_by_code_or_warehouse_id(api):
    stock()
    east = make_location("EAST")
    make_item("E", on_hand=3, location=east)
    line = [{"sku": "E", "quantity": 3, "unit_price": 1}]
    order = api.post("/v1/orders", {"warehouse_id": east.pk, "order_line_items": line}, format="json").json()
    assert (order["order"]["location"], order["order"]["warehouse_id"]) == ("EAST", east.pk)
    error = assert_error(
        api.post("/v1/orders", {"location": "EAST", "order_line_items": line}, format="json"),
        422,
        "invalid_request_error",
        "insufficient_stock",
    )
    assert "E at EAST" in error["message"]


def test_client_order_number_is_kept_and_unique(api):
    stock()
    line = [{"sku": "A", "quantity": 1, "unit_price": 1}]
    order = api.post("/v1/orders", {"order_number": "SHOP-1", "order_line_items": line}, format="json").json()
    assert order["order"]["order_number"] == "SHOP-1"
    assert_error(
        api.post("/v1/orders", {"order_number": "shop-1", "order_line_items": line}, format="json"),
        400,
        "invalid_request_error",
        "validation_error",
    )


def test_a_generated_number_a_client_took_already_gets_the_next_free_suffix(api):
    stock()
    line = [{"sku": "A", "quantity": 1, "unit_price": 1}]

    def create(**fields):
        return api.post("/v1/orders", {**fields, "order_line_items": line}, format="json").json()["order"]

    first = create()["id"]
    create(order_number=f"ord-{first + 3:06d}")  # the number id first+3 will generate, in another case
    create(order_number=f"ORD-{first + 3:06d}-2")  # and its first suffix
    generated = create()
    assert generated["id"] == first + 3
    assert generated["order_number"] == f"ORD-{first + 3:06d}-3"
    assert Order.objects.get(pk=generated["id"]).order_number == generated["order_number"]
    assert create()["order_number"] == f"ORD-{first + 4:06d}"  # a free number is taken as is


def test_retrieve_and_its_documented_aliases(api):
    stock()
    order = order_in("pending")
    for path in (f"/v1/orders/{order.pk}", f"/v1/order/{order.pk}/retrieve", f"/v1/order/{order.pk}/"):
        response = api.get(path)
        assert response.status_code == 200, path
        assert response.json()["order"]["id"] == order.pk
        assert response["ETag"]


def test_update_header_fields_by_put_patch_and_post_update(api):
    stock()
    order = order_in("pending")
    response = api.put(f"/v1/orders/{order.pk}", {"notes": "a", "shipping_amount": "7.5"}, format="json")
    assert response.json()["order"]["notes"] == "a"
    assert response.json()["order"]["total"] == "32.50"
    ack = api.post(
        f"/v1/orders/{order.pk}/update", {"order": {"tax_amount": 1, "delivery_date": "2026-01-02"}}, format="json"
    )
    assert ack.status_code == 200, ack.json()
    assert (ack.json()["updated"], ack.json()["order"]["total"], ack.json()["order"]["delivery_date"]) == (
        True,
        "33.50",
        "2026-01-02",
    )
    wrapped = api.patch(f"/v1/orders/{order.pk}", {"order_id": order.pk, "order": {"name": "x"}}, format="json")
    assert wrapped.json()["order"]["name"] == "x"
    assert_consistent(order)


@pytest.mark.parametrize("field", ["order_line_items", "customer", "location", "currency", "tags"])
def test_update_refuses_what_is_fixed_at_creation(api, field):
    stock()
    order = order_in("pending")
    before = snapshot(order)
    value = {"order_line_items": [], "customer": 1, "location": "MAIN", "currency": "EUR", "tags": ["x"]}[field]
    error = assert_error(
        api.patch(f"/v1/orders/{order.pk}", {field: value}, format="json"),
        400,
        "invalid_request_error",
        "read_only_field",
    )
    assert "after the order is created" in error["errors"][field]
    assert snapshot(order) == before


def test_update_after_shipping_is_422(api):
    stock()
    order = order_in("shipped")
    before = snapshot(order)
    assert_error(
        api.put(f"/v1/orders/{order.pk}", {"notes": "late"}, format="json"),
        422,
        "invalid_request_error",
        "invalid_state_transition",
    )
    assert snapshot(order) == before and fresh(order).notes == ""


def test_ship_consumes_the_allocations_through_the_ledger(api):
    a, b = stock(10)
    order = order_in("processing")
    assert (level(a), level(b)) == ((10, 2, 0), (10, 1, 0))
    ack = api.post(f"/v1/orders/{order.pk}/ship", {"tracking_number": "1Z", "carrier": "UPS"}, format="json").json()[
        "order"
    ]
    assert (level(a), level(b)) == ((8, 0, 0), (9, 0, 0))
    movements = StockMovement.objects.filter(reason="shipment").order_by("item__sku")
    assert [(m.item.sku, m.quantity, m.source_type, m.source_id, m.source_number) for m in movements] == [
        ("A", -2, "order", order.pk, order.order_number),
        ("B", -1, "order", order.pk, order.order_number),
    ]
    assert [(x["quantity_shipped"], x["status"]) for x in ack["order_line_items"]] == [(2, "shipped"), (1, "shipped")]
    assert (ack["tracking_number"], ack["carrier"], ack["shipments"][0]["tracking_number"]) == ("1Z", "UPS", "1Z")
    assert ack["shipped_at"] is not None
    assert ledger_mismatches() == []


def test_cancel_releases_every_allocation(api):
    a, b = stock(10)
    order = order_in("on_hold")
    ack = api.post(f"/v1/orders/{order.pk}/cancel", {"reason": "customer asked"}, format="json").json()
    assert (ack["order"]["cancel_reason"], ack["order"]["held_from_status"]) == ("customer asked", "")
    assert "via API key" in ack["order"]["cancellation_initiator"]
    assert (level(a), level(b)) == ((10, 0, 0), (10, 0, 0))
    assert {x["status"] for x in ack["order"]["order_line_items"]} == {"cancelled"}
    assert ledger_mismatches() == []


def test_list_filters_search_and_ordering(api):
    stock()
    east = make_location("EAST")
    make_item("ZED-9", on_hand=5, location=east)
    ann = make_customer(email="ann@example.com", first_name="Ann")
    first = make_order(("A", 1, "50.00"), customer=ann)
    second = make_order(("B", 1, "5.00"), status="shipped")
    third = make_order(("ZED-9", 1, "20.00"), location=east, status="cancelled")
    api.post(f"/v1/orders/{second.pk}/tag", {"tags": ["vip"]}, format="json")
    Order.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=5))

    def ids(query):
        response = api.get(f"/v1/orders?{query}")
        assert response.status_code == 200, response.json()
        return [o["id"] for o in response.json()["orders"]]

    assert ids("status=shipped,cancelled") == [third.pk, second.pk]
    assert ids(f"customer={ann.pk}") == [first.pk]
    assert ids("customer_email=ANN@example.com") == [first.pk]
    assert ids("tag=vip") == [second.pk]
    assert ids("location=EAST") == ids(f"location={east.pk}") == [third.pk]
    assert ids(f"number={second.order_number}") == [second.pk]
    cutoff = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(f"created_before={cutoff}") == [first.pk]
    assert ids(f"created_after={cutoff}&order_by=total&order_direction=asc") == [second.pk, third.pk]
    assert ids("order_by=total") == [first.pk, third.pk, second.pk]
    assert ids("order_by=order_number&order_direction=asc") == [first.pk, second.pk, third.pk]
    assert ids("search=ann") == [first.pk]
    assert ids("search=zed-9") == ids("query=ZED") == [third.pk]
    assert [o["id"] for o in api.get("/v1/orders/search?query=zed").json()["orders"]] == [third.pk]
    assert ids(f"search={first.order_number}") == [first.pk]
    assert_error(api.get("/v1/orders?status=lost"), 400, "invalid_request_error", "validation_error")
    assert_error(api.get("/v1/orders?order_by=sku"), 400, "invalid_request_error", "validation_error")


def test_search_over_several_matching_lines_lists_an_order_once(api):
    make_item("RED-1", on_hand=5)
    make_item("RED-2", on_hand=5)
    order = make_order(("RED-1", 1), ("RED-2", 1))
    body = api.get("/v1/orders?search=RED").json()
    assert ([o["id"] for o in body["orders"]], body["total_count"]) == ([order.pk], 1)


def test_list_costs_a_fixed_number_of_queries(api):
    stock(1000)
    promo_customer = make_customer()

    def make_one():
        order = make_order(("A", 1), ("B", 2), customer=promo_customer)
        api.post(f"/v1/orders/{order.pk}/tag", {"tags": ["a", "b"]}, format="json")
        api.post(f"/v1/orders/{order.pk}/add_discount", {"type": "percentage", "value": 5}, format="json")

    assert_list_queries_constant(api, "/v1/orders?limit=100", "orders", make_one, more=20)


@pytest.mark.parametrize("customer", ["²", "١", "99999999999999999999999", True, "-1"])
def test_an_order_for_a_customer_that_is_no_id_is_400(api, customer):
    # "²" passed str.isdigit and then failed int(): a 500.
    stock()
    before = snapshot()
    body = {"customer": customer, "order_line_items": [{"sku": "A", "quantity": 1, "unit_price": "1.00"}]}
    response = api.post("/v1/orders", body, format="json")
    body = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert "customer" in body["errors"]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/orders", {"shipping_address": {"line1": "a\x00b"}}),
        ("patch", "/v1/orders/{pk}", {"metadata": {"a\x00": 1}}),
        ("post", "/v1/orders/{pk}/tag", {"tags": ["a\x00"]}),
    ],
)
def test_a_null_character_in_a_json_value_is_400_and_changes_nothing(api, method, path, body):
    # PostgreSQL stores no NUL in text or jsonb: addresses, metadata and tag lists reached it, a 500.
    stock()
    order = order_in("pending")
    if path == "/v1/orders":
        body = {**body, "order_line_items": [{"sku": "A", "quantity": 1, "unit_price": "1.00"}]}
    before = snapshot(order)
    response = getattr(api, method)(path.format(pk=order.pk), body, format="json")
    error = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert error["errors"] == {next(iter(body)): "Null characters are not allowed."}
    assert snapshot(order) == before
