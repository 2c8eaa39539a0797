"""Order money (contract §3): the one function that writes totals, and the proration that splits amounts.

subtotal = Σ (quantity − quantity_cancelled) × unit_price; discount_total = manual discounts + promotion,
never above the subtotal; total = subtotal − discount_total + shipping_total + tax_total. Every amount is a
Decimal rounded half-up to the cent (`stateset.money.round_cents`). Each line carries its share of the
discounts (`discount_total`) so that Σ line totals = subtotal − discount_total.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils import timezone

from orders.models import Order, OrderDiscount, OrderLineItem, Promotion
from orders.states import DiscountType, PromotionType
from stateset.compiled import update_rows
from stateset.money import CENT, ZERO, check_amounts_fit, round_cents

HUNDRED = Decimal(100)


def prorate(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `amount` across `weights` in whole cents, proportionally, by largest remainder: the shares sum
    to `amount` exactly, and when `amount <= sum(weights)` no share exceeds its weight. With no weight at all,
    the first part takes everything."""
    if not weights:
        return []
    amount = round_cents(amount)
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


def prorate_over_capacity(amount: Decimal, capacities: list[Decimal]) -> list[Decimal]:
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
    totals_compute(order, lines, discounts, promotion)
    update_rows(OrderLineItem, lines, ["discount_total", "total", "updated_at"])
    update_rows(OrderDiscount, discounts, ["amount"])
    return order


def totals_compute(
    order: Order, lines: Sequence[OrderLineItem], discounts: Sequence[OrderDiscount], promotion: Promotion | None
) -> None:
    """The arithmetic of order_recompute_totals, in memory only: sets each line's `discount_total`, `total`
    and `updated_at`, each discount's `amount`, and the order's totals. The lines may be unsaved (a new
    order's, which are then inserted with their totals). A 400 when an amount would not fit its column."""
    # Units cancelled short (cancel_remaining) are no longer charged.
    subs = [line.unit_price * (line.quantity - line.quantity_cancelled) for line in lines]
    position = {line.pk: i for i, line in enumerate(lines) if line.pk is not None}
    subtotal = sum(subs, ZERO)
    # Before any write: the subtotal bounds every line's total, and with shipping and tax the order's.
    check_amounts_fit(
        {"subtotal": subtotal, "total": subtotal + order.shipping_amount + order.tax_amount},
        what=f"Order {order.display_number}" if order.pk else "The new order",
    )
    line_disc = [ZERO] * len(lines)
    for d in (d for d in discounts if d.line_id):
        i = position[d.line_id]
        raw = round_cents(subs[i] * d.value / HUNDRED) if d.type == DiscountType.PERCENTAGE else d.value
        d.amount = max(ZERO, min(raw, subs[i] - line_disc[i]))
        line_disc[i] += d.amount
    capacity = subtotal - sum(line_disc, ZERO)
    order_level = ZERO
    for d in (d for d in discounts if not d.line_id):
        raw = round_cents(subtotal * d.value / HUNDRED) if d.type == DiscountType.PERCENTAGE else d.value
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
            promo = min(round_cents(remaining * promotion.value / HUNDRED), remaining)
        else:
            promo = min(promotion.value, remaining)

    shares = prorate(order_level + promo, [sub - disc for sub, disc in zip(subs, line_disc, strict=True)])
    now = timezone.now()
    for line, sub, disc, share in zip(lines, subs, line_disc, shares, strict=True):
        line.discount_total = disc + share
        line.total = sub - line.discount_total
        line.updated_at = now

    order.subtotal = subtotal
    order.discount_total = sum((line.discount_total for line in lines), ZERO)
    order.promotion_discount = promo
    order.shipping_total = ZERO if free_shipping else order.shipping_amount
    order.tax_total = order.tax_amount
    order.total = order.subtotal - order.discount_total + order.shipping_total + order.tax_total
