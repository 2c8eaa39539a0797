"""Refunds on an order: the refund action, and the recording of a refund that the returns app also calls."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from orders.errors import RefundExceedsBalance
from orders.models import Order, Refund
from orders.services.documents import DOCUMENT, join_reasons
from stateset.actors import Actor
from stateset.errors import ValidationFailed
from stateset.fsm import apply_transition, check_transition, lock
from stateset.money import round_cents


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
    amount = round_cents(Decimal(amount))
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
        apply_transition(
            order, "refund", by=by, reason=join_reasons(f"{amount} {reference}".strip(), reason), amount=amount
        )
    refund.order = order
    return refund


def order_refund(*, order: Order, by: Actor, amount: Decimal, reason: str = "") -> Order:
    """The refund action: `order_record_refund` answering the order."""
    return order_record_refund(order=order, amount=amount, by=by, reason=reason).order
