"""Real threads racing on PostgreSQL (row locks): stock is never over-allocated, a status change has exactly
one winner, and a promotion's last use goes to exactly one order. Each thread has its own connection and
closes it; the losers get 409 or 422, never a 5xx, and leave nothing half-done."""

from collections import Counter
from functools import partial

import pytest

from inventory.models import Allocation
from inventory.selectors import ledger_mismatches
from orders.models import Order, Promotion
from tests.factories import api_client, level, make_customer, make_item, make_promotion
from tests.helpers import race
from tests.orders.support import create, fresh

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_fifty_creates_for_ten_units_make_exactly_ten_orders():
    item = make_item("SCARCE", on_hand=10)
    customer = make_customer()
    clients = [api_client() for _ in range(50)]
    body = {"customer": customer.pk, "order_line_items": [{"sku": "SCARCE", "quantity": 1, "unit_price": "9.99"}]}

    responses = race([lambda c=c: c.post("/v1/orders", body, format="json") for c in clients])

    statuses = Counter(getattr(r, "status_code", repr(r)) for r in responses)
    assert statuses == {201: 10, 422: 40}, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"insufficient_stock"}
    assert Order.objects.count() == 10
    assert level(item) == (10, 10, 0)
    assert sum(a.quantity for a in Allocation.objects.filter(status="open")) == 10
    assert ledger_mismatches() == []


def test_cancel_racing_ship_has_exactly_one_winner():
    item = make_item("RACE", on_hand=100)
    for _ in range(5):
        order = create(lines=(("RACE", 2, "10.00"),))
        before = level(item)
        canceller, shipper = api_client(), api_client()
        cancel, ship = race(
            [
                partial(canceller.post, f"/v1/orders/{order.pk}/cancel", {"reason": "race"}, format="json"),
                partial(shipper.post, f"/v1/orders/{order.pk}/ship", {"carrier": "UPS"}, format="json"),
            ]
        )
        codes = sorted([cancel.status_code, ship.status_code])
        assert codes in ([200, 409], [200, 422]), (cancel.content, ship.content)
        final = fresh(order)
        if ship.status_code == 200:
            assert final.status == "shipped"
            assert level(item) == (before[0] - 2, before[1] - 2, 0)
        else:
            assert final.status == "cancelled"
            assert level(item) == (before[0], before[1] - 2, 0)
        assert ledger_mismatches() == []


def test_ten_orders_race_for_a_promotion_with_one_use():
    make_item("A", on_hand=100)
    make_item("B", on_hand=100)
    promo = make_promotion("LAST", type="fixed", value="5", usage_limit=1)
    orders = [create() for _ in range(10)]
    clients = [api_client() for _ in orders]

    responses = race(
        [
            lambda c=c, o=o: c.post(f"/v1/orders/{o.pk}/apply_promotion", {"code": "LAST"}, format="json")
            for c, o in zip(clients, orders, strict=True)
        ]
    )

    statuses = Counter(getattr(r, "status_code", repr(r)) for r in responses)
    assert statuses == {200: 1, 422: 9}, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"promotion_not_applicable"}
    assert Promotion.objects.get(pk=promo.pk).times_used == 1
    assert Order.objects.filter(promotion=promo).count() == 1
    assert sorted(str(fresh(o).total) for o in orders) == ["20.00"] + ["25.00"] * 9


def test_crosswise_merges_never_deadlock():
    make_item("A", on_hand=100)
    make_item("B", on_hand=100)
    customer = make_customer()
    for _ in range(3):
        x, y = create(customer=customer), create(customer=customer)
        one, two = api_client(), api_client()
        first, second = race(
            [
                partial(one.post, f"/v1/orders/{x.pk}/merge", {"order_ids": [y.pk]}, format="json"),
                partial(two.post, f"/v1/orders/{y.pk}/merge", {"order_ids": [x.pk]}, format="json"),
            ]
        )
        assert sorted([first.status_code, second.status_code]) in ([200, 409], [200, 422]), (
            first.content,
            second.content,
        )
        assert sorted([fresh(x).status, fresh(y).status]) == ["merged", "pending"]
        assert ledger_mismatches() == []
