"""Shared helpers for the orders tests: orders in any status, and snapshots proving a refusal changed nothing."""

from __future__ import annotations

from decimal import Decimal

from django_fsm_log.models import StateLog

from inventory.models import Allocation, StockLevel, StockMovement
from inventory.selectors import ledger_mismatches
from orders import services
from orders.models import Order, OrderLineItem, Promotion, Shipment, ShipmentLineItem
from orders.states import EDITABLE, SHIPMENT_OUT, OrderStatus
from tests.factories import SYSTEM, make_customer, make_item

ALL = [s.value for s in OrderStatus]
EDIT = [s.value for s in EDITABLE]

# Contract §3: the statuses each action is allowed from.
SOURCES = {
    "process": ["pending"],
    "hold": ["pending", "processing"],
    "release": ["on_hold"],
    "update": EDIT,
    "add_item": EDIT,
    "remove_item": EDIT,
    "add_discount": EDIT,
    "remove_discount": EDIT,
    "apply_promotion": EDIT,
    "remove_promotion": EDIT,
    "tag": ALL,
    "untag": ALL,
    "split": EDIT,
    "merge": ["pending", "processing"],
    "ship": ["pending", "processing", "partially_shipped"],
    "deliver": ["shipped"],
    "cancel": EDIT,
    "refund": ["partially_shipped", "shipped", "delivered", "returned", "cancelled"],
    "cancel_remaining": ["pending", "processing", "partially_shipped"],
}
# The status an allowed action leads to (None: unchanged).
TARGETS = {
    "process": "processing",
    "hold": "on_hold",
    "release": "pending",
    "ship": "shipped",
    "deliver": "delivered",
    "cancel": "cancelled",
}


def stock(on_hand: int = 50):
    """Two items, A and B, with `on_hand` each at MAIN."""
    return make_item("A", on_hand=on_hand), make_item("B", on_hand=on_hand)


def fresh(order: Order) -> Order:
    return Order.objects.get(pk=order.pk)


def lines_of(order: Order) -> list[OrderLineItem]:
    return list(OrderLineItem.objects.filter(order=order).order_by("pk"))


def create(customer=None, lines=(("A", 2, "10.00"), ("B", 1, "5.00")), **fields) -> Order:
    specs = [{"sku": s, "quantity": q, "unit_price": Decimal(p)} for s, q, p in lines]
    if customer is None:
        customer = make_customer()
    return services.order_create(by=SYSTEM, customer=customer, order_line_items=specs, **fields)


def bring_to(order: Order, status: str) -> Order:
    """Walk a pending order to `status` through the services."""
    by = SYSTEM
    if status == "pending":
        return fresh(order)
    if status == "processing":
        return services.order_process(order=order, by=by)
    if status == "on_hold":
        return services.order_hold(order=order, by=by, reason="check address")
    if status == "cancelled":
        return services.order_cancel(order=order, by=by, reason="test")
    if status == "partially_shipped":
        first = lines_of(order)[0]
        shipment = services.shipment_create(
            by=by, order=order, shipment_line_items=[{"order_item_id": first.pk, "quantity": 1}]
        )
        services.shipment_ship(shipment=shipment, by=by, tracking_number="T1", carrier="UPS")
        return fresh(order)
    if status == "merged":
        target = create(customer=order.customer, lines=(("A", 1, "10.00"),))
        services.order_merge(order=target, order_ids=[order.pk], by=by)
        return fresh(order)
    order = services.order_ship(order=order, by=by, tracking_number="T", carrier="UPS")
    if status == "delivered":
        return services.order_deliver(order=order, by=by)
    if status == "returned":
        quantities = {line.pk: line.quantity for line in lines_of(order)}
        return services.order_lines_add_returned(order=order, quantities=quantities, by=by)
    if status == "refunded":
        return services.order_refund(order=order, by=by, amount=order.total)
    if status == "exchanged":
        return services.order_mark_exchanged(order=order, by=by)
    assert status == "shipped", status
    return order


def order_in(status: str, *, prepare=None, **kwargs) -> Order:
    """A pending order of 2 × A at 10.00 and 1 × B at 5.00, `prepare`d while pending, then brought to
    `status`."""
    order = create(**kwargs)
    if prepare is not None:
        prepare(order)
    return bring_to(order, status)


def snapshot(*orders: Order) -> dict:
    """Everything a refused action must leave as it was: statuses, lines, totals, discounts, tags,
    allocations, stock levels, the ledger, promotions' use counts, the history and the order count."""
    pks = [o.pk for o in orders]
    rows = Order.objects.filter(pk__in=pks).order_by("pk")
    return {
        "orders": [
            (
                o.status,
                o.held_from_status,
                o.subtotal,
                o.discount_total,
                o.shipping_total,
                o.tax_total,
                o.total,
                o.amount_refunded,
                o.promotion_id,
                o.merged_into_id,
                sorted(o.tags.values_list("tag_name", "tag_value")),
                list(o.discounts.order_by("pk").values_list("pk", "type", "value", "amount", "line_id")),
            )
            for o in rows
        ],
        "lines": list(
            OrderLineItem.objects.filter(order_id__in=pks)
            .order_by("pk")
            .values_list(
                "pk",
                "order_id",
                "sku",
                "quantity",
                "unit_price",
                "discount_total",
                "total",
                "quantity_shipped",
                "quantity_returned",
                "quantity_cancelled",
                "status",
            )
        ),
        "shipments": list(
            Shipment.objects.order_by("pk").values_list("pk", "status", "tracking_number", "carrier", "updated_at")
        ),
        "shipment_lines": list(
            ShipmentLineItem.objects.order_by("pk").values_list("pk", "shipment_id", "line_id", "quantity")
        ),
        "allocations": list(Allocation.objects.order_by("pk").values_list("pk", "line_id", "quantity", "status")),
        "levels": list(StockLevel.objects.order_by("pk").values_list("pk", "on_hand", "allocated", "incoming")),
        "movements": StockMovement.objects.count(),
        "promotions": list(Promotion.objects.order_by("pk").values_list("pk", "times_used")),
        "history": StateLog.objects.count(),
        "order_count": Order.objects.count(),
    }


def assert_consistent(order: Order) -> None:
    """The money invariants of contract §3 and the line-level split of the discounts."""
    order = fresh(order)
    lines = lines_of(order)
    assert order.subtotal == sum((line.unit_price * line.quantity_billed for line in lines), Decimal("0"))
    for line in lines:  # every unit is unshipped, shipped or cancelled; shipped units are in shipped parcels
        assert 0 <= line.quantity_shipped + line.quantity_cancelled <= line.quantity
        out = ShipmentLineItem.objects.filter(line=line, shipment__status__in=SHIPMENT_OUT)
        assert sum(out.values_list("quantity", flat=True)) == line.quantity_shipped
    assert order.discount_total == sum((line.discount_total for line in lines), Decimal("0"))
    assert sum((line.total for line in lines), Decimal("0")) == order.subtotal - order.discount_total
    assert Decimal("0") <= order.discount_total <= order.subtotal
    assert order.total == order.subtotal - order.discount_total + order.shipping_total + order.tax_total
    assert ledger_mismatches() == []
