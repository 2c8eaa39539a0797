"""The shipments in the admin (issue #18): the order's "Ship some…" makes a parcel through the services, the
shipment's page and its changelist (to pack today) load in a fixed number of queries."""

import pytest
from django.test import Client

from orders.models import Shipment
from tests.factories import level
from tests.helpers import change_url, op_url
from tests.orders.support import create, fresh, lines_of, stock

pytestmark = pytest.mark.django_db


def test_ship_some_from_the_order_page_then_the_shipment_page(admin_user):
    a, _ = stock(10)
    order = create(lines=(("A", 3, "10.00"), ("B", 1, "5.00")))
    line_a, line_b = lines_of(order)
    client = Client()
    client.force_login(admin_user)
    url = op_url(order, "ship_some")
    assert client.get(url).status_code == 200
    response = client.post(url, {f"line_{line_a.pk}": 2, f"line_{line_b.pk}": 0, "carrier": "UPS", "ship_now": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    shipment = Shipment.objects.get(order=order)
    assert (shipment.status, shipment.carrier) == ("shipped", "UPS")
    assert fresh(order).status == "partially_shipped"
    assert level(a) == (8, 1, 0)

    assert client.get(change_url(order)).status_code == 200
    assert client.get(change_url(shipment)).status_code == 200
    assert client.get("/admin/orders/shipment/?to_pack=today").status_code == 200
    response = client.post(op_url(shipment, "deliver"), {"reason": ""})
    assert response.status_code == 302
    assert Shipment.objects.get(pk=shipment.pk).status == "delivered"
