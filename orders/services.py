"""Every write to orders, promotions and wholesale orders. Views, the admin and commands call these.

Each service is one transaction that:

1. locks the order row(s) with `SELECT ... FOR UPDATE`, several in primary-key order, and re-reads them;
2. checks the transition (permission: 403; status: 422 `invalid_state_transition`) before any effect;
3. changes stock only through `inventory.services` (which lock the stock levels after the orders);
4. recomputes the totals with `order_recompute_totals`, the one function that writes them;
5. saves through `stateset.fsm.apply_transition`, which writes the audit row.

A refusal raises before anything is written or rolls the whole transaction back: nothing half-done.

Money (contract §3): subtotal = Σ quantity × unit_price; discount_total = manual discounts + promotion,
never above the subtotal; total = subtotal − discount_total + shipping_total + tax_total. Every amount is a
Decimal rounded half-up to the cent. Each line carries its share of the discounts (`discount_total`) so
that Σ line totals = subtotal − discount_total.

For the returns app (which imports this module, never the reverse): `order_record_refund`,
`order_lines_add_returned` / `order_lines_remove_returned`, `order_mark_returned`, `order_mark_exchanged`
and `order_create_replacement`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, ProtectedError, Q
from django.utils import timezone

from crm.models import Customer
from crm.services import customer_get_or_create
from inventory import services as inv
from inventory.models import InventoryItem, Location
from orders.errors import (
    AllocationMismatch,
    InvalidOrderInput,
    LastLine,
    MergeNotAllowed,
    PromotionInUse,
    PromotionNotApplicable,
    RefundExceedsBalance,
    ReturnExceedsShipped,
    SplitNotAllowed,
    UnknownSku,
)
from orders.models import (
    Order,
    OrderDiscount,
    OrderLineItem,
    OrderTag,
    Promotion,
    Refund,
    Shipment,
    WholesaleOrder,
    WholesaleOrderLineItem,
)
from orders.states import (
    EXCHANGEABLE,
    RETURNABLE,
    DiscountType,
    LineStatus,
    OrderStatus,
    PromotionType,
)
from stateset.actors import Actor
from stateset.errors import InvalidStateTransition, NotFound, PermissionDenied, ValidationFailed
from stateset.fsm import allowed_actions, apply_transition, check_transition, lock, log_event
from stateset.money import check_amounts_fit

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
DOCUMENT = "order"
WHOLESALE_DOCUMENT = "wholesale_order"


def q2(value: Decimal) -> Decimal:
    """Round half-up to the cent."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def line_ref(line: OrderLineItem) -> inv.LineRef:
    return inv.LineRef(DOCUMENT, line.order_id, line.pk)


def _source(order: Order) -> inv.Source:
    return inv.Source(DOCUMENT, order.pk, order.order_number or "")


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


# ======================================================================================================
# Money
# ======================================================================================================


