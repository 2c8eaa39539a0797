"""The one rule: a return's lines never exceed what the order shipped and has not had returned, whichever path
creates or grows them (API create, the line resource's create and update, the order's return action, the
exchange, reopen); rejecting, cancelling, shrinking or deleting gives the units back. Every refusal is a 422
`return_exceeds_shipped` that changes nothing."""

import pytest

from returns.models import Return, ReturnLineItem
from tests.factories import make_order
from tests.helpers import assert_error
from tests.returns.support import (
    assert_consistent,
    fresh,
    lines_of,
    make_return,
    return_lines,
    shipped,
    snapshot,
    stock,
)

pytestmark = pytest.mark.django_db


def returned(order) -> list[int]:
    return [line.quantity_returned for line in lines_of(order)]


def test_api_create_counts_units_and_refuses_above_what_is_left(api):
    stock()
    order = shipped()  # A × 2, B × 1
    a, b = lines_of(order)
    body = {
        "order_id": order.order_number,
        "customerEmail": "ann@example.com",
        "enteredBy": "agent 7",
        "reported_condition": "unopened",
        "zendesk_number": "Z-1",
        "tracking_number": "1Z1",
        "return_line_items": [{"order_line_item": a.pk, "quantity": 1}, {"sku": "B", "quantity": 1}],
    }
    response = api.post("/v1/return", body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()["return"]
    assert response["Location"].endswith(f"/v1/returns/{created['id']}")  # the canonical URL, not the alias
    assert created["rma"].startswith("RMA-") and created["status"] == "requested"
    assert (created["customerEmail"], created["customer_email"], created["enteredBy"]) == (
        "ann@example.com",
        "ann@example.com",
        "agent 7",
    )
    assert (created["order_id"], created["customer_id"], created["location"]) == (order.pk, order.customer_id, "MAIN")
    assert [(x["sku"], x["quantity"], x["price"], x["amount"]) for x in created["return_line_items"]] == [
        ("A", 1, "10.00", "10.00"),
        ("B", 1, "5.00", "5.00"),
    ]
    assert created["amount"] == "15.00"
    assert returned(order) == [1, 1] and fresh(order).status == "delivered"

    before = snapshot()
    error = assert_error(
        api.post(
            "/v1/returns", {"order_id": order.pk, "return_line_items": [{"sku": "A", "quantity": 2}]}, format="json"
        ),
        422,
        "invalid_request_error",
        "return_exceeds_shipped",
    )
    assert "1 shipped and not yet returned" in error["message"] and str(a.pk) in error["errors"]
    assert snapshot() == before
    # The last unit: the order moves to returned once every shipped unit is under a return.
    api.post("/v1/returns", {"order_id": order.pk, "return_line_items": [{"sku": "A", "quantity": 1}]}, format="json")
    assert returned(order) == [2, 1] and fresh(order).status == "returned"
    assert_consistent()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"return_line_items": [{"sku": "A", "quantity": 1}]}, 400, "validation_error"),  # no order
        ({"order_id": 999999}, 400, "validation_error"),
        ({"order_id": "ORD-NOPE"}, 400, "validation_error"),
        ({"order_id": "{o}", "return_line_items": [{"sku": "ZZZ", "quantity": 1}]}, 400, "validation_error"),
        (
            {"order_id": "{o}", "return_line_items": [{"order_line_item": "{other}", "quantity": 1}]},
            400,
            "validation_error",
        ),
        ({"order_id": "{o}", "return_line_items": [{"sku": "A", "quantity": 0}]}, 400, "validation_error"),
        ({"order_id": "{o}", "return_line_items": [{"sku": "A"}]}, 400, "validation_error"),
        ({"order_id": "{o}", "status": "approved"}, 400, "read_only_field"),
        ({"order_id": "{o}", "amount": "5.00"}, 400, "read_only_field"),
        ({"order_id": "{o}", "bogus": 1}, 400, "unknown_field"),
        ({"order_id": "{o}", "customer_email": "a@x.com", "customerEmail": "b@x.com"}, 400, "validation_error"),
        ({"order_id": "{pending}"}, 422, "invalid_state_transition"),
    ],
)
def test_create_refusals_change_nothing(api, body, status, code):
    stock()
    order = shipped()
    other = shipped()
    pending = make_order(("A", 1))
    values = {"{o}": order.pk, "{other}": lines_of(other)[0].pk, "{pending}": pending.pk}

    def fill(value):
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return values.get(value, value)

    before = snapshot()
    assert_error(api.post("/v1/returns", fill(body), format="json"), status, "invalid_request_error", code)
    assert snapshot() == before
    assert Return.objects.count() == 0


