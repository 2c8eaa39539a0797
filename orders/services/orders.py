"""Every write to one order on its own: create and update, the status transitions, lines, manual discounts,
tags, ship and cancel.

Each service is one transaction that:

1. locks the order row with `SELECT ... FOR UPDATE` and re-reads it;
2. checks the transition (permission: 403; status: 422 `invalid_state_transition`) before any effect;
3. changes stock only through `inventory.services` (which lock the stock levels after the orders);
4. recomputes the totals with `order_recompute_totals`, the one function that writes them;
5. saves through `stateset.fsm.apply_transition`, which writes the audit row.

A refusal raises before anything is written or rolls the whole transaction back: nothing half-done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crm.models import Customer
from inventory import services as inv
from inventory.models import Location
from orders.errors import InvalidOrderInput, LastLine
from orders.models import Order, OrderDiscount, OrderLineItem, OrderTag
from orders.services.documents import customer_resolve, document_number_check, join_reasons
from orders.services.lines import (
    ALLOCATION_RULES,
    LineSpec,
    line_on_order,
    line_ref,
    lines_allocate,
    lines_build,
    lines_combine,
    order_lines,
)
from orders.services.locks import order_lock
from orders.services.pricing import HUNDRED, order_recompute_totals, totals_compute
from orders.services.shipments import pending_shipments_cancel, refuse_if_reserved, underway_shipments_deliver
from orders.states import DiscountType, LineStatus
from stateset.actors import Actor
from stateset.errors import PermissionDenied, ValidationFailed
from stateset.fsm import apply_transition, check_transition, lock, log_event
from stateset.money import ZERO, round_cents
from stateset.prefetch import as_written, prefetched

HEADER_FIELDS = {
    "name",
    "order_number",
    "customer_email",
    "customer_name",
    "customer_number",
    "buyer_email",
    "buyer_message",
    "ordered_by",
    "shipping_address",
    "billing_address",
    "delivery_address",
    "delivery_date",
    "delivery_type",
    "fulfillment_type",
    "shipping_method",
    "notes",
    "seller_note",
    "source",
    "imported_status",
    "imported_date",
    "is_import",
    "is_cod",
    "cancel_order_sla_time",
    "payment",
    "metadata",
    "shipping_amount",
    "tax_amount",
}
CREATE_ONLY_FIELDS = {"currency", "carrier"}


def order_create(
    *,
    by: Actor,
    order_line_items: Sequence[Mapping[str, Any] | LineSpec],
    customer: Customer | Mapping[str, Any] | None = None,
    location: Location | str | int | None = None,
    tags: Sequence[tuple[str, str]] = (),
    currency: str = "USD",
    status_reason: str = "",
    allocation: str = "order_location",
    _extra: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Order:
    """Create a pending order and allocate every line at its location (MAIN by default), or nothing.

    Guarantees: an unknown SKU is a 422 `unknown_sku` naming each one (lines with `requires_inventory=False`
    need no item); short stock is a 422 `insufficient_stock` naming each short SKU, and then no order, line,
    customer or allocation is left behind. The customer is the one given, or found or created from the inline
    customer or `customer_email`. Totals are computed from the lines.

    Several locations (issue #18): a line may name its own `location`; `allocation="any_location"` takes
    what the line's location lacks from the other active locations, most available first (ties by code).
    Without either, every line is allocated at the order's location, and short stock there is the 422.
    """
    if allocation not in ALLOCATION_RULES:
        raise ValidationFailed(
            f"'allocation' is one of {', '.join(ALLOCATION_RULES)}.", errors={"allocation": "unknown rule"}
        )
    unknown = set(fields) - HEADER_FIELDS - CREATE_ONLY_FIELDS
    if unknown:
        raise TypeError(f"order fields not known: {sorted(unknown)}")
    specs = [LineSpec.of(line) for line in order_line_items]
    if not specs:
        raise InvalidOrderInput("An order needs at least one line.", errors={"order_line_items": "at least one"})
    with transaction.atomic():
        location = inv.location_resolve(location)
        number = fields.pop("order_number", None)
        number = document_number_check(Order, number) if number else None
        customer = customer_resolve(customer, fields.get("customer_email", ""), by=by)
        if customer is not None:
            fields.setdefault("customer_email", customer.email)
            if not fields.get("customer_name"):
                fields["customer_name"] = f"{customer.first_name} {customer.last_name}".strip()
        order = Order(
            order_number=number,
            customer=customer,
            location=location,
            currency=(currency or "USD").upper(),
            **{**fields, **(_extra or {})},
        )
        # Lines and totals are computed before any write, so each row is inserted once, complete.
        built = lines_build(order, specs)
        lines = [line for line, _ in built]
        totals_compute(order, lines, discounts=(), promotion=None)
        order.save(force_insert=True)
        order.assign_number()
        for line in lines:
            line.order = order
        OrderLineItem.objects.bulk_create(lines)
        tag_rows = OrderTag.objects.bulk_create(
            OrderTag(order=order, tag_name=name, tag_value=value, created_by=by.label[:255])
            for name, value in _normalise_tags(tags)
        )
        log_event(order, "create", by=by, reason=status_reason)
        # The stock last, so the levels every order of the same SKUs needs are locked for the shortest time.
        where = [inv.location_resolve(s.location) if s.location not in (None, "") else None for s in specs]
        lines_allocate(order, built, by=by, new_lines=True, locations=where, allocation=allocation)
        # Marked inside the transaction: its event renders the order from memory too (stateset.events).
        as_written(prefetched(order, order_line_items=lines, discounts=(), tags=tag_rows, refunds=(), shipments=()))
    return order


# Header fields that change what the order charges: they need `orders.edit_order`, like its lines.
CHARGED_FIELDS = {"shipping_amount", "tax_amount"}


def order_update(*, order: Order, by: Actor, reason: str = "", **fields: Any) -> Order:
    """Change header fields (addresses, notes, delivery fields, shipping and tax amounts, ...) while the order
    is pending, processing or on hold (422 otherwise). Lines, customer, location and currency do not change
    here; totals are recomputed (shipping and tax may have changed). Changing shipping or tax needs
    `orders.edit_order` (403 otherwise)."""
    unknown = set(fields) - HEADER_FIELDS
    if unknown:
        raise TypeError(f"order fields not editable: {sorted(unknown)}")
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "update", by=by)
        charged = sorted(n for n in CHARGED_FIELDS & set(fields) if fields[n] != getattr(order, n))
        if charged and not by.has_perm("orders.edit_order"):
            raise PermissionDenied(
                f"Your role lacks the permission 'orders.edit_order' needed to change {', '.join(charged)}."
            )
        if "order_number" in fields:
            number = fields.pop("order_number")
            if number and number != order.order_number:
                order.order_number = document_number_check(Order, number, exclude=order.pk)
        for name, value in fields.items():
            setattr(order, name, value)
        order_recompute_totals(order)
        changed = ", ".join(sorted(fields)) or "nothing"
        apply_transition(order, "update", by=by, reason=join_reasons(reason, f"changed {changed}"))
    return order


# ======================================================================================================
# Status transitions without stock effects
# ======================================================================================================


def _order_transition(order: Order, name: str, *, by: Actor, reason: str = "", **kwargs: Any) -> Order:
    """A transition with no effect beyond the order's own row: locked and re-read (order_lock), the
    transition applied (permission, status, save, audit row), and the order answered as written."""
    with transaction.atomic():
        order = order_lock(order.pk)
        apply_transition(order, name, by=by, reason=reason, **kwargs)
        as_written(order)  # inside the transaction: its event renders it from memory too (stateset.events)
    return order


def order_process(*, order: Order, by: Actor, reason: str = "") -> Order:
    """pending → processing."""
    return _order_transition(order, "process", by=by, reason=reason)


def order_hold(*, order: Order, by: Actor, reason: str) -> Order:
    """pending or processing → on_hold, remembering which (release goes back there). `reason` is kept in
    `hold_reason` and the history."""
    return _order_transition(order, "hold", by=by, reason=reason, hold_reason=reason)


def order_release(*, order: Order, by: Actor, reason: str = "") -> Order:
    """on_hold → the status hold left (pending or processing). The hold reason is cleared: the order is no
    longer held; the history keeps it (the hold's audit row)."""
    with transaction.atomic():
        order = order_lock(order.pk)
        order.hold_reason = ""  # saved with the transition, or not at all when it is refused
        apply_transition(order, "release", by=by, reason=reason)
        as_written(order)  # inside the transaction: its event renders from memory (stateset.events)
    return order


def order_deliver(*, order: Order, by: Actor, delivered_at: datetime | None = None, reason: str = "") -> Order:
    """shipped → delivered (`delivered_at` defaults to now), and with it every shipment still under way."""
    with transaction.atomic():
        order = order_lock(order.pk)
        apply_transition(order, "deliver", by=by, reason=reason, delivered_at=delivered_at)
        underway_shipments_deliver(order, by=by, delivered_at=order.delivered_at, reason=reason)
        as_written(order)  # inside the transaction: its event renders from memory (stateset.events)
    return order


# ======================================================================================================
# Lines
# ======================================================================================================


def order_add_item(
    *,
    order: Order,
    by: Actor,
    sku: str,
    quantity: int,
    unit_price: Decimal | None = None,
    product_name: str = "",
    original_price: Decimal | None = None,
    requires_inventory: bool = True,
) -> Order:
    """Add `quantity` of `sku` (pending, processing, on_hold) and allocate it, or nothing (422
    `insufficient_stock` / `unknown_sku`). Without `unit_price`, the price of the order's line for that SKU
    is used (400 when there is none). An open line of the same SKU, price and inventory item grows instead of
    a new line (`lines_combine`, the rule merging follows too)."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "add_item", by=by)
        existing = order_lines(order)
        prices = {line.sku: line.unit_price for line in existing}
        spec = LineSpec(sku, quantity, unit_price, product_name, original_price, requires_inventory)
        [(line, item)] = lines_build(order, [spec], default_prices=prices)
        same = next((x for x in existing if lines_combine(x, line)), None)
        if same is not None:
            OrderLineItem.objects.filter(pk=same.pk).update(
                quantity=F("quantity") + quantity, updated_at=timezone.now()
            )
            line.pk, line.order_id = same.pk, order.pk
        else:
            line.save()
        lines_allocate(order, [(line, item)], by=by)
        order_recompute_totals(order)
        apply_transition(order, "add_item", by=by, reason=f"added {quantity} x {sku} (line {line.pk})")
    return order


def order_remove_item(*, order: Order, by: Actor, order_item_id: int, quantity: int | None = None) -> Order:
    """Take `quantity` (default: all) off a line and release that stock. Removing the last line is a 422
    `last_line` (cancel the order instead); more than the line has is a 400."""
    with transaction.atomic():
        order = order_lock(order.pk)  # which related sets are empty: no pending shipment to look for
        check_transition(order, "remove_item", by=by)
        refuse_if_reserved(order, action="remove items")
        line = line_on_order(order, order_item_id)
        take = line.quantity if quantity is None else quantity
        if take > line.quantity:
            raise InvalidOrderInput(
                f"Line {line.pk} has {line.quantity}; cannot remove {take}.",
                errors={"quantity": f"at most {line.quantity}"},
            )
        whole = take == line.quantity
        if whole and not OrderLineItem.objects.filter(order=order).exclude(pk=line.pk).exists():
            raise LastLine(
                f"Line {line.pk} is the last line of {order.display_number}; cancel the order instead.",
                errors={"order_item_id": "last line"},
            )
        if line.requires_inventory:
            inv.stock_release(lines=[line_ref(line)], quantity=take, by=by)
        if whole:
            line.delete()
        else:
            OrderLineItem.objects.filter(pk=line.pk).update(quantity=F("quantity") - take, updated_at=timezone.now())
        order_recompute_totals(order)
        apply_transition(order, "remove_item", by=by, reason=f"removed {take} x {line.sku} (line {order_item_id})")
    return order


# ======================================================================================================
# Manual discounts (the promotion is applied in orders.services.promotions)
# ======================================================================================================


def order_add_discount(
    *,
    order: Order,
    by: Actor,
    type: str,
    value: Decimal,
    description: str = "",
    order_item_id: int | None = None,
) -> Order:
    """A manual discount (fixed amount or percentage, of the order or of one line). It never takes the
    discount total above the subtotal: the amount is capped at what is left."""
    if type == DiscountType.PERCENTAGE and not (ZERO <= value <= HUNDRED):
        raise ValidationFailed("A percentage is between 0 and 100.", errors={"value": "0 to 100"})
    if value < 0:
        raise ValidationFailed("'value' cannot be negative.", errors={"value": "not negative"})
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "add_discount", by=by)
        line = line_on_order(order, order_item_id) if order_item_id is not None else None
        discount = OrderDiscount.objects.create(
            order=order,
            line=line,
            type=type,
            value=round_cents(value),
            description=description,
            created_by=by.label[:255],
        )
        order_recompute_totals(order)
        target = f" on line {line.pk}" if line else ""
        apply_transition(order, "add_discount", by=by, reason=f"discount {discount.pk}: {value} {type}{target}")
    return order


def order_remove_discount(*, order: Order, by: Actor, discount_id: int) -> Order:
    """Remove a manual discount; the totals follow."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "remove_discount", by=by)
        deleted, _ = OrderDiscount.objects.filter(order=order, pk=discount_id).delete()
        if not deleted:
            raise InvalidOrderInput(
                f"Discount {discount_id} is not on order {order.display_number}.",
                errors={"discount_id": f"no discount {discount_id} here"},
            )
        order_recompute_totals(order)
        apply_transition(order, "remove_discount", by=by, reason=f"discount {discount_id}")
    return order


# ======================================================================================================
# Tags
# ======================================================================================================


def _normalise_tags(tags: Iterable[Any]) -> list[tuple[str, str]]:
    result: dict[str, str] = {}
    for tag in tags:
        name, value = (tag, "") if isinstance(tag, str) else (tag[0], tag[1] or "")
        name = name.strip()
        if not name:
            raise ValidationFailed("A tag needs a name.", errors={"tags": "empty tag name"})
        result[name] = value
    return list(result.items())


def _set_tags(order: Order, tags: Iterable[Any], *, by: Actor) -> list[str]:
    changed = []
    for name, value in _normalise_tags(tags):
        OrderTag.objects.update_or_create(
            order=order, tag_name=name, defaults={"tag_value": value, "created_by": by.label[:255]}
        )
        changed.append(f"{name}={value}" if value else name)
    return changed


def order_tag(*, order: Order, by: Actor, tags: Sequence[Any] = (), tag_name: str = "", tag_value: str = "") -> Order:
    """Add tags (names, or (name, value) pairs; the documented single `tag_name`/`tag_value` form too), in
    any status. Tagging an existing name again sets its value."""
    entries = list(tags) + ([(tag_name, tag_value)] if tag_name else [])
    if not entries:
        raise ValidationFailed("Send 'tags' or 'tag_name'.", errors={"tags": "required"})
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "tag", by=by)
        changed = _set_tags(order, entries, by=by)
        apply_transition(order, "tag", by=by, reason=", ".join(changed))
    return order


def order_untag(*, order: Order, by: Actor, tags: Sequence[Any] = (), tag_name: str = "") -> Order:
    """Remove tags by name, in any status. A name the order does not carry is ignored."""
    names = [t if isinstance(t, str) else t[0] for t in tags] + ([tag_name] if tag_name else [])
    if not names:
        raise ValidationFailed("Send 'tags' or 'tag_name'.", errors={"tags": "required"})
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "untag", by=by)
        OrderTag.objects.filter(order=order, tag_name__in=names).delete()
        apply_transition(order, "untag", by=by, reason=", ".join(names))
    return order


# ======================================================================================================
# Cancel (ship: orders.services.shipments; refunds: orders.services.refunds)
# ======================================================================================================


def order_cancel(*, order: Order, by: Actor, reason: str = "") -> Order:
    """pending, processing or on_hold → cancelled. Releases every allocation. Needs `orders.cancel_order`.
    Totals and the promotion stay as they were (a refund may follow)."""
    with transaction.atomic():
        order = order_lock(order.pk)
        check_transition(order, "cancel", by=by)
        pending_shipments_cancel(order, by=by, reason=join_reasons(reason, "order cancelled"))
        lines = order_lines(order)
        now = timezone.now()
        OrderLineItem.objects.filter(order=order).update(status=LineStatus.CANCELLED, updated_at=now)
        for line in lines:
            line.status, line.updated_at = LineStatus.CANCELLED, now
        apply_transition(order, "cancel", by=by, reason=reason, cancel_reason=reason, initiator=by.label[:255])
        refs = [line_ref(line) for line in lines if line.requires_inventory]
        if refs:  # the stock last: the levels are locked for the shortest time
            inv.stock_release(lines=refs, by=by)
        as_written(prefetched(order, order_line_items=lines))  # inside: its event renders it from memory too
    return order
