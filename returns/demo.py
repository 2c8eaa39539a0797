"""Demo returns and warranties for `make run` (seed_demo): returns in every status, an exchange, warranty
claims in every status (one approved with a replacement order).

Everything goes through the services (orders for the shipped orders the returns are for, returns for the
rest), so the demo obeys the same rules: units counted on the orders, restock through the ledger, refunds
within the order's balance. Runs after orders.demo; a second run changes nothing.
"""

from __future__ import annotations

from decimal import Decimal

from tqdm import tqdm

from crm.services import customer_get_or_create
from inventory import services as inv
from inventory.models import InventoryItem, StockLevel
from orders import services as order_services
from returns import services
from returns.models import Return, Warranty

MARK = "seed_demo"  # entered_by of the demo's returns and warranties
ITEMS = {
    "WIDGET-RED": ("Red widget", Decimal("19.99")),
    "WIDGET-BLUE": ("Blue widget", Decimal("21.50")),
    "GADGET": ("Gadget", Decimal("49.00")),
}
NEEDED = 30  # units available per item before the demo's orders take theirs


def _ensure_stock(by) -> None:
    location = inv.default_location()
    for sku, (description, _) in ITEMS.items():
        item = InventoryItem.objects.filter(sku=sku).first() or inv.item_create(by=by, sku=sku, description=description)
        level = StockLevel.objects.filter(item=item, location=location).first()
        available = level.available if level else 0
        if available < NEEDED:
            inv.stock_receive(
                inventory_item=item,
                location=location,
                quantity=NEEDED - available,
                source=inv.Source("demo", None, "returns demo"),
                by=by,
            )


def seed(*, by, progress: bool = True) -> str:
    if Return.objects.filter(entered_by=MARK).exists():
        return "demo returns already present"
    _ensure_stock(by)
    customers = [
        customer_get_or_create(by=by, email=f"returner{i}@demo.stateset.test", first_name=name)[0]
        for i, name in enumerate(["Gus", "Hal", "Ida", "Jo"])
    ]

    def shipped(customer, *lines, deliver: bool = True):
        order = order_services.order_create(
            by=by,
            customer=customer,
            source="demo",
            order_line_items=[{"sku": s, "quantity": q, "unit_price": ITEMS[s][1]} for s, q in lines],
        )
        order = order_services.order_ship(order=order, by=by, carrier="UPS", tracking_number="1Z999AA10123456799")
        return order_services.order_deliver(order=order, by=by) if deliver else order

    def line(order, sku):
        return order.order_line_items.get(sku=sku).pk

    def rma(order, *items, **fields):
        return services.return_create(
            by=by,
            order=order,
            entered_by=MARK,
            return_line_items=[{"order_line_item": line(order, s), "quantity": q, **extra} for s, q, extra in items],
            **fields,
        )

    gus, hal, ida, jo = customers

    def requested():
        order = shipped(gus, ("WIDGET-RED", 2))
        rma(order, ("WIDGET-RED", 1, {"reason": "Too small"}), issue="Wrong size", reason_category="size_fit_issue")

    def approved():
        order = shipped(hal, ("GADGET", 1), ("WIDGET-BLUE", 1))
        ret = rma(order, ("GADGET", 1, {}), issue="Stopped working", tracking_number="9400100000000000000001")
        services.return_approve(return_=ret, by=by, notes="Label sent")

    def rejected():
        order = shipped(ida, ("WIDGET-BLUE", 1))
        ret = rma(order, ("WIDGET-BLUE", 1, {}), issue="Changed mind after 90 days")
        services.return_reject(return_=ret, by=by, reason="Outside the return window")

    def received():
        order = shipped(jo, ("WIDGET-RED", 2), ("GADGET", 1))
        ret = rma(order, ("WIDGET-RED", 2, {}), ("GADGET", 1, {"condition": "damaged"}), issue="Duplicate order")
        services.return_approve(return_=ret, by=by)
        services.return_receive(return_=ret, by=by, received_by="Warehouse team")  # red back on hand, gadget not

    def refunded():
        order = shipped(gus, ("WIDGET-BLUE", 2))
        ret = rma(order, ("WIDGET-BLUE", 2, {}), issue="Not as described", restocking_fee=Decimal("5.00"))
        services.return_approve(return_=ret, by=by)
        services.return_receive(return_=ret, by=by)
        services.return_refund(return_=ret, by=by, reason="Refund less restocking fee")

    def closed():
        order = shipped(hal, ("WIDGET-RED", 1))
        ret = services.order_return(order=order, by=by, return_all=True, reason="Arrived late")
        services.return_update(return_=ret, by=by, entered_by=MARK)
        for step in (services.return_approve, services.return_receive, services.return_refund):
            step(return_=ret, by=by)
        services.return_close(return_=ret, by=by)

    def cancelled():
        order = shipped(ida, ("GADGET", 1), deliver=False)
        ret = rma(order, ("GADGET", 1, {}), issue="Ordered twice")
        services.return_cancel(return_=ret, by=by, reason="Customer kept it")

    def exchange():
        order = shipped(jo, ("WIDGET-RED", 1))
        result = services.order_exchange(
            order=order,
            by=by,
            return_items=[{"order_item_id": line(order, "WIDGET-RED"), "quantity": 1, "reason": "Wrong colour"}],
            new_items=[{"sku": "WIDGET-BLUE", "quantity": 1, "unit_price": ITEMS["WIDGET-BLUE"][1]}],
            reason="Swap for blue",
        )
        services.return_update(return_=result.return_, by=by, entered_by=MARK)

    def warranties():
        order = shipped(gus, ("GADGET", 2))
        claim = {"entered_by": MARK, "warranty_type": "MANUFACTURER", "order": order}
        services.warranty_create(
            by=by, issue="Rattles", serial_number="GDG-0001", warranty_line_items=[{"sku": "GADGET"}], **claim
        )
        replaced = services.warranty_create(
            by=by,
            issue="Does not power on",
            serial_number="GDG-0002",
            advanced_replacement=True,
            warranty_line_items=[{"sku": "GADGET", "serial_number": "GDG-0002", "name": "Gadget"}],
            **claim,
        )
        services.warranty_approve(warranty=replaced, by=by, notes="Advance replacement")
        denied = services.warranty_create(by=by, issue="Dropped in water", serial_number="GDG-0003", **claim)
        services.warranty_deny(warranty=denied, by=by, reason="Water damage is not covered")
        done = services.warranty_create(by=by, issue="Loose hinge", serial_number="GDG-0004", **claim)
        services.warranty_approve(warranty=done, by=by)
        services.warranty_complete(warranty=done, by=by, reason="Repaired")
        gone = services.warranty_create(by=by, issue="Scratched", serial_number="GDG-0005", **claim)
        services.warranty_cancel(warranty=gone, by=by, reason="Filed by mistake")

    steps = [requested, approved, rejected, received, refunded, closed, cancelled, exchange, warranties]
    for step in tqdm(steps, desc="returns", disable=not progress):
        step()
    return f"{Return.objects.count()} returns, {Warranty.objects.count()} warranties"
