"""Wholesale orders: a draft with its lines, submitted, approved (which allocates every line), fulfilled
(which consumes the allocations), closed, or cancelled (which releases them). Each write locks the wholesale
order and goes through `stateset.fsm.apply_transition`, like an order's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import F

from crm.models import Customer
from inventory import services as inv
from inventory.models import Location
from orders.errors import AllocationMismatch, InvalidOrderInput
from orders.models import WholesaleOrder, WholesaleOrderLineItem
from orders.services.documents import WHOLESALE_DOCUMENT, customer_resolve, document_number_check, items_for_skus
from orders.services.locks import transition_locked
from stateset.actors import Actor
from stateset.fsm import apply_transition, check_transition, lock, log_event
from stateset.money import ZERO, check_amounts_fit, round_cents

WHOLESALE_FIELDS = {
    "name",
    "order_number",
    "customer_number",
    "payment_terms",
    "order_financial_status",
    "order_imported_status",
    "delivery_date",
    "delivery_address",
    "memo",
    "imported_date",
}


def _wholesale_lines(order: WholesaleOrder) -> list[WholesaleOrderLineItem]:
    return list(WholesaleOrderLineItem.objects.filter(wholesale_order=order).order_by("pk"))


def _wholesale_line_ref(line: WholesaleOrderLineItem) -> inv.LineRef:
    return inv.LineRef(WHOLESALE_DOCUMENT, line.wholesale_order_id, line.pk)


def wholesale_order_create(
    *,
    by: Actor,
    order_line_items: Sequence[Mapping[str, Any]],
    customer: Customer | Mapping[str, Any] | None = None,
    location: Location | str | int | None = None,
    currency: str = "USD",
    **fields: Any,
) -> WholesaleOrder:
    """A draft wholesale order with its lines (`{sku, quantity, unit_price, product_name?}`); every SKU needs
    an inventory item (422 `unknown_sku`). Nothing is allocated until approval."""
    unknown = set(fields) - WHOLESALE_FIELDS
    if unknown:
        raise TypeError(f"wholesale order fields not known: {sorted(unknown)}")
    if not order_line_items:
        raise InvalidOrderInput("A wholesale order needs at least one line.", errors={"order_line_items": "required"})
    with transaction.atomic():
        location = inv.location_resolve(location)
        number = fields.pop("order_number", None)
        number = document_number_check(WholesaleOrder, number) if number else None
        customer = customer_resolve(customer, "", by=by)
        items = items_for_skus(line["sku"] for line in order_line_items)
        order = WholesaleOrder.objects.create(
            order_number=number, customer=customer, location=location, currency=(currency or "USD").upper(), **fields
        )
        order.assign_number()
        lines = []
        for line in order_line_items:
            item = items[line["sku"]]
            price = round_cents(line["unit_price"])
            lines.append(
                WholesaleOrderLineItem(
                    wholesale_order=order,
                    item=item,
                    sku=item.sku,
                    product_name=(line.get("product_name") or item.description or item.sku)[:255],
                    quantity=line["quantity"],
                    unit_price=price,
                    total=price * line["quantity"],
                )
            )
        total = sum((x.total for x in lines), ZERO)
        check_amounts_fit({"total": total}, what="A wholesale order")  # bounds each line's total too
        WholesaleOrderLineItem.objects.bulk_create(lines)
        order.subtotal = order.total = total
        order.save()
        log_event(order, "create", by=by)
    return order


def wholesale_order_update(*, wholesale_order: WholesaleOrder, by: Actor, **fields: Any) -> WholesaleOrder:
    """Header fields, while draft or submitted (422 after)."""
    unknown = set(fields) - WHOLESALE_FIELDS
    if unknown:
        raise TypeError(f"wholesale order fields not editable: {sorted(unknown)}")
    with transaction.atomic():
        order = lock(WholesaleOrder, wholesale_order.pk)
        check_transition(order, "update", by=by)
        if "order_number" in fields:
            number = fields.pop("order_number")
            if number and number != order.order_number:
                order.order_number = document_number_check(WholesaleOrder, number, exclude=order.pk)
        for name, value in fields.items():
            setattr(order, name, value)
        apply_transition(order, "update", by=by, reason=f"changed {', '.join(sorted(fields)) or 'nothing'}")
    return order


def wholesale_order_submit(*, wholesale_order: WholesaleOrder, by: Actor, reason: str = "") -> WholesaleOrder:
    """draft → submitted."""
    return transition_locked(wholesale_order, "submit", by=by, reason=reason)


def wholesale_order_approve(*, wholesale_order: WholesaleOrder, by: Actor, reason: str = "") -> WholesaleOrder:
    """submitted → approved, allocating every line at the order's location, or nothing (422
    `insufficient_stock` naming each short SKU). Needs `orders.approve_wholesaleorder`."""
    with transaction.atomic():
        order = lock(WholesaleOrder, wholesale_order.pk)
        check_transition(order, "approve", by=by)
        requests = [
            inv.StockRequest(line.item, order.location, line.quantity, _wholesale_line_ref(line))
            for line in WholesaleOrderLineItem.objects.filter(wholesale_order=order).select_related("item")
        ]
        inv.stock_allocate(requests=requests, by=by)
        apply_transition(order, "approve", by=by, reason=reason)
    return order


def wholesale_order_fulfill(*, wholesale_order: WholesaleOrder, by: Actor, reason: str = "") -> WholesaleOrder:
    """approved → fulfilled: consumes the allocations (ledger `shipment`). Needs
    `orders.fulfill_wholesaleorder`."""
    with transaction.atomic():
        order = lock(WholesaleOrder, wholesale_order.pk)
        check_transition(order, "fulfill", by=by)
        lines = _wholesale_lines(order)
        movements = inv.stock_consume(
            lines=[_wholesale_line_ref(line) for line in lines],
            source=inv.Source(WHOLESALE_DOCUMENT, order.pk, order.order_number or ""),
            by=by,
        )
        expected = sum(line.quantity for line in lines)
        if -sum(m.quantity for m in movements) != expected:
            raise AllocationMismatch(f"{order.display_number} does not hold its {expected} units; nothing moved.")
        WholesaleOrderLineItem.objects.filter(wholesale_order=order).update(quantity_fulfilled=F("quantity"))
        apply_transition(order, "fulfill", by=by, reason=reason)
    return order


def wholesale_order_close(*, wholesale_order: WholesaleOrder, by: Actor, reason: str = "") -> WholesaleOrder:
    """fulfilled → closed."""
    return transition_locked(wholesale_order, "close", by=by, reason=reason)


def wholesale_order_cancel(*, wholesale_order: WholesaleOrder, by: Actor, reason: str = "") -> WholesaleOrder:
    """draft, submitted or approved → cancelled, releasing anything allocated. Needs
    `orders.cancel_wholesaleorder`."""
    with transaction.atomic():
        order = lock(WholesaleOrder, wholesale_order.pk)
        check_transition(order, "cancel", by=by)
        refs = [_wholesale_line_ref(line) for line in _wholesale_lines(order)]
        if refs:
            inv.stock_release(lines=refs, by=by)
        apply_transition(order, "cancel", by=by, reason=reason, cancel_reason=reason)
    return order
