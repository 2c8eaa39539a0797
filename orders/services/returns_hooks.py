"""What the returns app calls on its orders (it imports `orders.services`, never the reverse): counting units
as returned and giving them back, marking an order returned or exchanged, and creating a replacement order.
Refunds, which returns record too, are in `orders.services.refunds`.

The returns app calls these inside its own transaction; each locks the order, so a return and any other
change of the order are serialised on the order's row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction

from inventory.models import Location
from orders.errors import InvalidOrderInput, ReturnExceedsShipped
from orders.models import Order, ShipmentLineItem
from orders.services.documents import join_reasons
from orders.services.lines import LineSpec, order_lines
from orders.services.locks import transition_locked
from orders.services.orders import order_create
from orders.states import EXCHANGEABLE, RETURNABLE, LineStatus, OrderStatus, ShipmentStatus
from stateset.actors import Actor
from stateset.errors import InvalidStateTransition, ValidationFailed
from stateset.fsm import allowed_actions, apply_transition, lock, log_event
from stateset.money import ZERO, round_cents

# Parcels units can come back from: they reached, or are on their way to, the customer.
RETURNABLE_FROM = (ShipmentStatus.SHIPPED, ShipmentStatus.IN_TRANSIT, ShipmentStatus.DELIVERED)


def _check_status_in(order: Order, allowed: Sequence[str], action: str) -> None:
    """422 `invalid_state_transition` (naming `action` and what the order allows) unless its status is in
    `allowed`."""
    if order.status not in allowed:
        raise InvalidStateTransition(
            label=f"order {order.display_number}", status=order.status, action=action, allowed=allowed_actions(order)
        )


def order_lines_add_returned(
    *,
    order: Order,
    quantities: Mapping[int, int],
    by: Actor,
    reason: str = "",
    mark_returned: bool = True,
    shipments: Mapping[tuple[int, int], int] | None = None,
) -> Order:
    """Count units as under a return: `quantities` maps line ids to units. The order must be shipped or
    delivered (422 `invalid_state_transition`); a line not on the order is a 400; more than the line shipped
    and has not had returned is a 422 `return_exceeds_shipped` and nothing changes. A line whose shipped units
    are all returned becomes `returned`; when every shipped unit of the order's goods is (lines that need no
    stock do not count) and `mark_returned`, the order moves to `returned`. The returns app calls this when
    it creates a return, inside its transaction."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        _check_status_in(order, RETURNABLE, "return")
        lines = {line.pk: line for line in order_lines(order)}
        errors = {}
        for line_id, quantity in quantities.items():
            line = lines.get(int(line_id))
            if line is None:
                raise InvalidOrderInput(
                    f"Line {line_id} is not on order {order.display_number}.",
                    errors={"order_item_id": f"no line {line_id} here"},
                )
            if quantity < 1:
                raise ValidationFailed("Quantities must be positive.", errors={"quantity": "must be positive"})
            if quantity > line.quantity_returnable:
                errors[str(line.pk)] = (
                    f"{line.sku}: {quantity} requested, {line.quantity_returnable} shipped and not yet returned"
                )
        if errors:
            raise ReturnExceedsShipped(
                f"Cannot return more than was shipped and not yet returned: {'; '.join(errors.values())}.",
                errors=errors,
            )
        shipment_units_return(order, shipments or {}, sign=1)
        for line_id, quantity in quantities.items():
            line = lines[int(line_id)]
            line.quantity_returned += quantity
            if line.quantity_returned == line.quantity_shipped:
                line.status = LineStatus.RETURNED
            line.save(update_fields=["quantity_returned", "status", "updated_at"])
        summary = ", ".join(f"{q} x line {pk}" for pk, q in quantities.items())
        # Lines that need no stock (gift wrap, services) cannot come back: the goods decide.
        goods = [line for line in lines.values() if line.requires_inventory] or list(lines.values())
        everything = all(line.quantity_returned >= line.quantity_shipped for line in goods)
        if mark_returned and everything:
            apply_transition(order, "mark_returned", by=by, reason=join_reasons(reason, f"returned {summary}"))
        else:
            log_event(order, "return_items", by=by, reason=join_reasons(reason, f"returned {summary}"))
    return order