def test_a_sku_on_several_lines_needs_the_line(api):
    stock()
    order = shipped(("A", 1, "10.00"), ("A", 1, "12.00"))
    error = assert_error(
        api.post(
            "/v1/returns", {"order_id": order.pk, "return_line_items": [{"sku": "A", "quantity": 1}]}, format="json"
        ),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert "several lines" in error["message"]
    second = lines_of(order)[1]
    created = api.post(
        "/v1/returns", {"order_id": order.pk, "return_line_items": [{"order_line_item": second.pk, "quantity": 1}]}
    ).json()["return"]
    assert created["return_line_items"][0]["price"] == "12.00"


def test_the_line_resource_counts_units_on_create_and_update(api):
    stock()
    order = shipped(("A", 3, "10.00"))
    (a,) = lines_of(order)
    ret = make_return(order, {a: 1})
    created = api.post(
        "/v1/return_line_items/create", {"return_id": ret.pk, "sku": "A", "quantity": 1, "condition": "like_new"}
    )
    assert created.status_code == 201, created.content
    line = created.json()["return_line_item"]
    assert created["Location"].endswith(f"/v1/return_line_items/{line['id']}")
    assert (line["return_id"], line["order_line_item"], line["condition"]) == (ret.pk, a.pk, "like_new")
    assert returned(order) == [2] and fresh(ret).amount == 20

    before = snapshot()
    assert_error(
        api.post("/v1/return_line_item", {"return_id": ret.pk, "sku": "A", "quantity": 2}, format="json"),
        422,
        "invalid_request_error",
        "return_exceeds_shipped",
    )
    assert_error(
        api.patch(f"/v1/return_line_items/{line['id']}", {"quantity": 3}, format="json"),
        422,
        "invalid_request_error",
        "return_exceeds_shipped",
    )
    assert_error(
        api.patch(f"/v1/return_line_items/{line['id']}", {"sku": "B"}, format="json"),
        400,
        "invalid_request_error",
        "read_only_field",
    )
    assert snapshot() == before

    grown = api.put(f"/v1/return_line_items/{line['id']}", {"quantity": 2}, format="json").json()["return_line_item"]
    assert (grown["quantity"], grown["amount"], returned(order)) == (2, "20.00", [3])
    assert fresh(order).status == "returned"
    shrunk = api.patch(f"/v1/return_line_items/{line['id']}", {"quantity": 1}, format="json")
    assert shrunk.json()["return_line_item"]["quantity"] == 1 and returned(order) == [2]
    deleted = api.delete(f"/v1/return_line_items/{line['id']}").json()
    assert deleted == {"id": line["id"], "object": "return_line_item", "deleted": True}
    assert returned(order) == [1] and fresh(ret).amount == 10
    assert_consistent()


def test_lines_change_only_while_requested(api):
    stock()
    ret = make_return(status="approved")
    line = return_lines(ret)[0]
    before = snapshot()
    for response in (
        api.post("/v1/return_line_items", {"return_id": ret.pk, "sku": "B", "quantity": 1}, format="json"),
        api.patch(f"/v1/return_line_items/{line.pk}", {"quantity": 1}, format="json"),
        api.delete(f"/v1/return_line_items/{line.pk}"),
    ):
        assert_error(response, 422, "invalid_request_error", "return_not_editable")
    assert snapshot() == before


def test_order_return_action_with_items_and_return_all(api):
    stock()
    order = shipped()
    a, b = lines_of(order)
    response = api.post(
        f"/v1/orders/{order.pk}/return", {"items": [{"order_item_id": a.pk, "quantity": 1, "reason": "too big"}]}
    )
    assert response.status_code == 200, response.content
    ack = response.json()
    assert (ack["object"], ack["returned"], ack["order"]["status"], ack["return"]["status"]) == (
        "order",
        True,
        "delivered",
        "requested",
    )
    assert ack["return"]["return_line_items"][0]["reason"] == "too big"

    before = snapshot()
    for body in (
        {"items": [{"order_item_id": a.pk, "quantity": 2}]},
        {"items": [{"order_item_id": b.pk, "quantity": 1}, {"order_item_id": b.pk, "quantity": 1}]},
    ):
        assert_error(
            api.post(f"/v1/order/{order.pk}/return", body, format="json"),
            422,
            "invalid_request_error",
            "return_exceeds_shipped",
        )
    assert_error(
        api.post(f"/v1/orders/{order.pk}/return", {"items": [], "return_all": True}, format="json"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert snapshot() == before

    ack = api.post(f"/v1/orders/{order.pk}/return", {"return_all": True, "reason": "all of it"}).json()
    assert [(x["sku"], x["quantity"]) for x in ack["return"]["return_line_items"]] == [("A", 1), ("B", 1)]
    assert (ack["order"]["status"], ack["return"]["issue"]) == ("returned", "all of it")
    assert_error(
        api.post(f"/v1/orders/{order.pk}/return", {"return_all": True}),
        422,
        "invalid_request_error",
        "invalid_state_transition",
    )
    assert_consistent()


def test_order_return_action_needs_a_shipped_order(api):
    stock()
    pending = make_order(("A", 1))
    before = snapshot()
    error = assert_error(
        api.post(f"/v1/orders/{pending.pk}/return", {"return_all": True}),
        422,
        "invalid_request_error",
        "invalid_state_transition",
    )
    assert "Cannot return order" in error["message"]
    assert snapshot() == before


def test_reject_and_cancel_give_units_back_and_reopen_takes_them_again_or_refuses(api):
    stock()
    order = shipped(("A", 3, "10.00"))
    (a,) = lines_of(order)
    r1 = make_return(order, {a: 2})
    api.post(f"/v1/returns/{r1.pk}/reject", {"reason": "no"}, format="json")
    assert returned(order) == [0]
    r2 = make_return(order, {a: 2})  # takes two of the three units meanwhile
    before = snapshot()
    error = assert_error(
        api.post(f"/v1/returns/{r1.pk}/reopen"), 422, "invalid_request_error", "return_exceeds_shipped"
    )
    assert "1 shipped and not yet returned" in error["message"]
    assert snapshot() == before
    api.post(f"/v1/returns/{r2.pk}/cancel")
    assert returned(order) == [0]
    assert api.post(f"/v1/returns/{r1.pk}/reopen").json()["return"]["status"] == "requested"
    assert (returned(order), fresh(order).status) == ([2], "delivered")
    assert_consistent()


def test_an_order_back_from_returned_can_be_returned_again(api):
    """Cancelling the return that made an order `returned` gives the units back and the order is delivered
    again, so the return can be reopened (taking the units once more)."""
    stock()
    order = shipped(("A", 2, "10.00"))
    (a,) = lines_of(order)
    ret = make_return(order, {a: 2})
    assert fresh(order).status == "returned"
    api.post(f"/v1/returns/{ret.pk}/cancel")
    assert (returned(order), fresh(order).status) == ([0], "delivered")
    assert api.post(f"/v1/returns/{ret.pk}/reopen").json()["return"]["status"] == "requested"
    assert (returned(order), fresh(order).status) == ([2], "returned")
    assert_consistent()


def test_delete_gives_units_back_only_before_anything_moved(api):
    stock()
    order = shipped(("A", 3, "10.00"))
    (a,) = lines_of(order)
    ret = make_return(order, {a: 2})
    assert api.delete(f"/v1/returns/{ret.pk}").json() == {"id": ret.pk, "object": "return", "deleted": True}
    assert returned(order) == [0] and not ReturnLineItem.objects.exists()
    received = make_return(order, {a: 1}, status="received")
    before = snapshot()
    assert_error(api.delete(f"/v1/returns/{received.pk}"), 422, "invalid_request_error", "return_not_deletable")
    assert snapshot() == before
