"""Locking order documents (orders, wholesale orders) for a write.

One row is locked with `stateset.fsm.lock` (`SELECT ... FOR UPDATE`, then re-read). Several orders are locked
in primary-key order, the one global order every service follows: two services that lock the same orders can
never wait on each other crosswise. Stock levels are locked after the documents, by `inventory.services`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import models, transaction
from django.db.models import Exists, OuterRef

from orders.models import Order, OrderDiscount, OrderTag, Refund, Shipment
from stateset import events
from stateset.actors import Actor
from stateset.compiled import Compiled
from stateset.errors import NotFound
from stateset.fsm import apply_transition, lock
from stateset.prefetch import prefetched

Document = TypeVar("Document", bound=models.Model)


# The related sets an order is rendered with, besides its lines (orders.selectors.order_list).
RENDERED_SETS = {"discounts": OrderDiscount, "tags": OrderTag, "refunds": Refund, "shipments": Shipment}


def _order_lock_queryset(pk: int) -> models.QuerySet[Order]:
    return (
        Order.objects.select_related("customer", "location", "promotion")
        .annotate(
            **{
                f"has_{name}": Exists(model.objects.filter(order=OuterRef("pk")))
                for name, model in RENDERED_SETS.items()
            }
        )
        .select_for_update(of=("self",))
        .filter(pk=pk)
    )


_order_lock = Compiled(_order_lock_queryset)  # compiled once: the statement is long (stateset.compiled)


def order_lock(pk: int) -> Order:
    """Lock one order (its row only) and read it with its customer, location and promotion, and with the
    related sets it is rendered with that are empty already known: the same statement asks which of them
    have rows, so an answer rendered from this order reads only the sets that do."""
    if not isinstance(pk, int):
        order = lock(Order, pk, queryset=_order_lock_queryset(pk))
    else:
        found = _order_lock(pk)
        if not found:
            raise NotFound(f"{Order._meta.verbose_name.capitalize()} {pk} does not exist.")
        order = found[0]
        events.remember(order)  # as stateset.fsm.lock does: for the event's previous_attributes
    return prefetched(order, **{name: () for name in RENDERED_SETS if not getattr(order, f"has_{name}")})


def lock_orders(pks: Iterable[int]) -> dict[int, Order]:
    """Lock several orders in primary-key order (two merges can never wait on each other crosswise)."""
    pks = sorted(set(pks))
    orders = {o.pk: o for o in Order.objects.select_for_update().filter(pk__in=pks).order_by("pk")}
    missing = [pk for pk in pks if pk not in orders]
    if missing:
        raise NotFound(f"Order {', '.join(map(str, missing))} does not exist.", errors={"order_ids": missing})
    return orders


def transition_locked(document: Document, name: str, *, by: Actor, reason: str = "", **kwargs: Any) -> Document:
    """A transition with no effect beyond its own row: lock and re-read the document, then apply the
    transition (which checks permission and status, saves, and writes the audit row), in one transaction."""
    with transaction.atomic():
        document = lock(type(document), document.pk)
        apply_transition(document, name, by=by, reason=reason, **kwargs)
    return document
