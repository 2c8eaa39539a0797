"""Items and locations: the catalogue the stock is kept against, and the lookups the other apps use to find
an item by SKU or a location by code or id.

Nothing here changes stock (that is `inventory.services.stock`); an item or a location that has stock history
cannot be deleted, only deactivated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError, Q

from inventory.errors import ItemInUse, UnknownLocation, UnknownSku
from inventory.models import Allocation, InventoryItem, Location, StockLevel
from inventory.states import DEFAULT_LOCATION_CODE
from stateset import events
from stateset.actors import Actor
from stateset.compiled import Compiled
from stateset.errors import DomainError, ValidationFailed
from stateset.fsm import lock
from stateset.ids import as_id

# ---- lookups the other apps use ----------------------------------------------------------------------------


# Compiled once (stateset.compiled): every order create reads its location and its items.
_locations_by_code = Compiled(lambda code: Location.objects.filter(code=code))
_items_by_skus = Compiled(lambda skus: InventoryItem.objects.filter(sku__in=skus))


def default_location() -> Location:
    """MAIN. Migration 0002 creates it; it is recreated if a test run emptied the table."""
    found = _locations_by_code(DEFAULT_LOCATION_CODE)
    if len(found) == 1:
        return found[0]
    location, _ = Location.objects.get_or_create(code=DEFAULT_LOCATION_CODE, defaults={"name": "Main warehouse"})
    return location


def location_resolve(value: Location | str | int | None) -> Location:
    """A Location from itself, its code, or its id; None means MAIN."""
    if isinstance(value, Location):
        return value
    if value in (None, ""):
        return default_location()
    query = Q(code=str(value))
    if (pk := as_id(value)) is not None:
        query |= Q(pk=pk)
    location = Location.objects.filter(query).first()
    if location is None:
        raise UnknownLocation(f"Unknown location '{value}'.", errors={"location": f"unknown location '{value}'"})
    return location


def items_by_sku(skus: Iterable[str], *, required: bool = True) -> dict[str, InventoryItem]:
    """The inventory items for these SKUs in one query; unknown SKUs are a 400 naming them (when required)."""
    wanted = set(skus)
    if wanted and all(isinstance(sku, str) for sku in wanted):
        rows = _items_by_skus(tuple(sorted(wanted)))
    else:
        rows = InventoryItem.objects.filter(sku__in=wanted)
    found = {item.sku: item for item in rows}
    missing = sorted(wanted - set(found))
    if missing and required:
        raise UnknownSku(
            f"No inventory item for SKU {', '.join(missing)}.",
            errors=dict.fromkeys(missing, "no inventory item with this SKU"),
        )
    return found


# ---- items -------------------------------------------------------------------------------------------------


ITEM_FIELDS = {
    "sku",
    "upc",
    "description",
    "size",
    "color",
    "unit_cost",
    "reorder_point",
    "active",
    "arriving",
    "arrival_date",
    "delivery_date",
    "purchase_order_id",
    "restock_date",
}


def item_create(*, by: Actor, sku: str, **fields: Any) -> InventoryItem:
    """Create an item. SKUs are unique (400 otherwise). Stock comes only through movements."""
    unknown = set(fields) - ITEM_FIELDS
    if unknown:
        raise TypeError(f"item fields not known: {sorted(unknown)}")
    sku = sku.strip()
    with transaction.atomic():
        if InventoryItem.objects.filter(sku=sku).exists():
            raise ValidationFailed(f"An item with SKU '{sku}' already exists.", errors={"sku": "already exists"})
        item = InventoryItem.objects.create(sku=sku, **fields)
        events.emit(item, "create", by=by)
    return item


def item_update(*, inventory_item: InventoryItem, by: Actor, **fields: Any) -> InventoryItem:
    """Change an item's fields under its row lock; a SKU another item has is a 400. Stock is not a field here."""
    unknown = set(fields) - ITEM_FIELDS
    if unknown:
        raise TypeError(f"item fields not known: {sorted(unknown)}")
    with transaction.atomic():
        item = lock(InventoryItem, inventory_item.pk)
        new_sku = fields.get("sku", item.sku)
        if new_sku != item.sku and InventoryItem.objects.filter(sku=new_sku).exclude(pk=item.pk).exists():
            raise ValidationFailed(f"An item with SKU '{new_sku}' already exists.", errors={"sku": "exists"})
        for name, value in fields.items():
            setattr(item, name, value)
        item.save()
        events.emit(item, "update", by=by)
    return item


def item_delete(*, inventory_item: InventoryItem, by: Actor) -> None:
    """Delete an item that never moved. One with movements or allocations is a 422: deactivate it instead."""
    with transaction.atomic():
        item = lock(InventoryItem, inventory_item.pk)
        if item.movements.exists() or Allocation.objects.filter(level__item=item).exists():
            raise ItemInUse(
                f"Item {item.sku} has stock movements or allocations and cannot be deleted; set active=false instead.",
                errors={"sku": item.sku},
            )
        try:
            events.emit(item, "delete", by=by, snapshot=True)
            item.levels.all().delete()
            item.delete()
        except ProtectedError as exc:  # a document line points at it (a BOM, a purchase order, ...)
            raise ItemInUse(
                f"Item {item.sku} is used by {_referenced_by(exc)} and cannot be deleted; set active=false instead.",
                errors={"sku": item.sku},
            )


def _referenced_by(exc: ProtectedError) -> str:
    """What a refused delete is still referenced by, e.g. 'bill of materials line items, order line items'."""
    return ", ".join(sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects}))


# ---- locations ---------------------------------------------------------------------------------------------


def location_create(*, by: Actor, code: str, **fields: Any) -> Location:
    """Create a location. Codes are unique (400 otherwise)."""
    with transaction.atomic():
        if Location.objects.filter(code=code).exists():
            raise ValidationFailed(f"A location with code '{code}' already exists.", errors={"code": "exists"})
        location = Location.objects.create(code=code, **fields)
        events.emit(location, "create", by=by)
    return location


def location_update(*, location: Location, by: Actor, **fields: Any) -> Location:
    """Change a location's fields under its row lock; a code another location has is a 400."""
    with transaction.atomic():
        location = lock(Location, location.pk)
        if "code" in fields and Location.objects.filter(code=fields["code"]).exclude(pk=location.pk).exists():
            raise ValidationFailed(
                f"A location with code '{fields['code']}' already exists.", errors={"code": "exists"}
            )
        for name, value in fields.items():
            setattr(location, name, value)
        location.save()
        events.emit(location, "update", by=by)
    return location


def location_delete(*, location: Location, by: Actor) -> None:
    """Delete a location that never held stock (422 otherwise: deactivate it)."""
    with transaction.atomic():
        location = lock(Location, location.pk)
        if location.code == DEFAULT_LOCATION_CODE:
            raise DomainError("MAIN is the default location and cannot be deleted.", code="location_in_use")
        if (
            location.movements.exists()
            or StockLevel.objects.filter(location=location).exclude(on_hand=0, allocated=0, incoming=0).exists()
        ):
            raise DomainError(
                f"Location {location.code} has stock history; set active=false instead.", code="location_in_use"
            )
        try:
            events.emit(location, "delete", by=by, snapshot=True)
            StockLevel.objects.filter(location=location).delete()
            location.delete()
        except ProtectedError as exc:  # documents are kept at it (orders, purchase orders, ...)
            raise DomainError(
                f"Location {location.code} is used by {_referenced_by(exc)}; set active=false instead.",
                code="location_in_use",
            )
