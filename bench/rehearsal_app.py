"""The Django side of `make rehearsal` (bench/rehearsal.py): its setup, and the task its worker drill enqueues.

`setup` runs once in `manage.py shell` (it migrates and calls `bench_data` first); the rehearsal's Celery
worker loads this module (`--include bench.rehearsal_app`) for `cancel_order`. Nothing here is part of the
product.
"""

from __future__ import annotations

import io
import json
import time

from django.core.cache import cache

from stateset.celery import app
from stateset.tasks import RETRY

TASK_NAME = "rehearsal.cancel_order"
RUNS_KEY = "rehearsal:runs:{}"


@app.task(name=TASK_NAME, **RETRY)
def cancel_order(order_id: int, hold_seconds: float = 0.0) -> str:
    """Cancel the order unless it is cancelled already, then hold the worker `hold_seconds` (the slow part of
    a real task, a webhook call say, after its effect). Idempotent: a second run finds the order cancelled
    and does nothing, so a message redelivered after its worker died mid-hold changes nothing. Counts its
    runs in the cache, so the rehearsal can tell a redelivery from a lost task."""
    from orders.models import Order
    from orders.services import order_cancel
    from stateset.actors import Actor
    from stateset.errors import DomainError

    key = RUNS_KEY.format(order_id)
    cache.add(key, 0, 3600)
    cache.incr(key)
    order = Order.objects.get(pk=order_id)
    outcome = "already cancelled"
    if order.status != "cancelled":
        try:
            order_cancel(order=order, by=Actor.system(f"task {TASK_NAME}"), reason="rehearsal task")
            outcome = "cancelled"
        except DomainError:
            # Two deliveries at once: the other one won. Anything else is a real failure (retried).
            order.refresh_from_db()
            if order.status != "cancelled":
                raise
    time.sleep(hold_seconds)
    return outcome


def setup(*, clients: int, scarce_skus: int, scarce_stock: int, task_orders: int) -> None:
    """`migrate`, `bench_data` with 1,000 SKUs (and one order, 200 customers), then: a user, one API key per load client
    plus the shared (hot) key, the scarce SKUs' stock cut to `scarce_stock` at MAIN (ledger adjustments, so
    `check_inventory` stays clean), and `task_orders` pending orders for the worker drill's tasks to cancel.
    Prints what the load needs as JSON."""
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from crm.models import Customer
    from inventory.models import InventoryItem, StockLevel
    from inventory.services import default_location, stock_adjust
    from orders.services import order_create
    from stateset import services
    from stateset.actors import Actor

    call_command("migrate", interactive=False, verbosity=0)
    call_command("bench_data", orders=1, customers=200, skus=1000, no_vacuum=True, stdout=io.StringIO())
    by = Actor.command("rehearsal setup")
    User.objects.filter(username="rehearsal").exists() or User.objects.create_superuser(
        "rehearsal", "rehearsal@example.com", "rehearsal"
    )
    keys = [
        services.api_key_create_for_username(username="rehearsal", name=f"rehearsal {name}", by=by)[1]
        for name in [*(f"client {i}" for i in range(clients)), "hot"]
    ]
    main = default_location()
    skus = list(InventoryItem.objects.order_by("sku").values_list("sku", flat=True))
    for item in InventoryItem.objects.filter(sku__in=skus[:scarce_skus]):
        level = StockLevel.objects.get(item=item, location=main)
        if level.on_hand - level.allocated > scarce_stock:
            stock_adjust(
                inventory_item=item,
                quantity=scarce_stock - (level.on_hand - level.allocated),
                by=by,
                location=main,
                reason="rehearsal: scarce",
            )
    customers = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:200])
    drill = [
        order_create(
            by=by,
            customer=Customer.objects.get(pk=customers[i % len(customers)]),
            order_line_items=[
                {"sku": skus[-1 - (i % 50)], "product_name": "drill", "quantity": 1, "unit_price": "5.00"}
            ],
        ).pk
        for i in range(task_orders)
    ]
    print(
        json.dumps({"keys": keys[:-1], "hot_key": keys[-1], "skus": skus, "customers": customers, "task_orders": drill})
    )