def prorate(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `amount` across `weights` in whole cents, proportionally, by largest remainder: the shares sum
    to `amount` exactly, and when `amount <= sum(weights)` no share exceeds its weight. With no weight at all,
    the first part takes everything."""
    if not weights:
        return []
    amount = q2(amount)
    total_weight = sum(weights, ZERO)
    if total_weight <= 0:
        return [amount] + [ZERO] * (len(weights) - 1)
    cents = int(amount / CENT)
    raw = [Decimal(cents) * w / total_weight for w in weights]
    floors = [int(r) for r in raw]
    rest = cents - sum(floors)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in by_remainder[:rest]:
        floors[i] += 1
    return [Decimal(f) * CENT for f in floors]


def _consume_capacity(amount: Decimal, capacities: list[Decimal]) -> list[Decimal]:
    """Prorate `amount` over what each part can still take, and take it (split proration)."""
    shares = prorate(amount, capacities)
    for i, share in enumerate(shares):
        capacities[i] -= share
    return shares


def order_recompute_totals(order: Order) -> Order:
    """The one function that writes totals. Reads the order's lines, discounts and promotion fresh, writes
    each line's `discount_total` and `total` and each discount's `amount`, and sets the order's totals in
    memory (the caller saves the order, inside its transaction).

    Order of application: line discounts (each capped at what is left of its line), then order discounts
    (percentages of the subtotal; capped at what is left of the subtotal), then the promotion (a percentage
    of what is left after manual discounts, a fixed amount, or free shipping). Order discounts and the
    promotion are spread over the lines in proportion to what is left of each line.
    """
    lines = list(OrderLineItem.objects.filter(order=order).order_by("pk"))
    discounts = list(OrderDiscount.objects.filter(order=order).order_by("pk"))
    promotion = Promotion.objects.filter(pk=order.promotion_id).first() if order.promotion_id else None

    subs = {line.pk: line.unit_price * line.quantity for line in lines}
    subtotal = sum(subs.values(), ZERO)
    # Before any write: the subtotal bounds every line's total, and with shipping and tax the order's.
    check_amounts_fit(
        {"subtotal": subtotal, "total": subtotal + order.shipping_amount + order.tax_amount},
        what=f"Order {order.display_number}",
    )
    line_disc = dict.fromkeys(subs, ZERO)
    for d in (d for d in discounts if d.line_id):
        base = subs.get(d.line_id, ZERO)
        raw = q2(base * d.value / HUNDRED) if d.type == DiscountType.PERCENTAGE else d.value
        d.amount = max(ZERO, min(raw, base - line_disc[d.line_id]))
        line_disc[d.line_id] += d.amount
    capacity = subtotal - sum(line_disc.values(), ZERO)
    order_level = ZERO
    for d in (d for d in discounts if not d.line_id):
        raw = q2(subtotal * d.value / HUNDRED) if d.type == DiscountType.PERCENTAGE else d.value
        d.amount = max(ZERO, min(raw, capacity - order_level))
        order_level += d.amount
    remaining = capacity - order_level
    promo, free_shipping = ZERO, False
    if promotion is not None:
        if promotion.type == PromotionType.FREE_SHIPPING:
            free_shipping = True
        elif order.promotion_fixed_amount is not None:
            promo = min(order.promotion_fixed_amount, remaining)
        elif promotion.type == PromotionType.PERCENTAGE:
            promo = min(q2(remaining * promotion.value / HUNDRED), remaining)
        else:
            promo = min(promotion.value, remaining)

    shares = prorate(order_level + promo, [subs[line.pk] - line_disc[line.pk] for line in lines])
    now = timezone.now()
    for line, share in zip(lines, shares, strict=True):
        line.discount_total = line_disc[line.pk] + share
        line.total = subs[line.pk] - line.discount_total
        line.updated_at = now
    OrderLineItem.objects.bulk_update(lines, ["discount_total", "total", "updated_at"])
    OrderDiscount.objects.bulk_update(discounts, ["amount"])

    order.subtotal = subtotal
    order.discount_total = sum((line.discount_total for line in lines), ZERO)
    order.promotion_discount = promo
    order.shipping_total = ZERO if free_shipping else order.shipping_amount
    order.tax_total = order.tax_amount
    order.total = order.subtotal - order.discount_total + order.shipping_total + order.tax_total
    return order


# ======================================================================================================
# Lookups
# ======================================================================================================


def _order_lines(order: Order) -> list[OrderLineItem]:
    return list(OrderLineItem.objects.filter(order=order).order_by("pk"))


def _line_on(order: Order, line_id: int, *, key: str = "order_item_id") -> OrderLineItem:
    line = OrderLineItem.objects.filter(order=order, pk=line_id).first()
    if line is None:
        raise InvalidOrderInput(
            f"Line {line_id} is not on order {order.display_number}.", errors={key: f"no line {line_id} here"}
        )
    return line


def _items_for(skus: Iterable[str]) -> dict[str, InventoryItem]:
    """Inventory items for these SKUs; any unknown SKU is a 422 naming each one."""
    wanted = sorted(set(skus))
    found = inv.items_by_sku(wanted, required=False)
    missing = [s for s in wanted if s not in found]
    if missing:
        raise UnknownSku(
            f'No inventory item for SKU {", ".join(missing)}; send "requires_inventory": false for lines '
            "that need no stock.",
            errors=dict.fromkeys(missing, "no inventory item with this SKU"),
        )
    return found


def _lock_orders(pks: Iterable[int]) -> dict[int, Order]:
    """Lock several orders in primary-key order (two merges can never wait on each other crosswise)."""
    pks = sorted(set(pks))
    orders = {o.pk: o for o in Order.objects.select_for_update().filter(pk__in=pks).order_by("pk")}
    missing = [pk for pk in pks if pk not in orders]
    if missing:
        raise NotFound(f"Order {', '.join(map(str, missing))} does not exist.", errors={"order_ids": missing})
    return orders


def _check_number(model, number: str, *, exclude: int | None = None) -> str:
    """A client-chosen number: unique, case-insensitively (400). Generated numbers step aside for it
    (stateset.models.NumberedModel adds a suffix)."""
    number = number.strip()
    others = model.objects.exclude(pk=exclude) if exclude else model.objects.all()
    if others.filter(order_number__iexact=number).exists():
        raise InvalidOrderInput(f"The number '{number}' is already used.", errors={"order_number": "already used"})
    return number


# ======================================================================================================
# Create and update
# ======================================================================================================

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


@dataclass
class LineSpec:
    """A line to create: the validated input of `order_line_items`, `items` or `add_item`."""

    sku: str
    quantity: int
    unit_price: Decimal | None = None
    product_name: str = ""
    original_price: Decimal | None = None
    requires_inventory: bool = True

    @classmethod
    def of(cls, data: Mapping[str, Any] | LineSpec) -> LineSpec:
        if isinstance(data, LineSpec):
            return data
        return cls(**{k: v for k, v in data.items() if v is not None or k in ("unit_price", "original_price")})


def _build_lines(
    order: Order, specs: Sequence[LineSpec], *, default_prices: Mapping[str, Decimal] | None = None
) -> list[tuple[OrderLineItem, InventoryItem | None]]:
    """Unsaved lines for `order` with their inventory items. 422 for unknown SKUs, 400 for a missing price."""
    items = _items_for(s.sku for s in specs if s.requires_inventory)
    default_prices = default_prices or {}
    built = []
    for index, spec in enumerate(specs):
        price = spec.unit_price if spec.unit_price is not None else default_prices.get(spec.sku)
        if price is None:
            raise InvalidOrderInput(
                f"Line {index + 1} ({spec.sku}) needs a unit_price.", errors={"unit_price": f"required for {spec.sku}"}
            )
        item = items.get(spec.sku) if spec.requires_inventory else None
        name = spec.product_name or (item.description if item and item.description else spec.sku)
        line = OrderLineItem(
            order=order,
            item=item,
            sku=spec.sku,
            product_name=name[:255],
            quantity=spec.quantity,
            unit_price=q2(price),
            original_price=q2(spec.original_price) if spec.original_price is not None else q2(price),
            requires_inventory=spec.requires_inventory,
        )
        built.append((line, item))
    return built


def _allocate(order: Order, lines: Sequence[tuple[OrderLineItem, InventoryItem | None]], *, by: Actor) -> None:
    requests = [
        inv.StockRequest(item, order.location, line.quantity, line_ref(line))
        for line, item in lines
        if line.requires_inventory
    ]
    inv.stock_allocate(requests=requests, by=by)


def _resolve_customer(customer: Customer | Mapping[str, Any] | None, email: str, *, by: Actor) -> Customer | None:
    """A customer given by id (already resolved), inline ({email, first_name, ...}: found or created), or by
    the documented `customer_email` alone (found or created)."""
    if isinstance(customer, Customer):
        return customer
    if isinstance(customer, Mapping):
        found, _ = customer_get_or_create(
            by=by,
            email=customer["email"],
            first_name=customer.get("first_name") or "",
            last_name=customer.get("last_name") or "",
            phone=customer.get("phone") or "",
        )
        return found
    if email:
        found, _ = customer_get_or_create(by=by, email=email)
        return found
    return None


def order_create(
    *,
    by: Actor,
    order_line_items: Sequence[Mapping[str, Any] | LineSpec],
    customer: Customer | Mapping[str, Any] | None = None,
    location: Location | str | int | None = None,
    tags: Sequence[tuple[str, str]] = (),
    currency: str = "USD",
    status_reason: str = "",
    _extra: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Order:
    """Create a pending order and allocate every line at its location (MAIN by default), or nothing.

    Guarantees: an unknown SKU is a 422 `unknown_sku` naming each one (lines with `requires_inventory=False`
    need no item); short stock is a 422 `insufficient_stock` naming each short SKU, and then no order, line,
    customer or allocation is left behind. The customer is the one given, or found or created from the inline
    customer or `customer_email`. Totals are computed from the lines.
    """
    unknown = set(fields) - HEADER_FIELDS - CREATE_ONLY_FIELDS
    if unknown:
        raise TypeError(f"order fields not known: {sorted(unknown)}")
    specs = [LineSpec.of(line) for line in order_line_items]
    if not specs:
        raise InvalidOrderInput("An order needs at least one line.", errors={"order_line_items": "at least one"})
    with transaction.atomic():
        location = inv.location_resolve(location)
        number = fields.pop("order_number", None)
        number = _check_number(Order, number) if number else None
        customer = _resolve_customer(customer, fields.get("customer_email", ""), by=by)
        if customer is not None:
            fields.setdefault("customer_email", customer.email)
            if not fields.get("customer_name"):
                fields["customer_name"] = f"{customer.first_name} {customer.last_name}".strip()
        order = Order.objects.create(
            order_number=number,
            customer=customer,
            location=location,
            currency=(currency or "USD").upper(),
            **{**fields, **(_extra or {})},
        )
        order.assign_number()
        built = _build_lines(order, specs)
        for line, _ in built:
            line.save()
        _allocate(order, built, by=by)
        _set_tags(order, tags, by=by)
        order_recompute_totals(order)
        order.save()
        log_event(order, "create", by=by, reason=status_reason)
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
                order.order_number = _check_number(Order, number, exclude=order.pk)
        for name, value in fields.items():
            setattr(order, name, value)
        order_recompute_totals(order)
        changed = ", ".join(sorted(fields)) or "nothing"
        apply_transition(order, "update", by=by, reason=_join(reason, f"changed {changed}"))
    return order


# ======================================================================================================
# Status transitions without stock effects
# ======================================================================================================


def _simple(order: Order, name: str, *, by: Actor, reason: str = "", **kwargs: Any) -> Order:
    with transaction.atomic():
        order = lock(Order, order.pk)
        apply_transition(order, name, by=by, reason=reason, **kwargs)
    return order


def order_process(*, order: Order, by: Actor, reason: str = "") -> Order:
    """pending → processing."""
    return _simple(order, "process", by=by, reason=reason)


def order_hold(*, order: Order, by: Actor, reason: str) -> Order:
    """pending or processing → on_hold, remembering which (release goes back there). `reason` is kept in
    `hold_reason` and the history."""
    return _simple(order, "hold", by=by, reason=reason, hold_reason=reason)


def order_release(*, order: Order, by: Actor, reason: str = "") -> Order:
    """on_hold → the status hold left (pending or processing)."""
    return _simple(order, "release", by=by, reason=reason)


def order_deliver(*, order: Order, by: Actor, delivered_at: datetime | None = None, reason: str = "") -> Order:
    """shipped → delivered (`delivered_at` defaults to now)."""
    return _simple(order, "deliver", by=by, reason=reason, delivered_at=delivered_at)


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
    is used (400 when there is none). A line of the same SKU and price grows instead of a new line."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "add_item", by=by)
        existing = _order_lines(order)
        prices = {line.sku: line.unit_price for line in existing}
        spec = LineSpec(sku, quantity, unit_price, product_name, original_price, requires_inventory)
        [(line, item)] = _build_lines(order, [spec], default_prices=prices)
        same = next(
            (
                x
                for x in existing
                if x.sku == line.sku
                and x.unit_price == line.unit_price
                and x.requires_inventory == line.requires_inventory
                and x.status == LineStatus.OPEN
            ),
            None,
        )
        if same is not None:
            OrderLineItem.objects.filter(pk=same.pk).update(
                quantity=F("quantity") + quantity, updated_at=timezone.now()
            )
            line.pk, line.order_id = same.pk, order.pk
        else:
            line.save()
        _allocate(order, [(line, item)], by=by)
        order_recompute_totals(order)
        apply_transition(order, "add_item", by=by, reason=f"added {quantity} x {sku} (line {line.pk})")
    return order


def order_remove_item(*, order: Order, by: Actor, order_item_id: int, quantity: int | None = None) -> Order:
    """Take `quantity` (default: all) off a line and release that stock. Removing the last line is a 422
    `last_line` (cancel the order instead); more than the line has is a 400."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "remove_item", by=by)
        line = _line_on(order, order_item_id)
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
# Discounts and promotions
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
        line = _line_on(order, order_item_id) if order_item_id is not None else None
        discount = OrderDiscount.objects.create(
            order=order, line=line, type=type, value=q2(value), description=description, created_by=by.label[:255]
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


def _find_promotion(promotion_id: int | None, code: str | None) -> Promotion:
    query = Q(pk=promotion_id) if promotion_id is not None else Q(code__iexact=(code or "").strip())
    promotion = Promotion.objects.filter(query).first()
    if promotion is None:
        what = f"id {promotion_id}" if promotion_id is not None else f"code '{code}'"
        raise PromotionNotApplicable(f"No promotion with {what}.", errors={"promotion": "unknown"})
    return promotion


def order_apply_promotion(
    *, order: Order, by: Actor, promotion_id: int | None = None, code: str | None = None
) -> Order:
    """Apply one promotion (by id or code) to an editable order. Refused with 422 `promotion_not_applicable`
    when the order already has one, or the promotion is inactive, outside its dates, above the order's
    subtotal minimum, or used up. The use is counted by one conditional UPDATE (`times_used + 1 WHERE
    times_used < usage_limit`), so concurrent orders can never take more uses than the limit."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "apply_promotion", by=by)
        promotion = _find_promotion(promotion_id, code)
        if order.promotion_id:
            raise PromotionNotApplicable(
                f"{order.display_number} already has a promotion; remove it first.",
                errors={"promotion": "one promotion per order"},
            )
        now = timezone.now()
        if not promotion.active:
            raise PromotionNotApplicable(f"Promotion {promotion.code} is not active.", errors={"promotion": "inactive"})
        if not promotion.is_current(now):
            raise PromotionNotApplicable(
                f"Promotion {promotion.code} is not valid now (from {promotion.starts_at} to {promotion.ends_at}).",
                errors={"promotion": "outside its dates"},
            )
        order_recompute_totals(order)
        if promotion.min_order_amount is not None and order.subtotal < promotion.min_order_amount:
            raise PromotionNotApplicable(
                f"Promotion {promotion.code} needs a subtotal of at least {promotion.min_order_amount}; "
                f"{order.display_number} has {order.subtotal}.",
                errors={"promotion": "below the minimum order amount"},
            )
        taken = (
            Promotion.objects.filter(pk=promotion.pk, active=True)
            .filter(Q(usage_limit__isnull=True) | Q(times_used__lt=F("usage_limit")))
            .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now), Q(ends_at__isnull=True) | Q(ends_at__gte=now))
            .update(times_used=F("times_used") + 1, updated_at=now)
        )
        if not taken:
            raise PromotionNotApplicable(
                f"Promotion {promotion.code} has no uses left.", errors={"promotion": "usage limit reached"}
            )
        apply_transition(order, "apply_promotion", by=by, reason=f"promotion {promotion.code}", promotion=promotion)
        order_recompute_totals(order)
        order.save()
    return order


def order_remove_promotion(*, order: Order, by: Actor) -> Order:
    """Take the promotion off and give its use back (422 `promotion_not_applicable` when there is none).

    Once a split or a merge froze the promotion's discount (`promotion_fixed_amount`), the use is not given
    back: after a split, the orders split off keep their shares of it as fixed discounts, and returning the
    use would let a code with `usage_limit` 1 discount more orders than its limit."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "remove_promotion", by=by)
        if not order.promotion_id:
            raise PromotionNotApplicable(
                f"{order.display_number} has no promotion.", errors={"promotion": "none applied"}
            )
        promotion_id = order.promotion_id
        note = f"promotion {promotion_id}"
        if order.promotion_fixed_amount is None:
            Promotion.objects.filter(pk=promotion_id, times_used__gt=0).update(
                times_used=F("times_used") - 1, updated_at=timezone.now()
            )
        else:
            note = f"{note}; its use stays counted (shared by a split or merge)"
        apply_transition(order, "remove_promotion", by=by, reason=note)
        order_recompute_totals(order)
        order.save()
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
# Ship, cancel, refund
# ======================================================================================================


def order_ship(
    *,
    order: Order,
    by: Actor,
    tracking_number: str = "",
    carrier: str = "",
    shipped_at: datetime | None = None,
    reason: str = "",
) -> Order:
    """pending or processing → shipped. Consumes every allocation of the order (ledger `shipment`: on hand
    and allocated fall together), marks every line shipped in full, and records a Shipment. Needs
    `orders.ship_order`."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "ship", by=by)
        lines = _order_lines(order)
        stocked = [line for line in lines if line.requires_inventory]
        movements = inv.stock_consume(
            lines=[line_ref(line) for line in stocked], source=_source(order), by=by, note=tracking_number
        )
        expected = sum(line.quantity for line in stocked)
        consumed = -sum(m.quantity for m in movements)
        if consumed != expected:
            raise AllocationMismatch(
                f"{order.display_number} holds {consumed} units for {expected} ordered; nothing was shipped."
            )
        OrderLineItem.objects.filter(order=order).update(
            quantity_shipped=F("quantity"), status=LineStatus.SHIPPED, updated_at=timezone.now()
        )
        shipped_at = shipped_at or timezone.now()
        Shipment.objects.create(
            order=order, tracking_number=tracking_number, carrier=carrier, shipped_at=shipped_at, actor=by.label[:255]
        )
        apply_transition(
            order,
            "ship",
            by=by,
            reason=_join(reason, f"{carrier} {tracking_number}".strip()),
            tracking_number=tracking_number,
            carrier=carrier,
            shipped_at=shipped_at,
        )
    return order


def order_cancel(*, order: Order, by: Actor, reason: str = "") -> Order:
    """pending, processing or on_hold → cancelled. Releases every allocation. Needs `orders.cancel_order`.
    Totals and the promotion stay as they were (a refund may follow)."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "cancel", by=by)
        lines = _order_lines(order)
        refs = [line_ref(line) for line in lines if line.requires_inventory]
        if refs:
            inv.stock_release(lines=refs, by=by)
        OrderLineItem.objects.filter(order=order).update(status=LineStatus.CANCELLED, updated_at=timezone.now())
        apply_transition(order, "cancel", by=by, reason=reason, cancel_reason=reason, initiator=by.label[:255])
    return order


def order_record_refund(
    *,
    order: Order,
    amount: Decimal,
    by: Actor,
    reason: str = "",
    source_type: str = DOCUMENT,
    source_id: int | None = None,
    reference: str = "",
) -> Refund:
    """Record a refund on a shipped, delivered, returned or cancelled order (422 `invalid_state_transition`
    otherwise), within its balance (total − amount_refunded; 422 `refund_exceeds_balance` above it). The
    order becomes `refunded` when nothing is left. Needs `orders.refund_order`. Usable by the returns app
    (`source_type="return"`, `source_id`, `reference` = the RMA) inside its own transaction."""
    amount = q2(Decimal(amount))
    if amount <= 0:
        raise ValidationFailed("'amount' must be positive.", errors={"amount": "must be positive"})
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "refund", by=by)
        if amount > order.balance:
            raise RefundExceedsBalance(
                f"A refund of {amount} exceeds the balance of {order.display_number}: {order.balance} "
                f"(total {order.total}, already refunded {order.amount_refunded}).",
                errors={"amount": f"at most {order.balance}"},
            )
        refund = Refund.objects.create(
            order=order,
            amount=amount,
            reason=reason,
            source_type=source_type,
            source_id=source_id,
            reference=reference,
            created_by=by.user,
            actor=by.label[:255],
        )
        apply_transition(order, "refund", by=by, reason=_join(f"{amount} {reference}".strip(), reason), amount=amount)
    refund.order = order
    return refund


def order_refund(*, order: Order, by: Actor, amount: Decimal, reason: str = "") -> Order:
    """The refund action: `order_record_refund` answering the order."""
    return order_record_refund(order=order, amount=amount, by=by, reason=reason).order


# ======================================================================================================
# Split and merge
# ======================================================================================================


@dataclass
class SplitResult:
    order: Order
    orders: list[Order] = field(default_factory=list)


COPIED_ON_SPLIT = (
    "name",
    "customer_id",
    "customer_email",
    "customer_name",
    "customer_number",
    "buyer_email",
    "buyer_message",
    "ordered_by",
    "currency",
    "location_id",
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
    "is_cod",
    "payment",
    "metadata",
    "held_from_status",
    "hold_reason",
)


def _fixed(description: str, note: str) -> str:
    return f"{description or 'Discount'} ({note})"[:255]


def order_split(
    *, order: Order, by: Actor, splits: Sequence[Sequence[tuple[int, int]]], reason: str = ""
) -> SplitResult:
    """Move line quantities into new orders, one per split, each in the order's status with `split_from`.

    Guarantees: the allocations move with the quantities (`allocation_transfer`; stock levels unchanged);
    the original keeps at least one line (422 `split_not_allowed` otherwise, or when a split asks for more
    than a line has); every discount, the promotion's discount and the tax are prorated over the parts as
    fixed amounts (largest remainder, to the cent), and shipping stays on the original, so the parts' totals
    sum exactly to the original's. Needs `orders.split_order`.
    """
    if not splits or any(not split for split in splits):
        raise ValidationFailed("Each split needs at least one item.", errors={"splits": "empty split"})
    with transaction.atomic():
        order = lock(Order, order.pk)
        check_transition(order, "split", by=by)
        lines = {line.pk: line for line in _order_lines(order)}
        plan: list[dict[int, int]] = []
        for split in splits:
            wanted: dict[int, int] = defaultdict(int)
            for line_id, quantity in split:
                if line_id not in lines:
                    raise InvalidOrderInput(
                        f"Line {line_id} is not on order {order.display_number}.",
                        errors={"order_item_id": f"no line {line_id} here"},
                    )
                wanted[line_id] += quantity
            plan.append(dict(wanted))
        moved = {pk: sum(part.get(pk, 0) for part in plan) for pk in lines}
        over = [pk for pk, qty in moved.items() if qty > lines[pk].quantity]
        if over:
            raise SplitNotAllowed(
                f"The splits take more than line {', '.join(map(str, over))} has.",
                errors={str(pk): f"has {lines[pk].quantity}, splits take {moved[pk]}" for pk in over},
            )
        if all(moved[pk] >= line.quantity for pk, line in lines.items()):
            raise SplitNotAllowed(
                f"{order.display_number} must keep at least one line; leave some quantity on it.",
                errors={"splits": "the original keeps at least one line"},
            )

        order_recompute_totals(order)
        discounts = list(OrderDiscount.objects.filter(order=order).order_by("pk"))
        parts = 1 + len(plan)
        quantities = {
            pk: [line.quantity - moved[pk]] + [part.get(pk, 0) for part in plan] for pk, line in lines.items()
        }
        line_caps = {pk: [q * lines[pk].unit_price for q in qs] for pk, qs in quantities.items()}
        part_subtotals = [sum((line_caps[pk][k] for pk in lines), ZERO) for k in range(parts)]
        shares: dict[int, list[Decimal]] = {}
        for d in (d for d in discounts if d.line_id):
            shares[d.pk] = _consume_capacity(d.amount, line_caps[d.line_id])
        caps = [sum((line_caps[pk][k] for pk in lines), ZERO) for k in range(parts)]
        for d in (d for d in discounts if not d.line_id):
            shares[d.pk] = _consume_capacity(d.amount, caps)
        promo_shares = _consume_capacity(order.promotion_discount, caps) if order.promotion_discount else None
        tax_shares = prorate(order.tax_amount, part_subtotals)

        children = []
        for k, part in enumerate(plan, start=1):
            child = Order.objects.create(
                status=order.status,
                split_from=order,
                shipping_amount=ZERO,
                tax_amount=tax_shares[k],
                **{name: getattr(order, name) for name in COPIED_ON_SPLIT},
            )
            child.assign_number()
            new_lines = {}
            for pk, quantity in part.items():
                source = lines[pk]
                new_line = OrderLineItem.objects.create(
                    order=child,
                    item_id=source.item_id,
                    sku=source.sku,
                    product_name=source.product_name,
                    quantity=quantity,
                    unit_price=source.unit_price,
                    original_price=source.original_price,
                    requires_inventory=source.requires_inventory,
                )
                new_lines[pk] = new_line
                if source.requires_inventory:
                    inv.allocation_transfer(
                        from_line=line_ref(source), to_line=line_ref(new_line), quantity=quantity, by=by
                    )
            note = f"prorated from {order.display_number}"
            child_discounts = [
                OrderDiscount(
                    order=child,
                    line=new_lines.get(d.line_id) if d.line_id else None,
                    type=DiscountType.FIXED,
                    value=shares[d.pk][k],
                    description=_fixed(d.description, note),
                    created_by=by.label[:255],
                )
                for d in discounts
                if shares[d.pk][k] > 0
            ]
            if promo_shares and promo_shares[k] > 0:
                child_discounts.append(
                    OrderDiscount(
                        order=child,
                        type=DiscountType.FIXED,
                        value=promo_shares[k],
                        description=_fixed(f"Promotion {order.promotion.code}", note),
                        created_by=by.label[:255],
                    )
                )
            OrderDiscount.objects.bulk_create(child_discounts)
            order_recompute_totals(child)
            child.save()
            log_event(child, "create", by=by, reason=_join(reason, f"split from {order.display_number}"))
            children.append(child)

        for pk, line in lines.items():
            if quantities[pk][0] == 0:
                line.delete()
            elif moved[pk]:
                OrderLineItem.objects.filter(pk=pk).update(quantity=quantities[pk][0])
        for d in OrderDiscount.objects.filter(order=order):
            if d.type != DiscountType.FIXED or d.value != shares[d.pk][0]:
                d.type, d.value = DiscountType.FIXED, shares[d.pk][0]
                d.description = _fixed(d.description, "prorated on split")
                d.save(update_fields=["type", "value", "description", "updated_at"])
        if promo_shares:
            order.promotion_fixed_amount = promo_shares[0]
        order.tax_amount = tax_shares[0]
        order_recompute_totals(order)
        names = ", ".join(c.display_number for c in children)
        apply_transition(order, "split", by=by, reason=_join(reason, f"split into {names}"))
    return SplitResult(order=order, orders=children)


def _same_party(a: Order, b: Order) -> bool:
    if a.customer_id or b.customer_id:
        return a.customer_id == b.customer_id
    return a.customer_email.lower() == b.customer_email.lower()


def order_merge(*, order: Order, by: Actor, order_ids: Sequence[int], reason: str = "") -> Order:
    """Merge the orders `order_ids` into `order` (the target). All must be pending or processing, for the
    same customer, currency and location (422 `merge_not_allowed`). Each source line joins the target's
    line of the same SKU and price, or is copied; its allocation moves with it (stock levels unchanged).
    Every discount of the orders involved is frozen at its current amount, and the sources' shipping and
    tax are added to the target's, so the target's total is the sum of the totals (unless the target has
    free shipping). Sources become `merged` with `merged_into`, keeping their lines as the record; nothing is
    deleted. Needs `orders.merge_order`."""
    source_ids = [pk for pk in dict.fromkeys(order_ids) if pk != order.pk]
    if not source_ids:
        raise ValidationFailed(
            "Name at least one other order to merge.", errors={"order_ids": "at least one other order"}
        )
    with transaction.atomic():
        locked = _lock_orders([order.pk, *source_ids])
        target = locked[order.pk]
        sources = [locked[pk] for pk in source_ids]
        check_transition(target, "merge", by=by)
        for source in sources:
            check_transition(source, "merge_into", by=by)
        for source in sources:
            problems = {}
            if not _same_party(target, source):
                problems["customer"] = "differs"
            if source.currency != target.currency:
                problems["currency"] = f"{source.currency} vs {target.currency}"
            if source.location_id != target.location_id:
                problems["location"] = "differs"
            if problems:
                raise MergeNotAllowed(
                    f"{source.display_number} cannot merge into {target.display_number}: "
                    + ", ".join(f"{k} {v}" for k, v in problems.items())
                    + ".",
                    errors=problems,
                )

        # Freeze the target's discounts at their amounts, so that new lines do not change them.
        order_recompute_totals(target)
        for d in OrderDiscount.objects.filter(order=target):
            if d.type != DiscountType.FIXED:
                d.type, d.value = DiscountType.FIXED, d.amount
                d.description = _fixed(d.description, "fixed on merge")
                d.save(update_fields=["type", "value", "description", "updated_at"])
        if target.promotion_id and target.promotion_discount:
            target.promotion_fixed_amount = target.promotion_discount

        target_lines = _order_lines(target)
        for source in sources:
            line_map: dict[int, OrderLineItem] = {}
            for line in _order_lines(source):
                match = next(
                    (
                        t
                        for t in target_lines
                        if t.sku == line.sku
                        and t.unit_price == line.unit_price
                        and t.requires_inventory == line.requires_inventory
                        and t.item_id == line.item_id
                        and t.status == LineStatus.OPEN
                    ),
                    None,
                )
                if match is not None:
                    match.quantity += line.quantity
                    match.save(update_fields=["quantity", "updated_at"])
                else:
                    match = OrderLineItem.objects.create(
                        order=target,
                        item_id=line.item_id,
                        sku=line.sku,
                        product_name=line.product_name,
                        quantity=line.quantity,
                        unit_price=line.unit_price,
                        original_price=line.original_price,
                        requires_inventory=line.requires_inventory,
                    )
                    target_lines.append(match)
                if line.requires_inventory:
                    inv.allocation_transfer(
                        from_line=line_ref(line), to_line=line_ref(match), quantity=line.quantity, by=by
                    )
                line_map[line.pk] = match
            OrderLineItem.objects.filter(order=source).update(status=LineStatus.MERGED, updated_at=timezone.now())
            note = f"from {source.display_number}"
            moved = [
                OrderDiscount(
                    order=target,
                    line=line_map.get(d.line_id) if d.line_id else None,
                    type=DiscountType.FIXED,
                    value=d.amount,
                    description=_fixed(d.description, note),
                    created_by=by.label[:255],
                )
                for d in OrderDiscount.objects.filter(order=source).order_by("pk")
                if d.amount > 0
            ]
            if source.promotion_id and source.promotion_discount > 0:
                moved.append(
                    OrderDiscount(
                        order=target,
                        type=DiscountType.FIXED,
                        value=source.promotion_discount,
                        description=_fixed(f"Promotion {source.promotion.code}", note),
                        created_by=by.label[:255],
                    )
                )
            OrderDiscount.objects.bulk_create(moved)
            target.shipping_amount += source.shipping_total
            target.tax_amount += source.tax_total
            apply_transition(
                source, "merge_into", by=by, reason=_join(reason, f"merged into {target.display_number}"), target=target
            )
        order_recompute_totals(target)
        names = ", ".join(s.display_number for s in sources)
        apply_transition(target, "merge", by=by, reason=_join(reason, f"merged {names}"))
    return target


def order_merge_many(*, by: Actor, order_ids: Sequence[int], reason: str = "") -> Order:
    """`POST /v1/orders/merge`: the first id is the target."""
    if not order_ids:
        raise ValidationFailed("Send 'order_ids'.", errors={"order_ids": "required"})
    target = Order.objects.filter(pk=order_ids[0]).first()
    if target is None:
        raise NotFound(f"Order {order_ids[0]} does not exist.")
    return order_merge(order=target, by=by, order_ids=list(order_ids[1:]), reason=reason)


# ======================================================================================================
# For the returns app
# ======================================================================================================


def _require_status(order: Order, allowed: Sequence[str], action: str) -> None:
    if order.status not in allowed:
        raise InvalidStateTransition(
            label=f"order {order.display_number}", status=order.status, action=action, allowed=allowed_actions(order)
        )


def order_lines_add_returned(
    *, order: Order, quantities: Mapping[int, int], by: Actor, reason: str = "", mark_returned: bool = True
) -> Order:
    """Count units as under a return: `quantities` maps line ids to units. The order must be shipped or
    delivered (422 `invalid_state_transition`); a line not on the order is a 400; more than the line shipped
    and has not had returned is a 422 `return_exceeds_shipped` and nothing changes. A line whose shipped units
    are all returned becomes `returned`; when every shipped unit of the order's goods is (lines that need no
    stock do not count) and `mark_returned`, the order moves to `returned`. The returns app calls this when
    it creates a return, inside its transaction."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        _require_status(order, RETURNABLE, "return")
        lines = {line.pk: line for line in _order_lines(order)}
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
            apply_transition(order, "mark_returned", by=by, reason=_join(reason, f"returned {summary}"))
        else:
            log_event(order, "return_items", by=by, reason=_join(reason, f"returned {summary}"))
    return order


def order_lines_remove_returned(*, order: Order, quantities: Mapping[int, int], by: Actor, reason: str = "") -> Order:
    """Give back units counted as returned (a return rejected or cancelled). Never below zero (422). An order
    that had moved to `returned` goes back to `shipped` (or `delivered`, when it was delivered), so its
    units can be returned again."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        lines = {line.pk: line for line in _order_lines(order)}
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
        for line_id, quantity in quantities.items():
            line = lines[int(line_id)]
            line.quantity_returned -= quantity
            if line.status == LineStatus.RETURNED:
                line.status = LineStatus.SHIPPED
            line.save(update_fields=["quantity_returned", "status", "updated_at"])
        summary = ", ".join(f"{q} x line {pk}" for pk, q in quantities.items())
        log_event(order, "unreturn_items", by=by, reason=_join(reason, summary))
        if order.status == OrderStatus.RETURNED:
            apply_transition(order, "unmark_returned", by=by, reason=reason)
    return order


def order_mark_returned(*, order: Order, by: Actor, reason: str = "") -> Order:
    """shipped or delivered → returned (422 otherwise)."""
    return _simple(order, "mark_returned", by=by, reason=reason)


def order_mark_exchanged(
    *, order: Order, by: Actor, reason: str = "", price_difference: Decimal | None = None
) -> Order:
    """shipped or delivered → exchanged (422 otherwise). `price_difference` (replacement total − returned
    amount) is shown on the order as `exchange_price_difference`."""
    with transaction.atomic():
        order = lock(Order, order.pk)
        _require_status(order, EXCHANGEABLE, "exchange")
        if price_difference is not None:
            order.exchange_price_difference = q2(price_difference)
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
    prices = {line.sku: line.unit_price for line in _order_lines(original)}
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
        status_reason=_join(reason, f"replacement for {original.display_number}"),
        _extra={
            "exchange_for": original,
            "is_replacement_order": True,
            "exchange_price_difference": q2(price_difference) if price_difference is not None else None,
        },
        **header,
    )


