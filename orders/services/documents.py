"""What orders and wholesale orders share: their document names in the stock ledger, client-chosen numbers,
the customer an order is for, the inventory items behind SKUs, and how history reasons are joined."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crm.models import Customer
from crm.services import customer_get_or_create
from inventory import services as inv
from inventory.models import InventoryItem
from orders.errors import InvalidOrderInput, UnknownSku
from stateset.actors import Actor

# The document types in the stock ledger's line references (`inventory.services.LineRef`).
DOCUMENT = "order"
WHOLESALE_DOCUMENT = "wholesale_order"


def join_reasons(*parts: str) -> str:
    """The non-empty parts of a history reason, joined with '; '."""
    return "; ".join(p for p in parts if p)


def items_for_skus(skus: Iterable[str]) -> dict[str, InventoryItem]:
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


def document_number_check(model, number: str, *, exclude: int | None = None) -> str:
    """A client-chosen number: unique, case-insensitively (400). Generated numbers step aside for it
    (stateset.models.NumberedModel adds a suffix)."""
    number = number.strip()
    others = model.objects.exclude(pk=exclude) if exclude else model.objects.all()
    if others.filter(order_number__iexact=number).exists():
        raise InvalidOrderInput(f"The number '{number}' is already used.", errors={"order_number": "already used"})
    return number


def customer_resolve(customer: Customer | Mapping[str, Any] | None, email: str, *, by: Actor) -> Customer | None:
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
