"""Receive restocks exactly once, at the return's location, only lines marked restock in condition new or
like new; refund records a refund on the original order within its balance; the named permissions."""

from decimal import Decimal

import pytest

from inventory.models import StockMovement
from orders import services as order_services
from orders.models import Refund
from returns import services
from stateset.actors import Actor
from stateset.errors import PermissionDenied
from tests.factories import SYSTEM, api_client, level, make_item, make_location, make_order, make_user
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


def test_receive_restocks_only_new_and_like_new_restock_lines_exactly_once(api):
    items = {sku: make_item(sku, on_hand=10) for sku in "ABCD"}
    order = make_order(("A", 2, "10.00"), ("B", 2, "10.00"), ("C", 1, "10.00"), ("D", 1, "10.00"), status="delivered")
    a, b, c, d = lines_of(order)
    ret = services.return_create(
        by=SYSTEM,
        order=order,
        return_line_items=[
            {"order_line_item": a.pk, "quantity": 2},
            {"order_line_item": b.pk, "quantity": 2, "condition": "used"},
            {"order_line_item": c.pk, "quantity": 1},
            {"order_line_item": d.pk, "quantity": 1, "restock": False},
        ],
    )
    services.return_approve(return_=ret, by=SYSTEM)
    ra, rb, rc, rd = return_lines(ret)
    assert [level(item) for item in items.values()] == [(8, 0, 0), (8, 0, 0), (9, 0, 0), (9, 0, 0)]
    response = api.post(
        f"/v1/returns/{ret.pk}/receive",
        {
            "received_by": "dock 3",
            "lines": [
                {"return_line_item_id": ra.pk, "quantity_received": 1},  # one of two arrived
                {"return_line_item_id": rb.pk, "condition": "like_new"},  # better than reported
                {"return_line_item_id": rc.pk, "condition": "damaged"},
            ],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    lines = response.json()["return"]["return_line_items"]
    assert [(x["quantity_received"], x["condition"], x["restocked"], x["status"]) for x in lines] == [
        (1, "new", True, "received"),
        (2, "like_new", True, "received"),
        (1, "damaged", False, "received"),
        (1, "new", False, "received"),
    ]
    assert [level(item) for item in items.values()] == [(9, 0, 0), (10, 0, 0), (9, 0, 0), (9, 0, 0)]
    movements = StockMovement.objects.filter(reason="return_restock").order_by("pk")
    assert [(m.item.sku, m.quantity, m.source_type, m.source_id, m.source_number) for m in movements] == [
        ("A", 1, "return", ret.pk, ret.rma),
        ("B", 2, "return", ret.pk, ret.rma),
    ]
    # A second receive is refused and moves nothing.
    before = snapshot(ret)
    assert_error(api.post(f"/v1/returns/{ret.pk}/receive"), 422, "invalid_request_error", "invalid_state_transition")
    assert snapshot(ret) == before
    assert StockMovement.objects.filter(reason="return_restock").count() == 2
    assert_consistent()


def test_receive_goes_to_the_returns_location_and_refuses_over_receipt(api):
    stock()
    east = make_location("EAST")
    order = shipped()
    ret = make_return(order, status="approved", location="EAST")
    line = return_lines(ret)[0]
    before = snapshot(ret)
    error = assert_error(
        api.post(
            f"/v1/returns/{ret.pk}/receive",
            {"lines": [{"return_line_item_id": line.pk, "quantity_received": 3}]},
            format="json",
        ),
        422,
        "invalid_request_error",
        "over_receipt",
    )
    assert "3 received of 2" in error["message"]
    assert_error(
        api.post(f"/v1/returns/{ret.pk}/receive", {"lines": [{"return_line_item_id": 999999}]}, format="json"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert snapshot(ret) == before
    api.post(f"/v1/returns/{ret.pk}/receive")
    a = line.order_line_item.item
    assert (level(a), level(a, east)) == ((48, 0, 0), (2, 0, 0))
    assert_consistent()


def test_location_changes_only_before_the_goods_arrive(api):
    stock()
    make_location("EAST")
    ret = make_return(status="approved")
    assert (
        api.patch(f"/v1/returns/{ret.pk}", {"location": "EAST"}, format="json").json()["return"]["location"] == "EAST"
    )
    api.post(f"/v1/returns/{ret.pk}/receive")
    assert_error(
        api.patch(f"/v1/returns/{ret.pk}", {"location": "MAIN"}, format="json"),
        422,
        "invalid_request_error",
        "return_not_editable",
    )
    wrapped = api.put(
        f"/v1/returns/{ret.pk}", {"return_id": ret.pk, "return": {"tracking_number": "1Z9", "enteredBy": "me"}}
    )
    assert (wrapped.json()["return"]["tracking_number"], wrapped.json()["return"]["enteredBy"]) == ("1Z9", "me")
    assert_error(
        api.patch(f"/v1/returns/{ret.pk}", {"order_id": 1}, format="json"),
        400,
        "invalid_request_error",
        "read_only_field",
    )


def test_refund_defaults_to_line_amounts_less_the_restocking_fee_on_the_order(api):
    stock()
    order = shipped()  # A × 2 at 10, B × 1 at 5: total 25
    a, b = lines_of(order)
    ret = make_return(order, {a: 2, b: 1}, status="received", restocking_fee=Decimal("3.50"))
    response = api.post(f"/v1/return/{ret.pk}/refund")
    assert response.status_code == 200, response.content
    body = response.json()["return"]
    assert (body["status"], body["total_refunded"], body["order_refunded"]) == ("refunded", "21.50", True)
    refund = Refund.objects.get()
    assert (refund.order_id, refund.amount, refund.source_type, refund.source_id, refund.reference) == (
        order.pk,
        Decimal("21.50"),
        "return",
        ret.pk,
        ret.rma,
    )
    assert (fresh(order).amount_refunded, fresh(order).status) == (Decimal("21.50"), "returned")
    assert [line.status for line in return_lines(ret)] == ["refunded", "refunded"]


def test_the_default_refund_counts_what_was_received():
    stock()
    order = shipped(("A", 4, "10.00"))
    ret = make_return(order, status="approved")
    line = return_lines(ret)[0]
    services.return_receive(return_=ret, by=SYSTEM, lines=[{"return_line_item_id": line.pk, "quantity_received": 3}])
    assert services.return_default_refund(fresh(ret)) == Decimal("30.00")
    assert services.return_refund(return_=ret, by=SYSTEM).total_refunded == Decimal("30.00")


def test_a_refund_above_the_orders_balance_is_refused_and_changes_nothing(api):
    stock()
    order = shipped()  # total 25
    order_services.order_refund(order=order, by=SYSTEM, amount=Decimal("20.00"), reason="goodwill")
    ret = make_return(order, status="received")  # A × 2: 20.00
    before = snapshot(ret)
    error = assert_error(
        api.post(f"/v1/returns/{ret.pk}/refund"), 422, "invalid_request_error", "refund_exceeds_balance"
    )
    assert "5.00" in error["message"]
    assert_error(
        api.post(f"/v1/returns/{ret.pk}/refund", {"amount": "5.01"}, format="json"),
        422,
        "invalid_request_error",
        "refund_exceeds_balance",
    )
    assert_error(
        api.post(f"/v1/returns/{ret.pk}/refund", {"amount": "0"}, format="json"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert snapshot(ret) == before
    ack = api.post(f"/v1/returns/{ret.pk}/refund", {"amount": "5.00"}, format="json").json()
    assert (ack["refunded"], ack["return"]["total_refunded"], fresh(order).status) == (True, "5.00", "refunded")


def test_nothing_to_refund_when_the_fee_takes_it_all(api):
    stock()
    ret = make_return(status="received", restocking_fee=Decimal("20.00"))
    before = snapshot(ret)
    assert_error(api.post(f"/v1/returns/{ret.pk}/refund"), 422, "invalid_request_error", "nothing_to_refund")
    assert snapshot(ret) == before
    assert api.post(f"/v1/returns/{ret.pk}/close").json()["return"]["status"] == "closed"


@pytest.mark.parametrize(
    ("action", "status", "perms", "missing"),
    [
        ("approve", "requested", ["returns.change_return"], "returns.approve_return"),
        ("reject", "requested", ["returns.change_return"], "returns.approve_return"),
        ("receive", "approved", ["returns.change_return", "returns.approve_return"], "returns.receive_return"),
        ("refund", "received", ["returns.change_return", "orders.refund_order"], "returns.refund_return"),
        ("refund", "received", ["returns.change_return", "returns.refund_return"], "orders.refund_order"),
    ],
)
def test_named_permissions_refuse_and_change_nothing(action, status, perms, missing):
    stock()
    ret = make_return(status=status)
    client = api_client(make_user(*perms))
    before = snapshot(ret)
    body = {"reason": "x"} if action == "reject" else {}
    error = assert_error(
        client.post(f"/v1/returns/{ret.pk}/{action}", body, format="json"),
        403,
        "permission_error",
        "insufficient_permissions",
    )
    assert missing in error["message"]
    assert snapshot(ret) == before
    allowed = api_client(make_user(*perms, missing))
    assert allowed.post(f"/v1/returns/{ret.pk}/{action}", body, format="json").status_code == 200


def test_view_and_change_permissions_per_method():
    stock()
    ret = make_return()
    viewer = api_client(make_user("returns.view_return"))
    assert viewer.get(f"/v1/returns/{ret.pk}").status_code == 200
    assert_error(viewer.post(f"/v1/returns/{ret.pk}/cancel"), 403, "permission_error", "insufficient_permissions")
    clerk = Actor(user=make_user("returns.change_return"), channel="api")
    with pytest.raises(PermissionDenied):
        services.return_approve(return_=ret, by=clerk)
    assert fresh(ret).status == "requested"
    assert services.return_cancel(return_=ret, by=clerk).status == "cancelled"
