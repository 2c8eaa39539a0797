"""Order lines: the validated input of a new line, building and allocating lines, finding a line on an order,
and the one rule for when two lines are the same line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from inventory import services as inv
from inventory.models import InventoryItem
from orders.errors import InvalidOrderInput
from orders.models import Order, OrderLineItem
from orders.services.documents import DOCUMENT, items_for_skus
from orders.states import LineStatus
from stateset.actors import Actor
from stateset.compiled import Compiled
from stateset.money import round_cents


def line_ref(line: OrderLineItem) -> inv.LineRef:
    """The line as the stock ledger names it (its allocations hang on this reference)."""
    return inv.LineRef(DOCUMENT, line.order_id, line.pk)


def order_lines(order: Order) -> list[OrderLineItem]:
    """The order's lines, fresh from the database, in primary-key order."""
    return _lines_of_order(order.pk)


# Compiled once (stateset.compiled): every ship and cancel reads the order's lines.
_lines_of_order = Compiled(lambda order_id: OrderLineItem.objects.filter(order_id=order_id).order_by("pk"))


def line_on_order(order: Order, line_id: int, *, key: str = "order_item_id") -> OrderLineItem:
    """The line `line_id` of `order`; a line of another order, or none, is a 400 under `key`."""
    line = OrderLineItem.objects.filter(order=order, pk=line_id).first()
    if line is None:
        raise InvalidOrderInput(
            f"Line {line_id} is not on order {order.display_number}.", errors={key: f"no line {line_id} here"}
        )
    return line


def lines_combine(line: OrderLineItem, other: OrderLineItem) -> bool:
    """Whether `other`'s quantity can join `line` rather than become a line of its own: `line` is still open,
    and both are the same SKU at the same unit price, from the same inventory item, with the same need for
    stock. Adding an item and merging orders both ask this, so a line grows under one rule.

    The inventory item counts as well as the SKU: an item's SKU can change, and a line keeps the item it was
    allocated from, so two lines of one SKU may hold stock of different items and must stay apart."""
    return (
        line.sku == other.sku
        and line.unit_price == other.unit_price
        and line.requires_inventory == other.requires_inventory
        and line.item_id == other.item_id
        and line.status == LineStatus.OPEN
    )


@dataclass
class LineSpec:
    """A line to create: the validated input of `order_line_items`, `items` or `add_item`."""

    sku: str
    quantity: int
    unit_price: Decimal | None = None
    product_name: str = ""
    original_price: Decimal | None = None
    requires_inventory: bool = True
    # Where this line is allocated (issue #18); None: the order's location.
    location: Any = None

    @classmethod
    def of(cls, data: Mapping[str, Any] | LineSpec) -> LineSpec:
        if isinstance(data, LineSpec):
            return data
        return cls(**{k: v for k, v in data.items() if v is not None or k in ("unit_price", "original_price")})


def lines_build(
    order: Order, specs: Sequence[LineSpec], *, default_prices: Mapping[str, Decimal] | None = None
) -> list[tuple[OrderLineItem, InventoryItem | None]]:
    """Unsaved lines for `order` with their inventory items. 422 for unknown SKUs, 400 for a missing price."""
    items = items_for_skus(s.sku for s in specs if s.requires_inventory)
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
            unit_price=round_cents(price),
            original_price=round_cents(spec.original_price) if spec.original_price is not None else round_cents(price),
            requires_inventory=spec.requires_inventory,
        )
        built.append((line, item))
    return built


ALLOCATION_RULES = ("order_location", "any_location")


def lines_allocate(
    order: Order,
    lines: Sequence[tuple[OrderLineItem, InventoryItem | None]],
    *,
    by: Actor,
    new_lines: bool = False,
    locations: Sequence[Any] | None = None,
    allocation: str = "order_location",
) -> None:
    """Allocate each stocked line's quantity at its location (`locations`, one per line, None for the
    order's) or, with `allocation="any_location"`, there first and then at the other active locations,
    most available first (`inventory.services.stock_allocate_any`). All or none; see stock_allocate.
    `new_lines`: the lines were inserted in this transaction and hold nothing yet."""
    locations = locations or [None] * len(lines)
    requests = [
        inv.StockRequest(item, where or order.location, line.quantity, line_ref(line))
        for (line, item), where in zip(lines, locations, strict=True)
        if line.requires_inventory
    ]
    if allocation == "any_location":
        inv.stock_allocate_any(requests=requests, by=by, new_lines=new_lines)
    else:
        inv.stock_allocate(requests=requests, by=by, new_lines=new_lines)
