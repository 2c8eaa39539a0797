"""Shipments racing on PostgreSQL (real threads released together, each with its own connection): two
shipments for the last allocated units, one wins at creation and the other is refused with nothing written;
a shipment's ship racing the order's ship-all ships each unit once."""

from collections import Counter
from functools import partial

import pytest

from inventory.selectors import ledger_mismatches
from orders.models import Shipment, ShipmentLineItem
from tests.factories import api_client, level, make_item
from tests.helpers import race
from tests.orders.support import create, fresh, lines_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_shipments_racing_for_the_last_units_one_wins():
    item = make_item("LAST", on_hand=10)
    for _ in range(5):
        order = create(lines=(("LAST", 2, "10.00"),))
        line = lines_of(order)[0]
        body = {"order_id": order.pk, "shipment_line_items": [{"order_item_id": line.pk, "quantity": 2}]}
        clients = [api_client(), api_client()]

        responses = race([partial(c.post, "/v1/shipments", body, format="json") for c in clients])

        codes = Counter(getattr(r, "status_code", repr(r)) for r in responses)
        assert codes == {201: 1, 422: 1}, [getattr(r, "content", r) for r in responses]
        loser = next(r for r in responses if r.status_code == 422)
        assert loser.json()["code"] == "exceeds_shippable"
        assert Shipment.objects.filter(order=order).count() == 1
        assert sum(ShipmentLineItem.objects.filter(line=line).values_list("quantity", flat=True)) == 2
    assert level(item) == (10, 10, 0)
    assert ledger_mismatches() == []


def test_a_shipment_shipping_while_the_order_ships_all_ships_each_unit_once():
    item = make_item("BOTH", on_hand=50)
    for _ in range(4):
        order = create(lines=(("BOTH", 3, "10.00"),))
        line = lines_of(order)[0]
        first = (
            api_client()
            .post(
                "/v1/shipments",
                {"order_id": order.pk, "shipment_line_items": [{"order_item_id": line.pk, "quantity": 1}]},
                format="json",
            )
            .json()["shipment"]
        )
        one, everything = race(
            [
                partial(api_client().post, f"/v1/shipments/{first['id']}/ship", {"carrier": "UPS"}, format="json"),
                partial(api_client().post, f"/v1/orders/{order.pk}/ship", {"carrier": "DHL"}, format="json"),
            ]
        )
        assert everything.status_code == 200, everything.content
        assert one.status_code in (200, 409, 422), one.content
        assert fresh(order).status == "shipped"
        assert lines_of(order)[0].quantity_shipped == 3
        assert set(Shipment.objects.filter(order=order).values_list("status", flat=True)) == {"shipped"}
        assert ledger_mismatches() == []
    assert level(item) == (38, 0, 0)
