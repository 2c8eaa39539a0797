"""Locking order documents (orders, wholesale orders) for a write.

One row is locked with `stateset.fsm.lock` (`SELECT ... FOR UPDATE`, then re-read). Several orders are locked
in primary-key order, the one global order every service follows: two services that lock the same orders can
never wait on each other crosswise. Stock levels are locked after the documents, by `inventory.services`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import models, transaction

from orders.models import Order
from stateset.actors import Actor
from stateset.errors import NotFound
from stateset.fsm import apply_transition, lock

Document = TypeVar("Document", bound=models.Model)


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
