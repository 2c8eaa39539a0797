"""Demo history for `make run` (seed_demo, last step): orders over the last 90 days with a weekly rhythm (busy
weekdays, quiet weekends, a slow rise), most of them shipped and delivered, so that the dashboard's 30-day
charts show a trend and not one spike; and the other demo documents (returns, purchase orders, work and
manufacture orders) spread over the same days.

The orders are made, shipped and delivered through `orders.services` like any other (stock, totals, audit
rows). Only their dates are then moved back: no service takes a creation date, so the demo sets `created_at`,
`shipped_at`, `delivered_at` and the history rows' timestamps itself. Demo data only; nothing else does this.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django_fsm_log.models import StateLog

from crm.models import Customer
from inventory import services as inv
from inventory.models import InventoryItem, PurchaseOrder
from manufacturing.models import ManufactureOrder, WorkOrder
from orders import services
from orders.demo import ITEMS
from orders.models import Order
from returns.models import Return

SOURCE = "demo-history"
DAYS = 90
# Orders on each weekday, Monday first: busy in the week, quiet at the weekend.
RHYTHM = (4, 5, 5, 4, 6, 2, 1)


def _at(day_offset: int, rng: random.Random) -> datetime:
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=day_offset, hours=-rng.randint(8, 18), minutes=-rng.randint(0, 59))


def _backdate(obj, when: datetime, **dates) -> None:
    type(obj).objects.filter(pk=obj.pk).update(created_at=when, **dates)
    StateLog.objects.for_(obj).update(timestamp=when)


def _plan(rng: random.Random, days_back: int) -> list[int]:
    """The day offsets (0 = today) of the orders to make, oldest first."""
    days = []
    for offset in range(days_back - 1, -1, -1):
        day = timezone.localdate() - timedelta(days=offset)
        rise = 0.6 + 0.4 * (days_back - offset) / days_back
        n = max(0, round(RHYTHM[day.weekday()] * rise) + rng.choice((-1, 0, 0, 1)))
        days += [offset] * n
    return days


def seed(*, by, progress: bool = True, days: int = DAYS) -> str:
    if Order.objects.filter(source=SOURCE).exists():
        return "demo history already present"
    rng = random.Random(19)
    plan = _plan(rng, days)
    customers = list(Customer.objects.filter(email__endswith="@demo.stateset.test").order_by("pk")) or [None]
    location = inv.default_location()
    skus = list(ITEMS)
    for sku in skus:  # enough on hand for every order below
        inv.stock_receive(
            inventory_item=InventoryItem.objects.get(sku=sku),
            location=location,
            quantity=3 * len(plan),
            source=inv.Source("demo", None, "demo history"),
            by=by,
        )
    for offset in plan:
        when = _at(offset, rng)
        lines = [
            {"sku": sku, "quantity": rng.randint(1, 3), "unit_price": ITEMS[sku][1]}
            for sku in rng.sample(skus, rng.randint(1, 2))
        ]
        order = services.order_create(
            by=by,
            customer=rng.choice(customers),
            order_line_items=lines,
            source=SOURCE,
            shipping_amount=Decimal("5.00"),
        )
        dates = {}
        if offset >= 2:
            services.order_ship(order=order, by=by, tracking_number=f"1Z{rng.randint(10**9, 10**10)}", carrier="UPS")
            dates["shipped_at"] = when + timedelta(hours=20)
            if offset >= 5:
                services.order_deliver(order=order, by=by)
                dates["delivered_at"] = when + timedelta(days=3)
        elif rng.random() < 0.3:
            services.order_process(order=order, by=by)
        _backdate(order, when, **dates)
    # The other demo documents, spread over the same days; the showcase orders over the last two weeks.
    for obj in Order.objects.filter(source="demo").order_by("pk"):
        _backdate(obj, _at(rng.randint(0, min(13, days - 1)), rng))
    for model in (Return, PurchaseOrder, WorkOrder, ManufactureOrder):
        for obj in model.objects.order_by("pk"):
            _backdate(obj, _at(rng.randint(0, days - 1), rng))
    return f"{len(plan)} orders over the last {days} days"