# ======================================================================================================
# Promotions
# ======================================================================================================

PROMOTION_FIELDS = {
    "code",
    "name",
    "description",
    "type",
    "value",
    "active",
    "starts_at",
    "ends_at",
    "usage_limit",
    "min_order_amount",
}


def _check_promotion(promotion: Promotion) -> None:
    errors = {}
    if promotion.type == PromotionType.PERCENTAGE and promotion.value > HUNDRED:
        errors["value"] = "a percentage is at most 100"
    if promotion.starts_at and promotion.ends_at and promotion.ends_at < promotion.starts_at:
        errors["ends_at"] = "before starts_at"
    if promotion.usage_limit is not None and promotion.usage_limit < promotion.times_used:
        errors["usage_limit"] = f"already used {promotion.times_used} times"
    others = Promotion.objects.exclude(pk=promotion.pk) if promotion.pk else Promotion.objects.all()
    if others.filter(code__iexact=promotion.code).exists():
        errors["code"] = f"'{promotion.code}' is already used"
    if errors:
        raise ValidationFailed(next(iter(errors.values())).capitalize() + ".", errors=errors)


def promotion_create(*, by: Actor, code: str, type: str, **fields: Any) -> Promotion:
    """A promotion. Codes are unique case-insensitively (400)."""
    unknown = set(fields) - PROMOTION_FIELDS
    if unknown:
        raise TypeError(f"promotion fields not known: {sorted(unknown)}")
    with transaction.atomic():
        promotion = Promotion(code=code.strip(), type=type, **fields)
        _check_promotion(promotion)
        promotion.save()
    return promotion


