"""What the modules of this package share: the checks of a service's input, the order a return or a claim
names, and the note a history row carries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orders.models import Order
from returns.errors import InvalidReturnInput
from stateset.actors import Actor
from stateset.errors import InvalidStateTransition, PermissionDenied, ValidationFailed
from stateset.fsm import allowed_actions
from stateset.ids import as_id


def join_notes(*parts: str) -> str:
    """The reason of a history row from its parts: the non-empty ones, joined by '; '."""
    return "; ".join(p for p in parts if p)


def check_known_fields(fields: Mapping[str, Any], allowed: set[str], what: str) -> None:
    """A field outside `allowed` is a caller's bug (TypeError), not a 400."""
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"{what} fields not known: {sorted(unknown)}")


def require_perm(by: Actor, perm: str, what: str) -> None:
    """403 unless `by` has `perm`."""
    if not by.has_perm(perm):
        raise PermissionDenied(f"Your role lacks the permission '{perm}' needed to {what}.")


def require_whole_number(value: Any, key: str, *, minimum: int = 1) -> int:
    """`value` when it is an integer (not a bool) of at least `minimum`; 400 naming `key` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationFailed(f"'{key}' must be an integer of at least {minimum}.", errors={key: f">= {minimum}"})
    return value


def check_document_number(model, field: str, number: str, *, exclude: int | None = None) -> str:
    """A client-chosen document number: unique, case-insensitively (400). Generated numbers step aside for it
    (stateset.models.NumberedModel adds a suffix)."""
    number = number.strip()
    others = model.objects.exclude(pk=exclude) if exclude else model.objects.all()
    if others.filter(**{f"{field}__iexact": number}).exists():
        raise InvalidReturnInput(f"The number '{number}' is already used.", errors={field: "already used"})
    return number


def order_resolve(value: Order | int | str, *, key: str = "order_id") -> Order:
    """An order from itself, its id, or its number (400 when there is none)."""
    if isinstance(value, Order):
        return value
    text = str(value).strip()
    order = Order.objects.filter(order_number__iexact=text).first() if text else None
    if order is None and (pk := as_id(text)) is not None:
        order = Order.objects.filter(pk=pk).first()
    if order is None:
        raise InvalidReturnInput(f"Order '{value}' does not exist.", errors={key: f"no order '{value}'"})
    return order


def require_order_status(order: Order, allowed: Sequence[str], action: str) -> None:
    """422 `invalid_state_transition` naming the order unless its status is in `allowed`."""
    if order.status not in allowed:
        raise InvalidStateTransition(
            label=f"order {order.display_number}", status=order.status, action=action, allowed=allowed_actions(order)
        )
