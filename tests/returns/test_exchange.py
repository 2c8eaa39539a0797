"""`POST /v1/orders/{id}/exchange`: a Return for the returned items and an allocated replacement order, in one
transaction, with the price difference on both orders and on the return; refusals create nothing."""

from decimal import Decimal

import pytest

from inventory.models import Allocation
from orders.models import Order
from returns import services
from returns.models import Return
from stateset.actors import Actor
from tests.factories import api_client, level, make_item, make_order, make_user
from tests.helpers import assert_error
from tests.returns.support import assert_consistent, fresh, lines_of, snapshot, stock

pytestmark = pytest.mark.django_db


def test_exchange_creates_the_return_and_an_allocated_replacement(api):
    a, b = stock(10)
    order = make_order(("A", 2, "10.00"), ("B", 1, "5.00"), status="delivered")
    la, lb = lines_of(order)
    response = api.post(
        f"/v1/orders/{order.pk}/exchange",
        {
            "return_items": [{"order_item_id": la.pk, "quantity": 1, "reason": "wrong colour"}],
            "new_items": [{"sku": "B", "quantity": 2}, {"sku": "A", "quantity": 1, "unit_price": "12.50"}],
            "reason": "swap",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    ack = response.json()
    ret, replacement = ack["return"], ack["replacement_order"]
    assert (ack["object"], ack["exchanged"], ack["order"]["status"]) == ("order", True, "exchanged")
    # The replacement: B × 2 at the original's 5.00 + A × 1 at 12.50 = 22.50; returned 10.00; difference 12.50.
    assert (replacement["total"], replacement["is_replacement_order"], replacement["exchange_for"]) == (
        "22.50",
        True,
        order.pk,
    )
    assert (ret["amount"], ret["status"], ret["replacement_order"]) == ("10.00", "requested", replacement["id"])
    assert ret["exchange_price_difference"] == ack["order"]["exchange_price_difference"] == "12.50"
    assert replacement["exchange_price_difference"] == "12.50"
    assert [(x["sku"], x["quantity"], x["reason"]) for x in ret["return_line_items"]] == [("A", 1, "wrong colour")]
    assert [x.quantity_returned for x in lines_of(order)] == [1, 0]
    # Allocated at the order's location: A 10 − 2 shipped, 1 allocated; B 10 − 1 shipped, 2 allocated.
    assert (level(a), level(b)) == ((8, 1, 0), (9, 2, 0))
    held = Allocation.objects.filter(status="open", document_type="order", document_id=replacement["id"])
    held = held.values_list("quantity", flat=True)
    assert sorted(held) == [1, 2]
    assert_consistent()


def test_the_exchanges_return_runs_its_lifecycle_and_restocks(api):
    a, _ = stock(10)
    order = make_order(("A", 1, "10.00"), status="shipped")
    (la,) = lines_of(order)
    ack = api.post(
        f"/v1/order/{order.pk}/exchange",
        {"return_items": [{"order_item_id": la.pk, "quantity": 1}], "new_items": [{"sku": "A", "quantity": 1}]},
        format="json",
    ).json()
    assert ack["order"]["exchange_price_difference"] == "0.00"
    rid = ack["return"]["id"]
    for action in ("approve", "receive"):
        assert api.post(f"/v1/returns/{rid}/{action}").status_code == 200
    assert level(a) == (10, 1, 0)  # 10 − 1 shipped + 1 restocked; 1 held for the replacement
    # The orders app refuses refunds on an exchanged order: the return is closed instead.
    assert_error(api.post(f"/v1/returns/{rid}/refund"), 422, "invalid_request_error", "invalid_state_transition")
    assert api.post(f"/v1/returns/{rid}/close").json()["return"]["status"] == "closed"
    assert_consistent()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"return_items": [{"order_item_id": "{a}", "quantity": 3}], "new_items": [{"sku": "A", "quantity": 1}]}, 422,
         "return_exceeds_shipped"),
        ({"return_items": [{"order_item_id": "{a}", "quantity": 1}], "new_items": [{"sku": "A", "quantity": 99}]}, 422,
         "insufficient_stock"),
        ({"return_items": [{"order_item_id": "{a}", "quantity": 1}], "new_items": [{"sku": "NOPE", "quantity": 1}]},
         422, "unknown_sku"),
        ({"return_items": [{"order_item_id": "{a}", "quantity": 1}], "new_items": [{"sku": "C", "quantity": 1}]}, 400,
         "validation_error"),  # no price for a SKU the order did not have
        ({"return_items": [], "new_items": [{"sku": "A", "quantity": 1}]}, 400, "validation_error"),
        ({"return_items": [{"order_item_id": "{a}", "quantity": 1}]}, 400, "validation_error"),
    ],
)  # fmt: skip
def test_exchange_refusals_create_nothing(api, body, status, code):
    stock(10)
    make_item("C", on_hand=5)
    order = make_order(("A", 2, "10.00"), status="delivered")
    (la,) = lines_of(order)
    body = {
        **body,
        "return_items": [{**i, "order_item_id": la.pk} for i in body.get("return_items", [])],
    }
    before = snapshot()
    assert_error(
        api.post(f"/v1/orders/{order.pk}/exchange", body, format="json"), status, "invalid_request_error", code
    )
    assert snapshot() == before
    assert (Return.objects.count(), Order.objects.count(), fresh(order).status) == (0, 1, "delivered")