PROMOTION_TERMS = ("type", "value")


def promotion_update(*, promotion: Promotion, by: Actor, **fields: Any) -> Promotion:
    """Change a promotion; `times_used` is the server's. A usage limit below the uses already taken is a 400.

    Its terms (`type`, `value`) are fixed once an order carries it: totals are recomputed from the promotion
    on every change of an open order, so new terms would silently reprice orders already placed. That is a
    422 `promotion_in_use`; deactivate it and create another. Name, dates, limits and `active` only decide
    who may apply it next, and stay editable."""
    unknown = set(fields) - PROMOTION_FIELDS
    if unknown:
        raise TypeError(f"promotion fields not known: {sorted(unknown)}")
    with transaction.atomic():
        promotion = lock(Promotion, promotion.pk)
        changed = [name for name in PROMOTION_TERMS if name in fields and fields[name] != getattr(promotion, name)]
        if changed and promotion.orders.exists():
            raise PromotionInUse(
                f"Promotion {promotion.code} is on orders: its {' and '.join(changed)} cannot change; "
                "deactivate it and create another.",
                errors=dict.fromkeys(changed, "fixed once on an order"),
            )
        for name, value in fields.items():
            setattr(promotion, name, value.strip() if name == "code" else value)
        _check_promotion(promotion)
        promotion.save()
    return promotion


