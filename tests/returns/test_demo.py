"""seed_demo's returns and warranties: several statuses, through the services, and a second run is harmless."""

import pytest
from django.core.management import call_command

from returns.models import Return, Warranty
from tests.returns.support import assert_consistent

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_returns_and_warranties_in_every_status():
    call_command("seed_demo", "--quiet", "--no-history")
    assert set(Return.objects.values_list("status", flat=True)) == {
        "requested",
        "approved",
        "rejected",
        "received",
        "refunded",
        "cancelled",
        "closed",
    }
    assert Return.objects.filter(replacement_order__isnull=False).count() == 1
    assert set(Warranty.objects.values_list("status", flat=True)) == {
        "requested",
        "approved",
        "denied",
        "completed",
        "cancelled",
    }
    assert Warranty.objects.filter(replacement_order_created=True).count() == 1
    counts = (Return.objects.count(), Warranty.objects.count())
    call_command("seed_demo", "--quiet", "--no-history")
    assert (Return.objects.count(), Warranty.objects.count()) == counts
    assert_consistent()
