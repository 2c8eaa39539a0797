"""What the orders app gives the returns app (which imports orders.services, never the reverse), and the
customer's protection."""

from decimal import Decimal

import pytest
from django_fsm_log.models import StateLog

from inventory.errors import InsufficientStock
from inventory.selectors import ledger_mismatches
from orders import services
from orders.errors import RefundExceedsBalance, ReturnExceedsShipped
from orders.models import Order, Refund
from stateset.actors import Actor
from stateset.errors import InvalidStateTransition, PermissionDenied, ValidationFailed
from tests.factories import SYSTEM, level, make_user
from tests.helpers import assert_error
from tests.orders.support import fresh, lines_of, order_in, snapshot, stock

pytestmark = pytest.mark.django_db


def test_returned_quantities_move_the_order_to_returned_once_everything_is_back():
    stock()
    order = order_in("delivered")
    a, b = lines_of(order)
    order = services.order_lines_add_returned(order=order, quantities={a.pk: 1}, by=SYSTEM, reason="too big")
    assert order.status == "delivered"
    assert [(x.quantity_returned, x.status) for x in lines_of(order)] == [(1, "shipped"), (0, "shipped")]
    before = snapshot(order)
    with pytest.raises(ReturnExceedsShipped) as err:
        services.order_lines_add_returned(order=order, quantities={a.pk: 2, b.pk: 1}, by=SYSTEM)
    assert str(a.pk) in err.value.errors and "1 shipped and not yet returned" in err.value.message
    assert snapshot(order) == before
    order = services.order_lines_add_returned(order=order, quantities={a.pk: 1, b.pk: 1}, by=SYSTEM)
    assert order.status == "returned"
    assert [(x.quantity_returned, x.status) for x in lines_of(order)] == [(2, "returned"), (1, "returned")]
    assert StateLog.objects.for_(order).filter(transition="mark_returned", source_state="delivered").exists()
    order = services.order_lines_remove_returned(order=order, quantities={b.pk: 1}, by=SYSTEM, reason="rejected")
    assert (fresh(order).status, lines_of(order)[1].quantity_returned, lines_of(order)[1].status) == (
        "delivered",
        0,
        "shipped",
    )


def test_returns_need_a_shipped_order_and_its_own_lines():
    stock()
    pending = order_in("pending")
    with pytest.raises(InvalidStateTransition):
        services.order_lines_add_returned(order=pending, quantities={lines_of(pending)[0].pk: 1}, by=SYSTEM)
    shipped = order_in("shipped")
    with pytest.raises(ValidationFailed):
        services.order_lines_add_returned(order=shipped, quantities={lines_of(pending)[0].pk: 1}, by=SYSTEM)
    assert lines_of(shipped)[0].quantity_returned == 0


def test_record_refund_within_the_balance_for_a_return():
    stock()
    order = order_in("returned")  # total 25.00
    refund = services.order_record_refund(
        order=order, amount=Decimal("20"), by=SYSTEM, source_type="return", source_id=7, reference="RMA-000007"
    )
    assert (refund.amount, refund.source_type, refund.reference, refund.order.status) == (
        Decimal("20.00"),
        "return",
        "RMA-000007",
        "returned",
    )
    before = snapshot(order)
    with pytest.raises(RefundExceedsBalance) as err:
        services.order_record_refund(order=order, amount=Decimal("5.01"), by=SYSTEM)
    assert err.value.errors == {"amount": "at most 5.00"}
    assert snapshot(order) == before
    order = services.order_record_refund(order=order, amount=Decimal("5"), by=SYSTEM).order
    assert (order.status, order.amount_refunded, order.balance) == ("refunded", Decimal("25.00"), Decimal("0.00"))
    clerk = Actor(user=make_user("orders.change_order"), channel="api")
    with pytest.raises(PermissionDenied, match="orders.refund_order"):
        services.order_record_refund(order=order_in("shipped"), amount=Decimal("1"), by=clerk)