def promotion_delete(*, promotion: Promotion, by: Actor) -> None:
    """Delete a promotion no order used (422 `promotion_in_use` otherwise: deactivate it instead)."""
    with transaction.atomic():
        promotion = lock(Promotion, promotion.pk)
        try:
            promotion.delete()
        except ProtectedError:
            raise PromotionInUse(
                f"Promotion {promotion.code} is on orders; set active=false instead.", errors={"code": promotion.code}
            )


# ======================================================================================================
# Wholesale orders
# ======================================================================================================

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


def _wholesale_ref(line: WholesaleOrderLineItem) -> inv.LineRef:
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
        number = _check_number(WholesaleOrder, number) if number else None
        customer = _resolve_customer(customer, "", by=by)
        items = _items_for(line["sku"] for line in order_line_items)
        order = WholesaleOrder.objects.create(
            order_number=number, customer=customer, location=location, currency=(currency or "USD").upper(), **fields
        )
        order.assign_number()
        lines = []
        for line in order_line_items:
            item = items[line["sku"]]
            price = q2(line["unit_price"])
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
                order.order_number = _check_number(WholesaleOrder, number, exclude=order.pk)
        for name, value in fields.items():
            setattr(order, name, value)
        apply_transition(order, "update", by=by, reason=f"changed {', '.join(sorted(fields)) or 'nothing'}")
    return order