def test_exchange_needs_a_shipped_order_and_the_permissions():
    stock(10)
    pending = make_order(("A", 1, "10.00"))
    (lp,) = lines_of(pending)
    body = {"return_items": [{"order_item_id": lp.pk, "quantity": 1}], "new_items": [{"sku": "A", "quantity": 1}]}
    api = api_client()
    assert_error(
        api.post(f"/v1/orders/{pending.pk}/exchange", body, format="json"),
        422,
        "invalid_request_error",
        "invalid_state_transition",
    )
    order = make_order(("A", 1, "10.00"), status="delivered")
    (la,) = lines_of(order)
    body["return_items"][0]["order_item_id"] = la.pk
    clerk = api_client(make_user("orders.change_order", "returns.add_return"))
    before = snapshot()
    error = assert_error(
        clerk.post(f"/v1/orders/{order.pk}/exchange", body, format="json"),
        403,
        "permission_error",
        "insufficient_permissions",
    )
    assert "orders.add_order" in error["message"]
    no_return = api_client(make_user("orders.change_order"))
    assert_error(
        no_return.post(f"/v1/orders/{order.pk}/return", {"return_all": True}, format="json"),
        403,
        "permission_error",
        "insufficient_permissions",
    )
    assert snapshot() == before
    result = services.order_exchange(
        order=order,
        by=Actor(user=make_user("returns.add_return", "orders.add_order"), channel="api"),
        return_items=[{"order_item_id": la.pk, "quantity": 1}],
        new_items=[{"sku": "B", "quantity": 1, "unit_price": Decimal("7.00")}],
    )
    assert (result.price_difference, fresh(order).status) == (Decimal("-3.00"), "exchanged")


# Contract §3: return and exchange are allowed from shipped and delivered only.
ORDER_STATUSES = [
    "pending",
    "processing",
    "on_hold",
    "shipped",
    "delivered",
    "cancelled",
    "merged",
    "returned",
    "refunded",
    "exchanged",
]


@pytest.mark.parametrize("status", ORDER_STATUSES)
@pytest.mark.parametrize("action", ["return", "exchange"])
def test_return_and_exchange_from_every_order_status(action, status):
    from tests.orders.support import order_in

    stock(50)
    order = order_in(status)  # 2 x A at 10.00, 1 x B at 5.00
    line_a = next(line for line in lines_of(order) if line.sku == "A")
    body = (
        {"return_all": True}
        if action == "return"
        else {"return_items": [{"order_item_id": line_a.pk, "quantity": 1}], "new_items": [{"sku": "B", "quantity": 1}]}
    )
    before = snapshot(order)
    response = api_client().post(f"/v1/orders/{order.pk}/{action}", body, format="json")
    if status in ("shipped", "delivered"):
        assert response.status_code == 200, response.json()
        ack = "returned" if action == "return" else "exchanged"
        assert response.json()[ack] is True
        assert fresh(order).status == ("returned" if action == "return" else "exchanged")
        assert Return.objects.filter(order=order).count() == 1
    else:
        body = assert_error(response, 422, "invalid_request_error", "invalid_state_transition")
        assert status in body["message"]
        assert snapshot(order) == before
    assert_consistent()
