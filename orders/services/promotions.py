"""Promotions: their definitions, and applying one to an order or taking it off, which counts its uses.

A promotion's use is counted by one conditional UPDATE, never read-then-written, so concurrent orders can
never take more uses than its `usage_limit` (a CHECK constraint guards it too).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, ProtectedError, Q
from django.utils import timezone

from orders.errors import PromotionInUse, PromotionNotApplicable
from orders.models import Order, Promotion
from orders.services.pricing import HUNDRED, order_recompute_totals
from orders.states import PromotionType
from stateset import events
from stateset.actors import Actor
from stateset.errors import ValidationFailed
from stateset.fsm import apply_transition, check_transition, lock

# ======================================================================================================
# On an order
# ======================================================================================================


def _promotion_find(promotion_id: int | None, code: str | None) -> Promotion:
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
        promotion = _promotion_find(promotion_id, code)
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
# Definitions
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


def _promotion_check(promotion: Promotion) -> None:
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
        _promotion_check(promotion)
        promotion.save()
        events.emit(promotion, "create", by=by)
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
        _promotion_check(promotion)
        promotion.save()
        events.emit(promotion, "update", by=by)
    return promotion


def promotion_delete(*, promotion: Promotion, by: Actor) -> None:
    """Delete a promotion no order used (422 `promotion_in_use` otherwise: deactivate it instead)."""
    with transaction.atomic():
        promotion = lock(Promotion, promotion.pk)
        try:
            events.emit(promotion, "delete", by=by, snapshot=True)
            promotion.delete()
        except ProtectedError:
            raise PromotionInUse(
                f"Promotion {promotion.code} is on orders; set active=false instead.", errors={"code": promotion.code}
            )