def order_lines_remove_returned(
    *,
    order: Order,
    quantities: Mapping[int, int],
    by: Actor,
    reason: str = "",
    shipments: Mapping[tuple[int, int], int] | None = None,
) -> Order:
    """Give back units counted as returned (a return rejected or cancelled). Never below zero (422). An order
    that had moved to `returned` goes back to `shipped` (or `delivered`, when it was delivered), so its
    units can be returned again."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        lines = {line.pk: line for line in order_lines(order)}
        for line_id, quantity in quantities.items():
            line = lines.get(int(line_id))
            if line is None:
                raise InvalidOrderInput(
                    f"Line {line_id} is not on order {order.display_number}.",
                    errors={"order_item_id": f"no line {line_id} here"},
                )
            if quantity < 1 or quantity > line.quantity_returned:
                raise ReturnExceedsShipped(
                    f"Line {line.pk} has {line.quantity_returned} returned; cannot give back {quantity}.",
                    errors={str(line.pk): f"at most {line.quantity_returned}"},
                )
        shipment_units_return(order, shipments or {}, sign=-1)
        for line_id, quantity in quantities.items():
            line = lines[int(line_id)]
            line.quantity_returned -= quantity
            if line.status == LineStatus.RETURNED:
                line.status = LineStatus.SHIPPED
            line.save(update_fields=["quantity_returned", "status", "updated_at"])
        summary = ", ".join(f"{q} x line {pk}" for pk, q in quantities.items())
        log_event(order, "unreturn_items", by=by, reason=join_reasons(reason, summary))
        if order.status == OrderStatus.RETURNED:
            apply_transition(order, "unmark_returned", by=by, reason=reason)
    return order


def shipment_units_return(order: Order, units: Mapping[tuple[int, int], int], *, sign: int) -> None:
    """Count (sign 1) or give back (sign -1) returned units per parcel: {(shipment id, order line id): units}.
    A parcel of another order, or one that did not carry that line, is a 400; a parcel that is not shipped, in
    transit or delivered (pending, cancelled, back to the sender, lost) cannot be returned from (422
    `return_exceeds_shipped`), nor more than it carried less what came back already. The order is locked."""
    units = {key: q for key, q in units.items() if q}
    if not units:
        return
    rows = {
        (row.shipment_id, row.line_id): row
        for row in ShipmentLineItem.objects.select_related("shipment").filter(
            shipment__order=order, shipment_id__in={s for s, _ in units}, line_id__in={line for _, line in units}
        )
    }
    errors = {}
    for (shipment_id, line_id), quantity in units.items():
        row = rows.get((shipment_id, line_id))
        if row is None:
            raise InvalidOrderInput(
                f"Shipment {shipment_id} of order {order.display_number} did not carry line {line_id}.",
                errors={"shipment": f"no line {line_id} in shipment {shipment_id}"},
            )
        if sign > 0 and row.shipment.status not in RETURNABLE_FROM:
            errors[str(line_id)] = f"shipment {row.shipment.number} is {row.shipment.status}"
        elif sign > 0 and quantity > row.quantity - row.quantity_returned:
            errors[str(line_id)] = (
                f"{quantity} requested from {row.shipment.number}, "
                f"{row.quantity - row.quantity_returned} shipped in it and not yet returned"
            )
        elif sign < 0 and quantity > row.quantity_returned:
            errors[str(line_id)] = f"{row.shipment.number} has {row.quantity_returned} returned"
        row.quantity_returned += sign * quantity
    if errors:
        raise ReturnExceedsShipped(
            f"Cannot return more than a shipment shipped and did not have returned: {'; '.join(errors.values())}.",
            errors=errors,
        )
    ShipmentLineItem.objects.bulk_update(list(rows.values()), ["quantity_returned"])


def order_mark_returned(*, order: Order, by: Actor, reason: str = "") -> Order:
    """shipped or delivered → returned (422 otherwise)."""
    return transition_locked(order, "mark_returned", by=by, reason=reason)


def order_mark_exchanged(
    *, order: Order, by: Actor, reason: str = "", price_difference: Decimal | None = None
) -> Order:
    """shipped or delivered → exchanged (422 otherwise). `price_difference` (replacement total − returned
    amount) is shown on the order as `exchange_price_difference`."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        _check_status_in(order, EXCHANGEABLE, "exchange")
        if price_difference is not None:
            order.exchange_price_difference = round_cents(price_difference)
        apply_transition(order, "mark_exchanged", by=by, reason=reason)
    return order


def order_create_replacement(
    *,
    original: Order,
    items: Sequence[Mapping[str, Any] | LineSpec],
    by: Actor,
    unit_price_zero: bool = False,
    location: Location | str | int | None = None,
    price_difference: Decimal | None = None,
    reason: str = "",
) -> Order:
    """A new pending order for `items` (`{sku, quantity, unit_price?, product_name?}`), allocated like any
    order (422 on short stock or an unknown SKU, and nothing is created), with `exchange_for=original` and
    `is_replacement_order=true`, for the original's customer, addresses and currency, at `location` (the
    original's by default). Prices: zero with `unit_price_zero` (warranty replacements), else the given
    `unit_price`, else the original's price for that SKU (400 when there is none)."""
    original = Order.objects.get(pk=original.pk)
    prices = {line.sku: line.unit_price for line in order_lines(original)}
    specs = []
    for raw in items:
        spec = LineSpec.of(raw)
        if unit_price_zero:
            spec.unit_price = ZERO
        elif spec.unit_price is None:
            spec.unit_price = prices.get(spec.sku)
        specs.append(spec)
    header = {
        name: getattr(original, name)
        for name in ("customer_email", "customer_name", "customer_number", "shipping_address", "billing_address")
    }
    return order_create(
        by=by,
        order_line_items=specs,
        customer=original.customer,
        location=location if location is not None else original.location,
        currency=original.currency,
        status_reason=join_reasons(reason, f"replacement for {original.display_number}"),
        _extra={
            "exchange_for": original,
            "is_replacement_order": True,
            "exchange_price_difference": round_cents(price_difference) if price_difference is not None else None,
        },
        **header,
    )
