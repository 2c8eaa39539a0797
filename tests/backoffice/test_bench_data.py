"""`manage.py bench_data`: the measuring data set is consistent (the ledger explains every level)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count
from django_fsm_log.models import StateLog

from crm.models import Customer
from inventory import selectors
from inventory.models import Allocation, InventoryItem, StockLevel
from orders.models import Order, OrderLineItem, Shipment
from returns.models import Return, ReturnLineItem

pytestmark = pytest.mark.django_db

SMALL = {"orders": 300, "customers": 500, "skus": 50, "days": 20, "no_vacuum": True}


def bench_data(**options) -> str:
    out = StringIO()
    call_command("bench_data", stdout=out, **{**SMALL, **options})
    return out.getvalue()


@pytest.mark.postgres
def test_fills_a_consistent_data_set():
    out = bench_data()
    assert "orders_order" in out and "done in" in out

    assert Order.objects.count() == 300
    assert Customer.objects.count() == 500
    assert InventoryItem.objects.count() == 50
    assert StockLevel.objects.count() == 150  # 50 SKUs at 3 locations
    lines = OrderLineItem.objects.count()
    assert 600 <= lines <= 900  # 2 or 3 lines each
    assert set(Order.objects.values_list("order_line_items__sku", flat=True)) <= set(
        InventoryItem.objects.values_list("sku", flat=True)
    )

    statuses = dict(Order.objects.values_list("status").annotate(n=Count("id")))
    # Over 20 days: the newest are open, the older ones mostly delivered, a few cancelled or refunded.
    assert statuses["delivered"] > 100
    assert statuses.get("pending", 0) + statuses.get("processing", 0) > 10
    assert {"shipped", "cancelled"} <= set(statuses)
    newest = Order.objects.order_by("-created_at")[:20]
    assert sum(o.status in ("pending", "processing", "on_hold") for o in newest) >= 10

    shipped = Order.objects.filter(shipped_at__isnull=False)
    assert Shipment.objects.count() == shipped.count()
    assert Order.objects.get(pk=Order.objects.order_by("pk").first().pk).order_number.startswith("ORD-0")
    open_lines = OrderLineItem.objects.filter(order__status__in=["pending", "processing", "on_hold"]).count()
    assert Allocation.objects.filter(status="open").count() == open_lines
    assert Allocation.objects.count() == lines

    assert Return.objects.count() == ReturnLineItem.objects.count()
    assert StateLog.objects.filter(transition="create").count() == 300 + Return.objects.count()
    assert selectors.ledger_mismatches() == []


@pytest.mark.postgres
def test_refuses_a_database_with_data_unless_told():
    bench_data(orders=50)
    with pytest.raises(CommandError, match="not empty"):
        bench_data(orders=50)
    bench_data(orders=50, append=True)
    assert Order.objects.count() == 100
    assert Customer.objects.count() == 500  # the bench customers are reused
    assert selectors.ledger_mismatches() == []
    bench_data(orders=40, reset=True)
    assert Order.objects.count() == 40
    assert selectors.ledger_mismatches() == []


def test_refuses_sqlite():
    if connection.vendor != "sqlite":
        pytest.skip("runs on SQLite")
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        bench_data()
