"""A return line's default amount is what the customer paid for its units, so that the returns of one order line
add up to exactly the line's paid total (after discounts), however the units are split: a line's amount is
q2(total × (before + q) / quantity) − q2(total × before / quantity), `before` being the units of the order line
under earlier lines of returns that hold units. A full return is refundable at its default amount, and no cent
of shipping or of another line is refunded by rounding."""

from decimal import Decimal

import pytest

from orders import services as order_services
from orders.models import Refund
from returns import services
from tests.factories import SYSTEM, make_order
from tests.returns.support import assert_consistent, fresh, lines_of, make_return, return_lines, stock

pytestmark = pytest.mark.django_db


def discounted(*lines, discount: str, type: str = "fixed", on_line: int | None = 0, **fields):
    """A delivered order of `lines` with one manual discount (on its line `on_line`, or the order's when None)."""
    order = make_order(*lines, **fields)
    target = lines_of(order)[on_line].pk if on_line is not None else None
    order_services.order_add_discount(order=order, by=SYSTEM, type=type, value=Decimal(discount), order_item_id=target)
    order = order_services.order_ship(order=fresh(order), by=SYSTEM, tracking_number="T1", carrier="UPS")
    return order_services.order_deliver(order=order, by=SYSTEM)


def twenty_for_three():
    """A × 3 at 7.00 with 1.00 off the line: the line (and the order) total 20.00, 6.666… a unit."""
    stock()
    order = discounted(("A", 3, "7.00"), discount="1.00")
    (line,) = lines_of(order)
    assert (line.total, order.total) == (Decimal("20.00"), Decimal("20.00"))
    return order, line


def refund_default(ret):
    for name in ("return_approve", "return_receive"):
        ret = getattr(services, name)(return_=ret, by=SYSTEM)
    return services.return_refund(return_=ret, by=SYSTEM)


def amounts(*returns) -> list[str]:
    return [str(line.amount) for ret in returns for line in return_lines(ret)]