def _wholesale_simple(order: WholesaleOrder, name: str, *, by: Actor, reason: str = "") -> WholesaleOrder:
    with transaction.atomic():
        order = lock(WholesaleOrder, order.pk)
        apply_transition(order, name, by=by, reason=reason)
    return order


def wholesale_order_submit(*, wholesale_order: WholesaleOrder, by: Actor, reason: str = "") -> WholesaleOrder:
    """draft → submitted."""
    return _wholesale_simple(wholesale_order, "submit", by=by, reason=reason)


def wholesale_order_approve(*, wholesale_order: WholesaleOrder, by: Actor, reason: str = "") -> WholesaleOrder:
    """submitted → approved, allocating every line at the order's location, or nothing (422
    `insufficient_stock` naming each short SKU). Needs `orders.approve_wholesaleorder`."""
    with transaction.atomic():
        order = lock(WholesaleOrder, wholesale_order.pk)
        check_transition(order, "approve", by=by)
        requests = [
            inv.StockRequest(line.item, order.location, line.quantity, _wholesale_ref(line))
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
            lines=[_wholesale_ref(line) for line in lines],
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
    return _wholesale_simple(wholesale_order, "close", by=by, reason=reason)


def wholesale_order_cancel(*, wholesale_order: WholesaleOrder, by: Actor, reason: str = "") -> WholesaleOrder:
    """draft, submitted or approved → cancelled, releasing anything allocated. Needs
    `orders.cancel_wholesaleorder`."""
    with transaction.atomic():
        order = lock(WholesaleOrder, wholesale_order.pk)
        check_transition(order, "cancel", by=by)
        refs = [_wholesale_ref(line) for line in _wholesale_lines(order)]
        if refs:
            inv.stock_release(lines=refs, by=by)
        apply_transition(order, "cancel", by=by, reason=reason, cancel_reason=reason)
    return order
