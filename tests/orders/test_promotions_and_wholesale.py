"""The promotions resource, and wholesale orders through their whole lifecycle."""

from decimal import Decimal

import pytest

from inventory.models import StockMovement
from inventory.selectors import ledger_mismatches
from orders import services
from orders.models import Order, Promotion, WholesaleOrder
from tests.factories import SYSTEM, level, make_customer, make_item, make_promotion
from tests.helpers import assert_error, assert_list_queries_constant
from tests.orders.support import order_in, snapshot, stock

pytestmark = pytest.mark.django_db

# ---- promotions ------------------------------------------------------------------------------------------------


def test_promotion_crud(api):
    response = api.post(
        "/v1/promotions",
        {"code": "SPRING", "type": "percentage", "value": 15, "usage_limit": 100, "min_order_amount": "20"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    promo = response.json()["promotion"]
    assert (promo["object"], promo["value"], promo["times_used"], promo["active"]) == ("promotion", "15.00", 0, True)
    assert_error(
        api.post("/v1/promotions", {"code": "spring", "type": "fixed", "value": 1}, format="json"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert_error(
        api.post("/v1/promotions", {"code": "X", "type": "percentage", "value": 150}, format="json"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert_error(
        api.patch(f"/v1/promotions/{promo['id']}", {"times_used": 5}, format="json"),
        400,
        "invalid_request_error",
        "read_only_field",
    )
    updated = api.put(f"/v1/promotions/{promo['id']}", {"active": False}, format="json").json()["promotion"]
    assert updated["active"] is False
    assert [p["code"] for p in api.get("/v1/promotions?active=false").json()["promotions"]] == ["SPRING"]
    assert api.delete(f"/v1/promotions/{promo['id']}").json() == {
        "id": promo["id"],
        "object": "promotion",
        "deleted": True,
    }


def test_a_used_promotion_cannot_be_deleted_nor_limited_below_its_uses(api):
    stock()
    promo = make_promotion("USED")
    order = order_in("pending")
    services.order_apply_promotion(order=order, by=SYSTEM, code="USED")
    assert_error(api.delete(f"/v1/promotions/{promo.pk}"), 422, "invalid_request_error", "promotion_in_use")
    services.order_apply_promotion(order=order_in("pending"), by=SYSTEM, code="USED")
    error = assert_error(
        api.patch(f"/v1/promotions/{promo.pk}", {"usage_limit": 1}, format="json"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert "usage_limit" in error["errors"]
    assert Promotion.objects.get(pk=promo.pk).times_used == 2


def test_a_promotions_terms_are_fixed_once_an_order_carries_it(api):
    """Totals are recomputed from the promotion on every change of an open order: new terms would reprice
    orders already placed, at their next unrelated edit."""
    stock()
    promo = make_promotion("TEN", value="10")
    unused = make_promotion("SPARE", value="10")
    order = order_in("pending")  # 25.00
    services.order_apply_promotion(order=order, by=SYSTEM, code="TEN")
    assert Order.objects.get(pk=order.pk).total == Decimal("22.50")
    for change in ({"value": 90}, {"type": "fixed"}, {"type": "fixed", "value": 90}):
        body = assert_error(
            api.patch(f"/v1/promotions/{promo.pk}", change, format="json"),
            422,
            "invalid_request_error",
            "promotion_in_use",
        )
        assert set(body["errors"]) == set(change)
    assert Promotion.objects.filter(pk=promo.pk).values_list("type", "value").get() == ("percentage", Decimal("10"))
    assert api.patch(f"/v1/orders/{order.pk}", {"notes": "leave at door"}, format="json").status_code == 200
    assert Order.objects.get(pk=order.pk).total == Decimal("22.50")
    # what only decides who may apply it next stays editable; so do the terms of an unused promotion
    response = api.patch(f"/v1/promotions/{promo.pk}", {"name": "Ten off", "value": "10.00"}, format="json")
    assert response.status_code == 200, response.json()
    assert (
        api.patch(f"/v1/promotions/{unused.pk}", {"value": 20}, format="json").json()["promotion"]["value"] == "20.00"
    )


def test_a_promotions_terms_are_fixed_in_the_admin_too(admin_client):
    stock()
    promo = make_promotion("TEN", value="10")
    services.order_apply_promotion(order=order_in("pending"), by=SYSTEM, code="TEN")
    url = f"/admin/orders/promotion/{promo.pk}/change/"
    data = {"code": "TEN", "type": "percentage", "value": "50", "active": "on"}
    response = admin_client.post(url, data, follow=True)
    assert any("cannot change" in str(m) for m in response.context["messages"])
    assert Promotion.objects.get(pk=promo.pk).value == Decimal("10")
    response = admin_client.post(f"/admin/orders/promotion/{promo.pk}/delete/", {"post": "yes"}, follow=True)
    assert "<title>Cannot delete promotion" in response.content.decode()  # Django refuses: an order uses it
    assert Promotion.objects.filter(pk=promo.pk).exists()


def test_a_split_orders_promotion_use_stays_counted_when_it_is_removed(api):
    """The order split off keeps its share of the promotion as a fixed discount; giving the use back would let
    a single-use code discount a third order."""
    stock()
    make_promotion("ONCE", value="50", usage_limit=1)
    order = order_in("pending")  # 2 x A at 10.00, 1 x B at 5.00
    services.order_apply_promotion(order=order, by=SYSTEM, code="ONCE")
    line_a = order.order_line_items.get(sku="A")
    child = services.order_split(order=order, by=SYSTEM, splits=[[(line_a.pk, 2)]]).orders[0]
    assert child.discount_total == Decimal("10.00")
    assert api.post(f"/v1/orders/{order.pk}/remove_promotion").status_code == 200
    assert Promotion.objects.get(code="ONCE").times_used == 1
    assert Order.objects.get(pk=child.pk).discount_total == Decimal("10.00")
    other = order_in("pending")
    assert_error(
        api.post(f"/v1/orders/{other.pk}/apply_promotion", {"code": "ONCE"}, format="json"),
        422,
        "invalid_request_error",
        "promotion_not_applicable",
    )
    assert Order.objects.get(pk=other.pk).promotion_id is None


def test_removing_a_promotion_nothing_shared_gives_its_use_back(api):
    stock()
    make_promotion("ONCE", value="50", usage_limit=1)
    order = order_in("pending")
    services.order_apply_promotion(order=order, by=SYSTEM, code="ONCE")
    assert api.post(f"/v1/orders/{order.pk}/remove_promotion").status_code == 200
    assert Promotion.objects.get(code="ONCE").times_used == 0
    response = api.post(f"/v1/orders/{order_in('pending').pk}/apply_promotion", {"code": "ONCE"}, format="json")
    assert response.status_code == 200, response.json()


def test_promotion_list_queries_are_constant(api):
    assert_list_queries_constant(api, "/v1/promotions?limit=100", "promotions", lambda: make_promotion(), more=20)


# ---- wholesale orders ------------------------------------------------------------------------------------------


def create_wholesale(api, **extra):
    body = {
        "name": "Store opening",
        "customer_number": "C-42",
        "payment_terms": "net_60",
        "memo": "dock 3",
        "order_line_items": [
            {"sku": "A", "quantity": 4, "unit_price": "12.50"},
            {"sku": "B", "quantity": 2, "unit_price": 3},
        ],
        **extra,
    }
    response = api.post("/v1/wholesale_order", body, format="json")  # the documented curl path
    assert response.status_code == 201, response.json()
    return response.json()["wholesale_order"]


def test_wholesale_lifecycle_allocates_on_approval_and_consumes_on_fulfilment(api):
    a, b = stock(10)
    order = create_wholesale(api)
    assert order["order_number"] == f"WHO-{order['id']:06d}"
    assert (order["status"], order["order_fulfillment_status"], order["order_financial_status"]) == (
        "draft",
        "unfulfilled",
        "pending",
    )
    assert (order["subtotal"], order["total"], order["payment_terms"]) == ("56.00", "56.00", "net_60")
    assert [line["wholesale_order_id"] for line in order["order_line_items"]] == [order["id"]] * 2
    base = f"/v1/wholesale_orders/{order['id']}"
    assert api.post(f"{base}/submit").json()["submitted"] is True
    assert level(a) == (10, 0, 0)
    ack = api.post(f"{base}/approve").json()
    assert (ack["approved"], ack["wholesale_order"]["order_fulfillment_status"]) == (True, "allocated")
    assert (level(a), level(b)) == ((10, 4, 0), (10, 2, 0))
    ack = api.post(f"{base}/fulfill").json()
    assert (ack["fulfilled"], ack["wholesale_order"]["order_fulfillment_status"]) == (True, "fulfilled")
    assert (level(a), level(b)) == ((6, 0, 0), (8, 0, 0))
    assert StockMovement.objects.filter(reason="shipment", source_type="wholesale_order").count() == 2
    assert [x["quantity_fulfilled"] for x in ack["wholesale_order"]["order_line_items"]] == [4, 2]
    assert api.post(f"{base}/close").json()["wholesale_order"]["status"] == "closed"
    history = api.get(f"{base}/history?order_direction=asc").json()["history"]
    assert [h["transition"] for h in history] == ["create", "submit", "approve", "fulfill", "close"]
    assert ledger_mismatches() == []


def test_wholesale_approval_short_of_stock_is_422_and_changes_nothing(api):
    a = make_item("A", on_hand=3)
    b = make_item("B", on_hand=10)
    order = create_wholesale(api)
    api.post(f"/v1/wholesale_orders/{order['id']}/submit")
    error = assert_error(
        api.post(f"/v1/wholesale_orders/{order['id']}/approve"), 422, "invalid_request_error", "insufficient_stock"
    )
    assert set(error["errors"]) == {"A"}
    assert WholesaleOrder.objects.get(pk=order["id"]).status == "submitted"
    assert (level(a), level(b)) == ((3, 0, 0), (10, 0, 0))
    assert ledger_mismatches() == []


def test_wholesale_cancel_releases_and_the_table_refuses_the_rest(api):
    a, b = stock(10)
    order = create_wholesale(api)
    base = f"/v1/wholesale_orders/{order['id']}"
    assert_error(api.post(f"{base}/approve"), 422, "invalid_request_error", "invalid_state_transition")
    assert_error(api.post(f"{base}/fulfill"), 422, "invalid_request_error", "invalid_state_transition")
    api.post(f"{base}/submit")
    api.post(f"{base}/approve")
    assert level(a) == (10, 4, 0)
    assert_error(
        api.patch(base, {"memo": "late"}, format="json"), 422, "invalid_request_error", "invalid_state_transition"
    )
    ack = api.post(f"{base}/cancel", {"reason": "store delayed"}, format="json").json()
    assert (ack["cancelled"], ack["wholesale_order"]["cancel_reason"]) == (True, "store delayed")
    assert (level(a), level(b)) == ((10, 0, 0), (10, 0, 0))
    assert_error(api.post(f"{base}/cancel"), 422, "invalid_request_error", "invalid_state_transition")
    assert ledger_mismatches() == []


def test_wholesale_create_and_update_rules(api):
    stock()
    customer = make_customer()
    assert_error(
        api.post(
            "/v1/wholesale_orders",
            {"order_line_items": [{"sku": "NOPE", "quantity": 1, "unit_price": 1}]},
            format="json",
        ),
        422,
        "invalid_request_error",
        "unknown_sku",
    )
    assert_error(
        api.post("/v1/wholesale_orders", {"payment_terms": "net_90", "order_line_items": []}, format="json"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    order = create_wholesale(api, customer=customer.pk)
    assert order["customer"] == customer.pk
    updated = api.put(
        f"/v1/wholesale_orders/{order['id']}", {"memo": "dock 4", "order_financial_status": "paid"}, format="json"
    ).json()["wholesale_order"]
    assert (updated["memo"], updated["order_financial_status"]) == ("dock 4", "paid")
    assert_error(
        api.patch(f"/v1/wholesale_orders/{order['id']}", {"order_fulfillment_status": "fulfilled"}, format="json"),
        400,
        "invalid_request_error",
        "read_only_field",
    )
    ids = [
        o["id"] for o in api.get(f"/v1/wholesale_orders?customer={customer.pk}&status=draft").json()["wholesale_orders"]
    ]
    assert ids == [order["id"]]


def test_wholesale_list_queries_are_constant(api):
    stock(1000)

    def make_one():
        services.wholesale_order_create(
            by=SYSTEM,
            order_line_items=[
                {"sku": "A", "quantity": 1, "unit_price": 1},
                {"sku": "B", "quantity": 1, "unit_price": 1},
            ],
        )

    assert_list_queries_constant(api, "/v1/wholesale_orders?limit=100", "wholesale_orders", make_one, more=20)


def test_refused_wholesale_action_changes_nothing(api):
    stock()
    order = create_wholesale(api)
    before = snapshot()
    assert_error(
        api.post(f"/v1/wholesale_orders/{order['id']}/close"), 422, "invalid_request_error", "invalid_state_transition"
    )
    assert snapshot() == before


# Contract §3, wholesale orders: the statuses each action is allowed from, and where it leads.
WHOLESALE_TABLE = {
    "submit": (["draft"], "submitted"),
    "approve": (["submitted"], "approved"),
    "fulfill": (["approved"], "fulfilled"),
    "close": (["fulfilled"], "closed"),
    "cancel": (["draft", "submitted", "approved"], "cancelled"),
}
WHOLESALE_PATHS = {
    "draft": [],
    "submitted": ["submit"],
    "approved": ["submit", "approve"],
    "fulfilled": ["submit", "approve", "fulfill"],
    "closed": ["submit", "approve", "fulfill", "close"],
    "cancelled": ["submit", "cancel"],
}
ACKS = {"submit": "submitted", "approve": "approved", "fulfill": "fulfilled", "close": "closed", "cancel": "cancelled"}


def wholesale_state(order_id: int) -> tuple:
    order = WholesaleOrder.objects.get(pk=order_id)
    lines = tuple(order.order_line_items.order_by("pk").values_list("quantity", "quantity_fulfilled"))
    return order.status, order.order_fulfillment_status, lines, stock_state(), StockMovement.objects.count()


def stock_state() -> tuple:
    from inventory.models import Allocation, StockLevel

    levels = tuple(StockLevel.objects.order_by("pk").values_list("on_hand", "allocated", "incoming"))
    return levels, tuple(Allocation.objects.order_by("pk").values_list("quantity", "status"))


@pytest.mark.parametrize("status", list(WHOLESALE_PATHS))
@pytest.mark.parametrize("action", list(WHOLESALE_TABLE))
def test_every_wholesale_action_from_every_status(api, action, status):
    stock(10)
    order = create_wholesale(api)
    base = f"/v1/wholesale_orders/{order['id']}"
    for step in WHOLESALE_PATHS[status]:
        assert api.post(f"{base}/{step}").status_code == 200, step
    sources, target = WHOLESALE_TABLE[action]
    before = wholesale_state(order["id"])
    response = api.post(f"{base}/{action}")
    if status in sources:
        assert response.status_code == 200, response.json()
        assert response.json()[ACKS[action]] is True
        assert WholesaleOrder.objects.get(pk=order["id"]).status == target
    else:
        body = assert_error(response, 422, "invalid_request_error", "invalid_state_transition")
        assert status in body["message"]
        assert wholesale_state(order["id"]) == before
    assert ledger_mismatches() == []