def test_a_full_return_of_a_line_is_refunded_exactly_at_its_default_amount(api):
    order, line = twenty_for_three()
    response = api.post(
        "/v1/returns",
        {"order_id": order.pk, "return_line_items": [{"order_line_item": line.pk, "quantity": 3}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()["return"]
    assert [(x["price"], x["amount"]) for x in created["return_line_items"]] == [("6.67", "20.00")]
    assert created["amount"] == "20.00"
    for action in ("approve", "receive"):
        assert api.post(f"/v1/returns/{created['id']}/{action}").status_code == 200
    refunded = api.post(f"/v1/returns/{created['id']}/refund")
    assert refunded.status_code == 200, refunded.content
    assert refunded.json()["return"]["total_refunded"] == "20.00"
    assert [str(r.amount) for r in Refund.objects.filter(order=order)] == ["20.00"]
    order = fresh(order)
    assert (str(order.amount_refunded), str(order.balance), order.status) == ("20.00", "0.00", "refunded")
    assert_consistent()


def test_the_return_all_action_returns_the_lines_paid_total():
    order, line = twenty_for_three()
    ret = services.order_return(order=order, by=SYSTEM, return_all=True)
    assert (amounts(ret), str(ret.amount)) == (["20.00"], "20.00")
    assert str(refund_default(ret).total_refunded) == "20.00"
    assert str(fresh(order).balance) == "0.00"


def test_returns_of_one_unit_at_a_time_add_up_to_the_line_total_and_the_last_is_refundable():
    order, line = twenty_for_three()
    first = make_return(order, {line: 1})
    second = make_return(order, {line: 1})
    third = make_return(order, {line: 1})
    assert amounts(first, second, third) == ["6.67", "6.66", "6.67"]
    # Each amount was fixed when its return was made: the later returns did not change the earlier ones.
    assert [str(fresh(r).amount) for r in (first, second, third)] == ["6.67", "6.66", "6.67"]
    for ret in (first, second, third):
        refund_default(ret)
    assert [str(r.amount) for r in Refund.objects.filter(order=order).order_by("pk")] == ["6.67", "6.66", "6.67"]
    order = fresh(order)
    assert (str(order.amount_refunded), str(order.balance), order.status) == ("20.00", "0.00", "refunded")
    assert_consistent()


def test_lines_of_one_return_split_the_units_the_same_way():
    order, line = twenty_for_three()
    ret = services.return_create(
        by=SYSTEM,
        order=order,
        return_line_items=[{"order_line_item": line.pk, "quantity": 1}, {"order_line_item": line.pk, "quantity": 2}],
    )
    assert (amounts(ret), str(fresh(ret).amount)) == (["6.67", "13.33"], "20.00")
    assert str(refund_default(ret).total_refunded) == "20.00"


def test_a_discounted_line_refunds_what_was_paid_and_no_cent_of_shipping():
    stock()
    # A × 3 at 10.00 with 0.01 off the line: 29.99 paid for A, 9.996… a unit (shown as 10.00); B 5.00; shipping 5.00.
    order = discounted(("A", 3, "10.00"), ("B", 1, "5.00"), discount="0.01", shipping_amount=Decimal("5.00"))
    a, b = lines_of(order)
    assert (a.total, order.total) == (Decimal("29.99"), Decimal("39.99"))
    first = make_return(order, {a: 2})
    second = make_return(order, {a: 1})
    assert amounts(first, second) == ["19.99", "10.00"]
    assert [return_lines(r)[0].price for r in (first, second)] == [Decimal("10.00")] * 2
    for ret in (first, second):
        refund_default(ret)
    order = fresh(order)
    # Exactly A's 29.99 came back: B and the shipping are left.
    assert (str(order.amount_refunded), str(order.balance)) == ("29.99", "10.00")
    assert_consistent()


def test_an_order_discount_prorated_onto_lines_is_split_the_same_way():
    stock()
    # 10% off the order: A's line 3 × 6.67 = 20.01 − 2.00 = 18.01, 6.0033… a unit.
    order = discounted(("A", 3, "6.67"), discount="10", type="percentage", on_line=None)
    (a,) = lines_of(order)
    assert (a.total, order.total) == (Decimal("18.01"), Decimal("18.01"))
    rets = [make_return(order, {a: 1}) for _ in range(3)]
    assert amounts(*rets) == ["6.00", "6.01", "6.00"]
    for ret in rets:
        refund_default(ret)
    assert (str(fresh(order).balance), fresh(order).status) == ("0.00", "refunded")


def test_the_line_resource_prices_added_and_resized_lines_by_the_same_rule(api):
    order, line = twenty_for_three()
    ret = make_return(order, {line: 1})
    added = api.post("/v1/return_line_items", {"return_id": ret.pk, "sku": "A", "quantity": 1}, format="json")
    assert added.status_code == 201, added.content
    second = added.json()["return_line_item"]
    assert (second["price"], second["amount"]) == ("6.67", "6.66")
    grown = api.patch(f"/v1/return_line_items/{second['id']}", {"quantity": 2}, format="json")
    assert grown.status_code == 200, grown.content
    assert grown.json()["return_line_item"]["amount"] == "13.33"
    assert (amounts(ret), str(fresh(ret).amount)) == (["6.67", "13.33"], "20.00")
    shrunk = api.patch(f"/v1/return_line_items/{second['id']}", {"quantity": 1}, format="json")
    assert shrunk.json()["return_line_item"]["amount"] == "6.66"
    assert str(fresh(ret).amount) == "13.33"
    # A price given by the client is kept: the amount is then that price × quantity.
    priced = api.patch(f"/v1/return_line_items/{second['id']}", {"price": "5.00", "quantity": 2}, format="json")
    assert (priced.json()["return_line_item"]["price"], priced.json()["return_line_item"]["amount"]) == (
        "5.00",
        "10.00",
    )
    assert_consistent()


def test_a_cancelled_return_does_not_let_default_amounts_pass_the_line_total():
    order, line = twenty_for_three()
    first, second, third = (make_return(order, {line: 1}) for _ in range(3))
    assert amounts(first, second, third) == ["6.67", "6.66", "6.67"]
    services.return_cancel(return_=second, by=SYSTEM, reason="changed their mind")
    # The freed unit's share is what is left of the line's 20.00 after the returns that hold units.
    fourth = make_return(order, {line: 1})
    assert amounts(fourth) == ["6.66"]
    for ret in (first, third, fourth):
        refund_default(ret)
    order = fresh(order)
    assert (str(order.amount_refunded), str(order.balance), order.status) == ("20.00", "0.00", "refunded")
    assert_consistent()


def test_an_exchange_credits_what_was_paid_for_the_returned_units(api):
    order, line = twenty_for_three()
    response = api.post(
        f"/v1/orders/{order.pk}/exchange",
        {"return_items": [{"order_item_id": line.pk, "quantity": 3}], "new_items": [{"sku": "A", "quantity": 3}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    ack = response.json()
    # The replacement: A × 3 at the original's 7.00 = 21.00; returned: the 20.00 paid; difference 1.00.
    assert (ack["replacement_order"]["total"], ack["return"]["amount"]) == ("21.00", "20.00")
    assert ack["return"]["exchange_price_difference"] == ack["order"]["exchange_price_difference"] == "1.00"
