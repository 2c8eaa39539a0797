"""Return lines: the one rule on quantities (see the package's docstring) — `return_units_take`,
`return_units_give_back` and, as a read for forms, `return_lines_check` — what the customer paid for the units
a line returns, and building, counting and writing new lines. Shared by the returns and the order operations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from orders import services as order_services
from orders.errors import ReturnExceedsShipped
from orders.models import Order, OrderLineItem
from orders.states import RETURNABLE
from returns.errors import InvalidReturnInput
from returns.models import Return, ReturnLineItem
from returns.services.common import check_known_fields, require_order_status, require_whole_number
from returns.states import Condition, ReturnLineStatus
from stateset.actors import Actor
from stateset.ids import as_id
from stateset.money import ZERO, check_amounts_fit, round_cents

LINE_FIELDS = {
    "order_line_item",
    "shipment",
    "sku",
    "name",
    "price",
    "amount",
    "quantity",
    "condition",
    "restock",
    "reason",
    "serial_number",
    "tax_refunded",
    "flat_rate_shipping",
}
LINE_UPDATE_FIELDS = LINE_FIELDS - {"order_line_item", "sku", "shipment"}


# A line whose return was rejected or cancelled gave its units back to the order (a closed return's lines
# keep the status they had): every other line that names an order line holds units of it.
GAVE_BACK = (ReturnLineStatus.REJECTED, ReturnLineStatus.CANCELLED)


def return_units_take(
    *,
    order: Order,
    quantities: Mapping[int, int],
    by: Actor,
    reason: str = "",
    mark_returned: bool = True,
    shipments: Mapping[tuple[int, int], int] | None = None,
) -> Order:
    """Count `quantities` ({order line id: units}) as under a return. The only way any path of this app does
    it: `orders.services.order_lines_add_returned` locks the order, refuses a line not on it (400), an order
    that is not shipped or delivered (422 `invalid_state_transition`) and more than a line shipped and has
    not had returned (422 `return_exceeds_shipped`, nothing written); with `mark_returned` the order moves to
    `returned` once every shipped unit of its goods is under a return. `shipments` ({(shipment id, order line
    id): units}) counts them against the parcels they came in too (issue #18): per shipment, no more than it
    shipped and has not had returned."""
    quantities = {pk: q for pk, q in quantities.items() if q}
    if not quantities:
        return order
    return order_services.order_lines_add_returned(
        order=order, quantities=quantities, by=by, reason=reason, mark_returned=mark_returned, shipments=shipments
    )


def return_units_give_back(
    *,
    order: Order,
    quantities: Mapping[int, int],
    by: Actor,
    reason: str = "",
    shipments: Mapping[tuple[int, int], int] | None = None,
) -> Order:
    """Give units back to the order (a return rejected, cancelled, shrunk or deleted), and to their parcels:
    they can be returned again. The order's status does not change."""
    quantities = {pk: q for pk, q in quantities.items() if q}
    if not quantities:
        return order
    return order_services.order_lines_remove_returned(
        order=order, quantities=quantities, by=by, reason=reason, shipments=shipments
    )


def units_by_order_line(lines: Sequence[ReturnLineItem]) -> dict[int, int]:
    """{order line id: units} of these return lines: what they count as returned on the order."""
    units: Counter[int] = Counter()
    for line in lines:
        if line.order_line_item_id:
            units[line.order_line_item_id] += line.quantity
    return dict(units)


def units_of(lines: Sequence[ReturnLineItem]) -> dict[str, Any]:
    """The keyword arguments of return_units_take / give_back for these lines: their units per order line and,
    for lines naming the shipment they come back from, per (shipment, order line)."""
    shipments: Counter[tuple[int, int]] = Counter()
    for line in lines:
        if line.order_line_item_id and line.shipment_id:
            shipments[(line.shipment_id, line.order_line_item_id)] += line.quantity
    return {"quantities": units_by_order_line(lines), "shipments": dict(shipments)}


def paid_unit_price(line: OrderLineItem) -> Decimal:
    """What the customer paid for one unit of an order line, to the cent: its total (after discounts) /
    quantity. A return line shows it as its `price`; its default amount is `paid_share`, not price × units
    (6.67 × 3 would be 20.01 for a line that cost 20.00)."""
    return round_cents(line.total / line.quantity) if line.quantity else line.unit_price


def paid_share(line: OrderLineItem, *, before: int, quantity: int, others: Decimal) -> Decimal:
    """What the customer paid for `quantity` units of an order line that come after the `before` units under its earlier
    return lines: round_cents(total × (before + quantity) / n) − round_cents(total × before / n), the total being the
    line's after discounts. The shares of one order line's returns add up to exactly its total however the units are
    split (20.00 for 3: 6.67, 6.66, 6.67), so a full return is refundable at its default amount and no cent of shipping
    or of another line goes with it. Never more than what is left of the total after `others` (the amounts of the other
    lines holding units of it: a return cancelled between two others frees a share that a later one would overlap by a
    cent), nor less than zero."""
    if not line.quantity:
        return round_cents(line.unit_price * quantity)
    total = line.total
    share = round_cents(total * (before + quantity) / line.quantity) - round_cents(total * before / line.quantity)
    return max(min(share, total - others), ZERO)


def lines_holding_units(order_line_ids: Iterable[int]) -> list[tuple[int, int, int, Decimal]]:
    """(pk, order line, quantity, amount) of the return lines that hold units of these order lines."""
    rows = ReturnLineItem.objects.filter(order_line_item_id__in=list(order_line_ids)).exclude(status__in=GAVE_BACK)
    return list(rows.order_by("pk").values_list("pk", "order_line_item_id", "quantity", "amount"))


def set_default_amounts(rows: Sequence[ReturnLineItem]) -> None:
    """Give each new line without an amount (neither `amount` nor `price` was given) its `paid_share`: its
    units come after those of every line already holding units of its order line (all earlier) and of the
    new lines before it. Computed once, under the order's lock (after `return_units_take`), and stored: a
    later return does not change it."""
    ids = {row.order_line_item_id for row in rows if row.amount is None}
    if not ids:
        return
    held: dict[int, tuple[int, Decimal]] = dict.fromkeys(ids, (0, ZERO))
    for _, line_id, quantity, amount in lines_holding_units(ids):
        units, total = held[line_id]
        held[line_id] = (units + quantity, total + amount)
    for row in rows:
        if row.order_line_item_id not in held:
            continue
        units, total = held[row.order_line_item_id]
        if row.amount is None:
            row.amount = paid_share(row.order_line_item, before=units, quantity=row.quantity, others=total)
        held[row.order_line_item_id] = (units + row.quantity, total + row.amount)


def line_paid_share(row: ReturnLineItem) -> Decimal:
    """`paid_share` of an existing line (its quantity changed): its units come after those of the lines
    before it (by id) that hold units of its order line, as when it was created."""
    before, others = 0, ZERO
    for pk, _, quantity, amount in lines_holding_units([row.order_line_item_id]):
        if pk == row.pk:
            continue
        others += amount
        if pk < row.pk:
            before += quantity
    return paid_share(row.order_line_item, before=before, quantity=row.quantity, others=others)


def order_lines_by_id(order: Order) -> dict[int, OrderLineItem]:
    """The order's lines by id, with their items."""
    return {line.pk: line for line in OrderLineItem.objects.filter(order=order).select_related("item").order_by("pk")}


def resolve_order_line(order: Order, lines: Mapping[int, OrderLineItem], spec: Mapping[str, Any]) -> OrderLineItem:
    """The order line a return line returns: `order_line_item` (an id), else the one line of the order with
    `sku` (400 when none or several carry it)."""
    ref = spec.get("order_line_item")
    sku = str(spec.get("sku") or "").strip()
    if ref is not None:
        pk = ref.pk if isinstance(ref, OrderLineItem) else ref
        line = lines.get(as_id(pk))
        if line is None:
            raise InvalidReturnInput(
                f"Line {pk} is not on order {order.display_number}.", errors={"order_line_item": f"no line {pk} here"}
            )
        if sku and sku != line.sku:
            raise InvalidReturnInput(
                f"Line {line.pk} of order {order.display_number} is {line.sku}, not {sku}.",
                errors={"sku": f"line {line.pk} is {line.sku}"},
            )
        return line
    if not sku:
        raise InvalidReturnInput(
            "Each return line names the order line it returns ('order_line_item') or its 'sku'.",
            errors={"order_line_item": "required (or sku)"},
        )
    matches = [line for line in lines.values() if line.sku == sku]
    if not matches:
        raise InvalidReturnInput(f"SKU {sku} is not on order {order.display_number}.", errors={"sku": "not on order"})
    if len(matches) > 1:
        raise InvalidReturnInput(
            f"SKU {sku} is on several lines of order {order.display_number} "
            f"({', '.join(str(m.pk) for m in matches)}); name the line with 'order_line_item'.",
            errors={"order_line_item": "required: the SKU is on several lines"},
        )
    return matches[0]


def build_return_line(ret: Return, order_line: OrderLineItem, spec: Mapping[str, Any]) -> ReturnLineItem:
    """An unsaved return line (requested) for `order_line` from a line spec, its money rounded to the cent."""
    quantity = require_whole_number(spec.get("quantity"), "quantity")
    price = round_cents(spec["price"]) if spec.get("price") is not None else paid_unit_price(order_line)
    amount = None  # what was paid for these units: `set_default_amounts`, once the units are counted
    if spec.get("amount") is not None:
        amount = round_cents(spec["amount"])
    elif spec.get("price") is not None:
        amount = round_cents(price * quantity)
    check_amounts_fit({"amount": amount}, what="A return line")
    shipment = spec.get("shipment")
    return ReturnLineItem(
        parent_return=ret,
        order_line_item=order_line,
        shipment_id=(shipment.pk if hasattr(shipment, "pk") else as_id(shipment)) if shipment is not None else None,
        sku=order_line.sku,
        name=(spec.get("name") or order_line.product_name or order_line.sku)[:255],
        price=price,
        amount=amount,
        quantity=quantity,
        condition=spec.get("condition") or Condition.NEW,
        restock=spec.get("restock", True),
        reason=spec.get("reason") or "",
        serial_number=spec.get("serial_number") or "",
        tax_refunded=round_cents(spec.get("tax_refunded") or ZERO),
        flat_rate_shipping=round_cents(spec.get("flat_rate_shipping") or ZERO),
        status=ReturnLineStatus.REQUESTED,
    )


def add_return_lines(
    ret: Return, specs: Sequence[Mapping[str, Any]], *, by: Actor, mark_returned: bool = True
) -> list[ReturnLineItem]:
    """Resolve and count the units of new lines (the one rule), then write them."""
    for spec in specs:
        check_known_fields(spec, LINE_FIELDS, "return line")
    lines = order_lines_by_id(ret.order)
    rows = [build_return_line(ret, resolve_order_line(ret.order, lines, spec), spec) for spec in specs]
    summary = ", ".join(f"{row.quantity} x {row.sku}" for row in rows)
    return_units_take(
        order=ret.order,
        **units_of(rows),
        by=by,
        reason=f"{ret.rma}: {summary}",
        mark_returned=mark_returned,
    )
    set_default_amounts(rows)
    return ReturnLineItem.objects.bulk_create(rows)


def lines_of_return(ret: Return) -> list[ReturnLineItem]:
    """A return's lines. They change only under their return's row lock, which the caller holds."""
    return list(ReturnLineItem.objects.filter(parent_return=ret).select_related("order_line_item__item").order_by("pk"))


def recompute_return_amount(ret: Return) -> None:
    """Set the return's amount to the sum of its lines' (400 when past what the column holds); not saved."""
    ret.amount = sum((line.amount for line in ReturnLineItem.objects.filter(parent_return=ret)), ZERO)
    check_amounts_fit({"amount": ret.amount}, what="A return")


def return_lines_check(
    *, order: Order, lines: Sequence[Mapping[str, Any]], holding: Sequence[ReturnLineItem] = ()
) -> None:
    """The one rule as a read, for forms (the admin's inline shows it before saving): raise what the services
    would raise if a return of `order` had exactly `lines`, where `holding` are the lines whose units the
    return already counts (they are room for its new quantities). The services check again under the lock."""
    order_lines = order_lines_by_id(order)
    wanted: Counter[int] = Counter()
    for spec in lines:
        wanted[resolve_order_line(order, order_lines, spec).pk] += require_whole_number(
            spec.get("quantity"), "quantity"
        )
    held = units_by_order_line(holding)
    if any(quantity > held.get(pk, 0) for pk, quantity in wanted.items()):
        require_order_status(order, RETURNABLE, "return")
    errors = {}
    for pk, quantity in wanted.items():
        line = order_lines[pk]
        room = line.quantity_returnable + held.get(pk, 0)
        if quantity > room:
            errors[str(pk)] = f"{line.sku}: {quantity} requested, {room} shipped and not yet returned"
    if errors:
        raise ReturnExceedsShipped(
            f"Cannot return more than was shipped and not yet returned: {'; '.join(errors.values())}.", errors=errors
        )
