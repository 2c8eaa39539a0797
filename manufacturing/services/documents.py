"""What the manufacturing services share: client-given document numbers, lookups of documents by number or
id and of items by SKU, field checks, and the wording of history rows (as orders and returns word them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Q

from inventory import services as inv
from inventory.models import InventoryItem
from manufacturing.errors import DuplicateNumber
from stateset.actors import Actor
from stateset.errors import ValidationFailed
from stateset.ids import as_id


def actor_name(by: Actor) -> str:
    """Who did it, as a work order's `created_by` stores it: the username, else the actor's label."""
    return by.user.get_username() if by.user else by.label


def changed_reason(names: Iterable[str]) -> str:
    """The reason of an `update` history row, as orders and returns word it: the fields given."""
    return f"changed {', '.join(sorted(names)) or 'nothing'}"


def count_of_lines(n: int) -> str:
    """ "1 line", "3 lines": for the reason of a `create` history row."""
    return f"{n} line{'' if n == 1 else 's'}"


def line_changed_reason(pk: int, names: Iterable[str]) -> str:
    """The reason of a `change_line` history row: "line 12: quantity"."""
    return f"line {pk}: {', '.join(sorted(names)) or 'nothing'}"


def positive_int(value: Any, name: str) -> int:
    """`value` if it is an integer (not a bool) above zero; a 400 naming `name` otherwise."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValidationFailed(f"'{name}' must be a positive integer.", errors={name: "must be a positive integer"})
    return value


def check_fields(fields: Mapping[str, Any], allowed: Iterable[str], kind: str) -> None:
    """A field the service does not know is a programming error (TypeError), never silently dropped."""
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"{kind} fields not known: {sorted(unknown)}")


def unique_number(model: type, number: str | None, *, field: str = "number") -> str | None:
    """A client-given document number, stripped; 400 if another document of the kind has it."""
    if number is None:
        return None
    number = number.strip()
    if not number:
        return None
    if model._default_manager.filter(**{f"{field}__iexact": number}).exists():
        raise DuplicateNumber(f"The number '{number}' is already used.", errors={field: "already used"})
    return number


def item_by_sku(sku: str, field: str) -> InventoryItem:
    """The item with this SKU; an unknown one is a 400 reported against `field`."""
    try:
        return inv.items_by_sku([sku.strip()])[sku.strip()]
    except ValidationFailed as exc:
        exc.errors = {field: exc.message}
        raise


def items_by_sku(skus: Iterable[str]) -> dict[str, InventoryItem]:
    """Items for these SKUs in one query; unknown SKUs are a 400 `unknown_sku` naming each one."""
    return inv.items_by_sku({sku.strip() for sku in skus})


def document_resolve(model: type, value: Any, field: str) -> Any:
    """A document from itself, its number, or its id (a number wins over an id of the same digits)."""
    if isinstance(value, model):
        return value
    text = str(value).strip()
    query = Q(number__iexact=text)
    found = model._default_manager.filter(query).first()
    if found is None and (pk := as_id(text)) is not None:
        found = model._default_manager.filter(pk=pk).first()
    if found is None:
        label = model._meta.verbose_name
        raise ValidationFailed(f"No {label} '{text}'.", errors={field: f"no {label} '{text}'"}, code="unknown_document")
    return found
