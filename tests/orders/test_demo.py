"""seed_demo's orders: every status, through the services, and a second run is harmless."""

import pytest
from django.core.management import call_command

from inventory.selectors import ledger_mismatches
from orders.models import Order, Promotion, WholesaleOrder
from orders.states import OrderStatus
from tests.orders.support import assert_consistent

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_orders_in_every_status():
    call_command("seed_demo", "--quiet", "--no-history")
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses == {s.value for s in OrderStatus}
    assert Order.objects.filter(split_from__isnull=False).exists()
    assert Order.objects.filter(is_replacement_order=True).exists()
    assert Promotion.objects.filter(times_used__gt=0).exists()
    assert set(WholesaleOrder.objects.values_list("status", flat=True)) == {"submitted", "approved"}
    for order in Order.objects.all():
        assert_consistent(order)
    count = Order.objects.count()
    call_command("seed_demo", "--quiet", "--no-history")
    assert Order.objects.count() == count
    assert ledger_mismatches() == []