def test_refund_over_http(api):
    stock()
    order = order_in("cancelled")
    before = snapshot(order)
    error = assert_error(
        api.post(f"/v1/orders/{order.pk}/refund", {"amount": "25.01"}, format="json"),
        422,
        "invalid_request_error",
        "refund_exceeds_balance",
    )
    assert "25.00" in error["message"]
    assert snapshot(order) == before
    assert_error(
        api.post(f"/v1/orders/{order.pk}/refund", {"amount": "0"}, format="json"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    ack = api.post(f"/v1/orders/{order.pk}/refund", {"amount": 10, "reason": "goodwill"}, format="json").json()
    assert (ack["refunded"], ack["order"]["status"], ack["order"]["amount_refunded"], ack["order"]["balance"]) == (
        True,
        "cancelled",
        "10.00",
        "15.00",
    )
    ack = api.post(f"/v1/orders/{order.pk}/refund", {"amount": "15.00"}, format="json").json()
    assert (ack["order"]["status"], [r["amount"] for r in ack["order"]["refunds"]]) == ("refunded", ["10.00", "15.00"])
    assert Refund.objects.filter(order=order).count() == 2


def test_replacement_order_is_allocated_and_linked():
    a, b = stock(5)
    original = order_in("delivered")
    replacement = services.order_create_replacement(
        original=original, items=[{"sku": "B", "quantity": 2}], by=SYSTEM, price_difference=Decimal("5.00")
    )
    assert (replacement.exchange_for_id, replacement.is_replacement_order, replacement.status) == (
        original.pk,
        True,
        "pending",
    )
    assert (replacement.customer_id, replacement.total, replacement.exchange_price_difference) == (
        original.customer_id,
        Decimal("10.00"),  # the original's price for B
        Decimal("5.00"),
    )
    assert level(b) == (4, 2, 0)
    warranty = services.order_create_replacement(
        original=original, items=[{"sku": "A", "quantity": 1, "unit_price": "99"}], by=SYSTEM, unit_price_zero=True
    )
    assert warranty.total == Decimal("0.00") and level(a) == (3, 1, 0)
    count = Order.objects.count()
    with pytest.raises(InsufficientStock):
        services.order_create_replacement(original=original, items=[{"sku": "A", "quantity": 9}], by=SYSTEM)
    assert Order.objects.count() == count and level(a) == (3, 1, 0)
    order = services.order_mark_exchanged(order=original, by=SYSTEM, price_difference=Decimal("5.00"))
    assert (order.status, order.exchange_price_difference) == ("exchanged", Decimal("5.00"))
    with pytest.raises(InvalidStateTransition):
        services.order_mark_exchanged(order=order_in("pending"), by=SYSTEM)
    assert ledger_mismatches() == []


def test_replacement_orders_filter(api):
    stock()
    original = order_in("shipped")
    replacement = services.order_create_replacement(original=original, items=[{"sku": "A", "quantity": 1}], by=SYSTEM)
    ids = [o["id"] for o in api.get(f"/v1/orders?exchange_for={original.pk}").json()["orders"]]
    assert ids == [replacement.pk]
    assert api.get(f"/v1/orders/{replacement.pk}").json()["order"]["is_replacement_order"] is True


def test_a_customer_with_orders_cannot_be_deleted(api):
    stock()
    order = order_in("pending")
    error = assert_error(
        api.delete(f"/v1/customers/{order.customer_id}"), 422, "invalid_request_error", "customer_has_orders"
    )
    assert "orders" in error["message"]
    assert fresh(order).customer_id is not None


def test_lines_that_need_no_stock_do_not_hold_an_order_back_from_returned():
    stock()
    order = services.order_create(
        by=SYSTEM,
        order_line_items=[
            {"sku": "A", "quantity": 2, "unit_price": Decimal("10")},
            {"sku": "WRAP", "quantity": 1, "unit_price": Decimal("2"), "requires_inventory": False},
        ],
    )
    order = services.order_ship(order=order, by=SYSTEM)
    goods, wrap = lines_of(order)
    assert (goods.quantity_shipped, wrap.quantity_shipped) == (2, 1)
    order = services.order_lines_add_returned(order=order, quantities={goods.pk: 2}, by=SYSTEM)
    assert order.status == "returned"
