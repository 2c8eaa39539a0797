"""Every write to returns and warranties, and the two order operations this app serves (`return`, `exchange`).
Views, the admin, commands and the demo call these.

Each service is one transaction that locks its document first (a return, then its order; a warranty, then
its orders), checks the transition (permission: 403; status: 422 `invalid_state_transition`) before any
effect, and reaches the other apps only through their services:

- `orders.services` counts units as returned and gives them back (`order_lines_add_returned` /
  `order_lines_remove_returned`), records refunds within the order's balance (`order_record_refund`), makes
  replacement orders (`order_create_replacement`) and marks an order exchanged;
- `inventory.services.stock_receive` puts restocked goods back on hand (ledger `return_restock`).

**The one rule on quantities.** A return's lines count as returned on the order's lines from the moment
they exist until the return is rejected or cancelled, and again once it is reopened. Every path that
creates or grows a line — `return_create` (API, admin), `return_line_item_create` / `_update` (the line
resource, the admin inline), `order_return` and `order_exchange` (the order actions), `return_reopen` —
counts the units through `return_units_take`, which calls `orders.services.order_lines_add_returned`:
under the order's row lock, more than the line shipped and has not had returned is a 422
`return_exceeds_shipped` and nothing is written. So two returns racing for the last unit have one winner.

A refusal raises before anything is written or rolls the whole transaction back: nothing half-done.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from crm.models import Customer
from inventory import services as inv
from inventory.states import MovementReason
from orders import services as order_services
from orders.errors import ReturnExceedsShipped
from orders.models import Order, OrderLineItem
from orders.states import CANCELLABLE as ORDER_CANCELLABLE
from orders.states import EXCHANGEABLE, RETURNABLE, OrderStatus
from returns.errors import (
    InvalidReturnInput,
    NothingToRefund,
    OverReceipt,
    ReplacementNotPossible,
    ReplacementShipped,
    ReturnEmpty,
    ReturnNotDeletable,
    ReturnNotEditable,
    WarrantyNotDeletable,
    WarrantyNotEditable,
)
from returns.models import Return, ReturnLineItem, Warranty, WarrantyLineItem
from returns.states import (
    RESTOCKABLE_CONDITIONS,
    RETURN_DELETABLE,
    RETURN_FEE_EDITABLE,
    RETURN_HOLDS_UNITS,
    RETURN_LINES_EDITABLE,
    RETURN_LOCATION_EDITABLE,
    WARRANTY_AWAITING_WORDS,
    WARRANTY_DELETABLE,
    WARRANTY_LINES_EDITABLE,
    WARRANTY_STATUS_WORDS,
    Condition,
    ReturnLineStatus,
    WarrantyStatus,
)
from stateset.actors import Actor
from stateset.errors import InvalidStateTransition, PermissionDenied, ValidationFailed
from stateset.fsm import allowed_actions, apply_transition, check_transition, lock, log_event
from stateset.ids import as_id
from stateset.money import ZERO, check_amounts_fit, round_cents

DOCUMENT = "return"


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _check_fields(fields: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"{what} fields not known: {sorted(unknown)}")


def _require_perm(by: Actor, perm: str, what: str) -> None:
    if not by.has_perm(perm):
        raise PermissionDenied(f"Your role lacks the permission '{perm}' needed to {what}.")


def _whole(value: Any, key: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationFailed(f"'{key}' must be an integer of at least {minimum}.", errors={key: f">= {minimum}"})
    return value


def _check_number(model, field: str, number: str, *, exclude: int | None = None) -> str:
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


def _require_order_status(order: Order, allowed: Sequence[str], action: str) -> None:
    if order.status not in allowed:
        raise InvalidStateTransition(
            label=f"order {order.display_number}", status=order.status, action=action, allowed=allowed_actions(order)
        )


# ======================================================================================================
# The one rule on quantities
# ======================================================================================================


def return_units_take(
    *, order: Order, quantities: Mapping[int, int], by: Actor, reason: str = "", mark_returned: bool = True
) -> Order:
    """Count `quantities` ({order line id: units}) as under a return. The only way any path of this app does
    it: `orders.services.order_lines_add_returned` locks the order, refuses a line not on it (400), an order
    that is not shipped or delivered (422 `invalid_state_transition`) and more than a line shipped and has
    not had returned (422 `return_exceeds_shipped`, nothing written); with `mark_returned` the order moves to
    `returned` once every shipped unit of its goods is under a return."""
    quantities = {pk: q for pk, q in quantities.items() if q}
    if not quantities:
        return order
    return order_services.order_lines_add_returned(
        order=order, quantities=quantities, by=by, reason=reason, mark_returned=mark_returned
    )


def return_units_give_back(*, order: Order, quantities: Mapping[int, int], by: Actor, reason: str = "") -> Order:
    """Give units back to the order (a return rejected, cancelled, shrunk or deleted): they can be returned
    again. The order's status does not change."""
    quantities = {pk: q for pk, q in quantities.items() if q}
    if not quantities:
        return order
    return order_services.order_lines_remove_returned(order=order, quantities=quantities, by=by, reason=reason)


def _units(lines: Sequence[ReturnLineItem]) -> dict[int, int]:
    units: Counter[int] = Counter()
    for line in lines:
        if line.order_line_item_id:
            units[line.order_line_item_id] += line.quantity
    return dict(units)


# ======================================================================================================
# Returns: create, update, delete, lines
# ======================================================================================================

RETURN_FIELDS = {
    "customer_email",
    "entered_by",
    "description",
    "issue",
    "reason_category",
    "reported_condition",
    "condition",
    "action_needed",
    "tracking_number",
    "zendesk_number",
    "fedex_status",
    "serial_number",
    "scanned_serial_number",
    "match",
    "country",
    "sso_id",
    "workflow_id",
    "flat_rate_shipping",
    "tax_refunded",
    "created_date",
    "order_date",
    "shipped_date",
    "requested_date",
    "warehouse_condition_date",
    "restocking_fee",
}
RETURN_UPDATE_FIELDS = RETURN_FIELDS | {"location"}
LINE_FIELDS = {
    "order_line_item",
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
LINE_UPDATE_FIELDS = LINE_FIELDS - {"order_line_item", "sku"}


# A line whose return was rejected or cancelled gave its units back to the order (a closed return's lines
# keep the status they had): every other line that names an order line holds units of it.
GAVE_BACK = (ReturnLineStatus.REJECTED, ReturnLineStatus.CANCELLED)


def _paid_unit_price(line: OrderLineItem) -> Decimal:
    """What the customer paid for one unit of an order line, to the cent: its total (after discounts) /
    quantity. A return line shows it as its `price`; its default amount is `_paid_share`, not price × units
    (6.67 × 3 would be 20.01 for a line that cost 20.00)."""
    return round_cents(line.total / line.quantity) if line.quantity else line.unit_price


def _paid_share(line: OrderLineItem, *, before: int, quantity: int, others: Decimal) -> Decimal:
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


def _holding(order_line_ids: Iterable[int]) -> list[tuple[int, int, int, Decimal]]:
    """(pk, order line, quantity, amount) of the return lines that hold units of these order lines."""
    rows = ReturnLineItem.objects.filter(order_line_item_id__in=list(order_line_ids)).exclude(status__in=GAVE_BACK)
    return list(rows.order_by("pk").values_list("pk", "order_line_item_id", "quantity", "amount"))


def _default_amounts(rows: Sequence[ReturnLineItem]) -> None:
    """Give each new line without an amount (neither `amount` nor `price` was given) its `_paid_share`: its
    units come after those of every line already holding units of its order line (all earlier) and of the
    new lines before it. Computed once, under the order's lock (after `return_units_take`), and stored: a
    later return does not change it."""
    ids = {row.order_line_item_id for row in rows if row.amount is None}
    if not ids:
        return
    held: dict[int, tuple[int, Decimal]] = dict.fromkeys(ids, (0, ZERO))
    for _, line_id, quantity, amount in _holding(ids):
        units, total = held[line_id]
        held[line_id] = (units + quantity, total + amount)
    for row in rows:
        if row.order_line_item_id not in held:
            continue
        units, total = held[row.order_line_item_id]
        if row.amount is None:
            row.amount = _paid_share(row.order_line_item, before=units, quantity=row.quantity, others=total)
        held[row.order_line_item_id] = (units + row.quantity, total + row.amount)


def _line_share(row: ReturnLineItem) -> Decimal:
    """`_paid_share` of an existing line (its quantity changed): its units come after those of the lines
    before it (by id) that hold units of its order line, as when it was created."""
    before, others = 0, ZERO
    for pk, _, quantity, amount in _holding([row.order_line_item_id]):
        if pk == row.pk:
            continue
        others += amount
        if pk < row.pk:
            before += quantity
    return _paid_share(row.order_line_item, before=before, quantity=row.quantity, others=others)


def _order_lines(order: Order) -> dict[int, OrderLineItem]:
    return {line.pk: line for line in OrderLineItem.objects.filter(order=order).select_related("item").order_by("pk")}


def _resolve_order_line(order: Order, lines: Mapping[int, OrderLineItem], spec: Mapping[str, Any]) -> OrderLineItem:
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


def _build_line(ret: Return, order_line: OrderLineItem, spec: Mapping[str, Any]) -> ReturnLineItem:
    quantity = _whole(spec.get("quantity"), "quantity")
    price = round_cents(spec["price"]) if spec.get("price") is not None else _paid_unit_price(order_line)
    amount = None  # what was paid for these units: `_default_amounts`, once the units are counted
    if spec.get("amount") is not None:
        amount = round_cents(spec["amount"])
    elif spec.get("price") is not None:
        amount = round_cents(price * quantity)
    check_amounts_fit({"amount": amount}, what="A return line")
    return ReturnLineItem(
        parent_return=ret,
        order_line_item=order_line,
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


def _add_lines(
    ret: Return, specs: Sequence[Mapping[str, Any]], *, by: Actor, mark_returned: bool = True
) -> list[ReturnLineItem]:
    """Resolve and count the units of new lines (the one rule), then write them."""
    for spec in specs:
        _check_fields(spec, LINE_FIELDS, "return line")
    lines = _order_lines(ret.order)
    rows = [_build_line(ret, _resolve_order_line(ret.order, lines, spec), spec) for spec in specs]
    summary = ", ".join(f"{row.quantity} x {row.sku}" for row in rows)
    return_units_take(
        order=ret.order, quantities=_units(rows), by=by, reason=f"{ret.rma}: {summary}", mark_returned=mark_returned
    )
    _default_amounts(rows)
    return ReturnLineItem.objects.bulk_create(rows)


def _return_lines(ret: Return) -> list[ReturnLineItem]:
    """A return's lines. They change only under their return's row lock, which the caller holds."""
    return list(ReturnLineItem.objects.filter(parent_return=ret).select_related("order_line_item__item").order_by("pk"))


def _recompute(ret: Return) -> None:
    ret.amount = sum((line.amount for line in ReturnLineItem.objects.filter(parent_return=ret)), ZERO)
    check_amounts_fit({"amount": ret.amount}, what="A return")


def return_create(
    *,
    by: Actor,
    order: Order | int | str,
    return_line_items: Sequence[Mapping[str, Any]] = (),
    customer: Customer | None = None,
    location: Any = None,
    rma: str | None = None,
    mark_returned: bool = True,
    reason: str = "",
    **fields: Any,
) -> Return:
    """A return (status requested) for goods of a shipped or delivered order (422 otherwise), with its lines
    counted as returned on the order in the same transaction (the one rule: above what a line shipped and
    has not had returned is a 422 `return_exceeds_shipped`, and nothing is created). A line names its order
    line (`order_line_item`) or a SKU on the order; its `price` defaults to what was paid per unit (to the
    cent) and its `amount` to what was paid for its units (`_paid_share`: the amounts of one order line's
    returns add up to exactly its total), or price × quantity when a price is given. Defaults: the order's
    customer, location (where restocked goods go) and email; `order_date` and `shipped_date` from the order.
    The RMA number is the client's (unique) or generated (`RMA-000042`). With `mark_returned` the order
    moves to `returned` once every shipped unit is under a return."""
    _check_fields(fields, RETURN_FIELDS, "return")
    with transaction.atomic():
        order = lock(Order, order_resolve(order).pk)
        _require_order_status(order, RETURNABLE, "return")
        number = _check_number(Return, "rma", rma) if rma else None
        for name in ("restocking_fee", "flat_rate_shipping", "tax_refunded"):
            if fields.get(name) is not None:
                fields[name] = round_cents(fields[name])
        customer = customer or order.customer
        fields.setdefault("customer_email", (customer.email if customer else "") or order.customer_email)
        fields.setdefault("order_date", order.created_at)
        fields.setdefault("shipped_date", order.shipped_at)
        ret = Return.objects.create(
            rma=number,
            order=order,
            customer=customer,
            location=inv.location_resolve(location) if location not in (None, "") else order.location,
            **fields,
        )
        ret.assign_number()
        _add_lines(ret, return_line_items, by=by, mark_returned=mark_returned)
        _recompute(ret)
        ret.save()
        log_event(ret, "create", by=by, reason=_join(reason, f"for order {order.display_number}"))
    return ret


def return_update(*, return_: Return, by: Actor, reason: str = "", **fields: Any) -> Return:
    """Header fields, in any status, except: `location` (where restocked goods go) until the goods are
    received, `restocking_fee` until the refund (422 `return_not_editable`). The order, customer and lines
    do not change here (lines: the return line items resource)."""
    _check_fields(fields, RETURN_UPDATE_FIELDS, "return")
    with transaction.atomic():
        ret = lock(Return, return_.pk)
        if "location" in fields:
            fields["location"] = inv.location_resolve(fields["location"])
            if fields["location"].pk != ret.location_id and ret.status not in RETURN_LOCATION_EDITABLE:
                raise ReturnNotEditable(
                    f"Return {ret.display_number} is {ret.status}: its location changes only before the goods arrive.",
                    errors={"location": f"fixed once {ret.status}"},
                )
        if "restocking_fee" in fields:
            fields["restocking_fee"] = round_cents(fields["restocking_fee"])
            if fields["restocking_fee"] != ret.restocking_fee and ret.status not in RETURN_FEE_EDITABLE:
                raise ReturnNotEditable(
                    f"Return {ret.display_number} is {ret.status}: its restocking fee changes only before the refund.",
                    errors={"restocking_fee": f"fixed once {ret.status}"},
                )
        for name, value in fields.items():
            setattr(ret, name, value)
        changed = ", ".join(sorted(fields)) or "nothing"
        apply_transition(ret, "update", by=by, reason=_join(reason, f"changed {changed}"))
    return ret


def return_delete(*, return_: Return, by: Actor) -> None:
    """Delete a return that moved nothing: requested (its units go back to the order), rejected or cancelled.
    Later statuses are a 422 `return_not_deletable` (cancel or close it instead)."""
    with transaction.atomic():
        ret = lock(Return, return_.pk)
        if ret.status not in RETURN_DELETABLE:
            raise ReturnNotDeletable(
                f"Return {ret.display_number} is {ret.status}; only requested, rejected or cancelled returns can "
                "be deleted (cancel or close it instead).",
                errors={"status": ret.status},
            )
        if ret.status in RETURN_HOLDS_UNITS:
            return_units_give_back(
                order=ret.order, quantities=_units(_return_lines(ret)), by=by, reason=f"{ret.rma} deleted"
            )
        ret.delete()


def _require_lines_editable(ret: Return) -> None:
    if ret.status not in RETURN_LINES_EDITABLE:
        raise ReturnNotEditable(
            f"Return {ret.display_number} is {ret.status}: its lines change only while it is requested.",
            errors={"status": ret.status},
        )


def return_line_item_create(*, by: Actor, parent_return: Return, **spec: Any) -> ReturnLineItem:
    """Add a line to a requested return (422 `return_not_editable` later), counting its units on the order
    (the one rule: 422 `return_exceeds_shipped` above what the line shipped and has not had returned)."""
    with transaction.atomic():
        ret = lock(Return, parent_return.pk)
        _require_lines_editable(ret)
        (row,) = _add_lines(ret, [spec], by=by)
        _recompute(ret)
        ret.save()
        log_event(ret, "add_line", by=by, reason=f"{row.quantity} x {row.sku}")
    return row


def return_line_item_update(*, return_line_item: ReturnLineItem, by: Actor, **fields: Any) -> ReturnLineItem:
    """Change a line of a requested return. A larger quantity counts the extra units on the order (the one
    rule), a smaller one gives units back. Unless given, `amount` follows the quantity: what was paid for the
    line's units (`_paid_share`, after the units of the order line's lines before it) while its price is the
    paid unit price, else price × quantity. The order line (and so the SKU) is fixed: delete the line and add
    another."""
    _check_fields(fields, LINE_UPDATE_FIELDS, "return line")
    with transaction.atomic():
        ret = lock(Return, return_line_item.parent_return_id)
        _require_lines_editable(ret)
        row = lock(ReturnLineItem, return_line_item.pk)
        if "quantity" in fields:
            quantity = _whole(fields["quantity"], "quantity")
            delta = quantity - row.quantity
            if row.order_line_item_id and delta > 0:
                return_units_take(
                    order=ret.order, quantities={row.order_line_item_id: delta}, by=by, reason=f"{ret.rma}: +{delta}"
                )
            elif row.order_line_item_id and delta < 0:
                return_units_give_back(
                    order=ret.order, quantities={row.order_line_item_id: -delta}, by=by, reason=f"{ret.rma}: {delta}"
                )
        for name in ("price", "amount", "tax_refunded", "flat_rate_shipping"):
            if fields.get(name) is not None:
                fields[name] = round_cents(fields[name])
        for name, value in fields.items():
            if value is not None or name not in ("price", "amount"):
                setattr(row, name, value)
        if fields.get("amount") is None and ("quantity" in fields or "price" in fields):
            paid = row.order_line_item_id and row.price == _paid_unit_price(row.order_line_item)
            if fields.get("price") is None and paid:
                lock(Order, ret.order_id)  # the other lines of the order line stay as they are meanwhile
                row.amount = _line_share(row)
            else:
                row.amount = round_cents(row.price * row.quantity)
        check_amounts_fit({"amount": row.amount}, what=f"Line {row.pk}")
        row.save()
        _recompute(ret)
        ret.save()
        log_event(ret, "change_line", by=by, reason=f"line {row.pk}: {', '.join(sorted(fields))}")
    return row


def return_line_item_delete(*, return_line_item: ReturnLineItem, by: Actor) -> None:
    """Remove a line of a requested return; its units go back to the order."""
    with transaction.atomic():
        ret = lock(Return, return_line_item.parent_return_id)
        _require_lines_editable(ret)
        row = lock(ReturnLineItem, return_line_item.pk)
        return_units_give_back(order=ret.order, quantities=_units([row]), by=by, reason=f"{ret.rma}: line removed")
        row.delete()
        _recompute(ret)
        ret.save()
        log_event(ret, "remove_line", by=by, reason=f"{row.quantity} x {row.sku}")


def return_lines_check(
    *, order: Order, lines: Sequence[Mapping[str, Any]], holding: Sequence[ReturnLineItem] = ()
) -> None:
    """The one rule as a read, for forms (the admin's inline shows it before saving): raise what the services
    would raise if a return of `order` had exactly `lines`, where `holding` are the lines whose units the
    return already counts (they are room for its new quantities). The services check again under the lock."""
    order_lines = _order_lines(order)
    wanted: Counter[int] = Counter()
    for spec in lines:
        wanted[_resolve_order_line(order, order_lines, spec).pk] += _whole(spec.get("quantity"), "quantity")
    held = _units(holding)
    if any(quantity > held.get(pk, 0) for pk, quantity in wanted.items()):
        _require_order_status(order, RETURNABLE, "return")
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


# ======================================================================================================
# Returns: transitions
# ======================================================================================================


def _set_line_status(ret: Return, status: str) -> None:
    ReturnLineItem.objects.filter(parent_return=ret).update(status=status, updated_at=timezone.now())


def return_approve(*, return_: Return, by: Actor, notes: str = "", reason: str = "") -> Return:
    """requested → approved (a return without lines is a 422 `return_empty`). Needs `returns.approve_return`."""
    with transaction.atomic():
        ret = lock(Return, return_.pk)
        check_transition(ret, "approve", by=by)
        if not ReturnLineItem.objects.filter(parent_return=ret).exists():
            raise ReturnEmpty(f"Return {ret.display_number} has no lines to approve.", errors={"return_line_items": []})
        _set_line_status(ret, ReturnLineStatus.APPROVED)
        apply_transition(ret, "approve", by=by, reason=_join(notes, reason), notes=notes)
    return ret


def return_reject(*, return_: Return, by: Actor, reason: str) -> Return:
    """requested → rejected: the units go back to the order (they can be returned again). Needs
    `returns.approve_return`."""
    with transaction.atomic():
        ret = lock(Return, return_.pk)
        check_transition(ret, "reject", by=by)
        return_units_give_back(
            order=ret.order, quantities=_units(_return_lines(ret)), by=by, reason=f"{ret.rma} rejected"
        )
        _set_line_status(ret, ReturnLineStatus.REJECTED)
        apply_transition(ret, "reject", by=by, reason=reason, rejection_reason=reason)
    return ret


def return_cancel(*, return_: Return, by: Actor, reason: str = "") -> Return:
    """requested or approved → cancelled: the units go back to the order (they can be returned again)."""
    with transaction.atomic():
        ret = lock(Return, return_.pk)
        check_transition(ret, "cancel", by=by)
        return_units_give_back(
            order=ret.order, quantities=_units(_return_lines(ret)), by=by, reason=f"{ret.rma} cancelled"
        )
        _set_line_status(ret, ReturnLineStatus.CANCELLED)
        apply_transition(ret, "cancel", by=by, reason=reason, cancel_reason=reason)
    return ret


def return_close(*, return_: Return, by: Actor, reason: str = "") -> Return:
    """received, refunded, rejected or cancelled → closed (final). The lines keep their status."""
    with transaction.atomic():
        ret = lock(Return, return_.pk)
        apply_transition(ret, "close", by=by, reason=reason)
    return ret


def return_reopen(*, return_: Return, by: Actor, reason: str = "") -> Return:
    """rejected or cancelled → requested: the units are counted as returned again through the one rule, so
    a reopen is refused (422 `return_exceeds_shipped`, or `invalid_state_transition` naming the order once
    it is no longer shipped or delivered) when another return has taken them meanwhile."""
    with transaction.atomic():
        ret = lock(Return, return_.pk)
        check_transition(ret, "reopen", by=by)
        return_units_take(order=ret.order, quantities=_units(_return_lines(ret)), by=by, reason=f"{ret.rma} reopened")
        _set_line_status(ret, ReturnLineStatus.REQUESTED)
        apply_transition(ret, "reopen", by=by, reason=reason)
    return ret


def return_receive(
    *,
    return_: Return,
    by: Actor,
    received_by: str = "",
    lines: Sequence[Mapping[str, Any]] | None = None,
    reason: str = "",
) -> Return:
    """approved → received. Records what arrived: per line `quantity_received` (default: the line's
    quantity; above it is a 422 `over_receipt`) and `condition` (default: as it was). Then, exactly once,
    every line marked `restock` whose condition is new or like new and that received something goes back on
    hand at the return's location through `inventory.services.stock_receive` (ledger `return_restock`,
    source: the return). The transition cannot run twice (a second receive is a 422 and moves nothing).
    Needs `returns.receive_return`."""
    with transaction.atomic():
        ret = lock(Return, return_.pk)
        check_transition(ret, "receive", by=by)
        rows = {row.pk: row for row in _return_lines(ret)}
        given: dict[int, Mapping[str, Any]] = {}
        for entry in lines or ():
            pk = entry.get("return_line_item_id")
            if pk not in rows:
                raise InvalidReturnInput(
                    f"Line {pk} is not on return {ret.display_number}.",
                    errors={"return_line_item_id": f"no line {pk} here"},
                )
            if pk in given:
                raise InvalidReturnInput(f"Line {pk} is listed twice.", errors={"return_line_item_id": "repeated"})
            given[pk] = entry
        errors = {}
        for row in rows.values():
            entry = given.get(row.pk, {})
            received = entry.get("quantity_received")
            row.quantity_received = row.quantity if received is None else received
            if row.quantity_received > row.quantity or row.quantity_received < 0:
                errors[str(row.pk)] = f"{row.sku}: {row.quantity_received} received of {row.quantity} returned"
            if entry.get("condition"):
                row.condition = entry["condition"]
        if errors:
            summary = "; ".join(errors.values())
            raise OverReceipt(f"A line cannot receive more than it returns: {summary}.", errors=errors)
        if any(row.restocked for row in rows.values()):  # the state machine makes this impossible; say so loudly
            raise OverReceipt(f"Return {ret.display_number} was already restocked.", code="already_restocked")
        restock = [
            row
            for row in rows.values()
            if row.restock
            and row.condition in RESTOCKABLE_CONDITIONS
            and row.quantity_received > 0
            and row.order_line_item_id
            and row.order_line_item.item_id
        ]
        inv.stock_lock((row.order_line_item.item, ret.location) for row in restock)
        source = inv.Source(DOCUMENT, ret.pk, ret.rma or "")
        for row in restock:
            inv.stock_receive(
                inventory_item=row.order_line_item.item,
                location=ret.location,
                quantity=row.quantity_received,
                source=source,
                reason=MovementReason.RETURN_RESTOCK,
                by=by,
                note=f"{ret.rma} line {row.pk} ({row.condition})",
            )
            row.restocked = True
        now = timezone.now()
        for row in rows.values():
            row.status = ReturnLineStatus.RECEIVED
            row.updated_at = now
        ReturnLineItem.objects.bulk_update(
            rows.values(), ["quantity_received", "condition", "restocked", "status", "updated_at"]
        )
        if received_by == "" and by.user is not None:
            received_by = by.user.get_username()
        restocked = ", ".join(f"{row.quantity_received} x {row.sku}" for row in restock) or "nothing"
        apply_transition(
            ret, "receive", by=by, reason=_join(reason, f"restocked {restocked} at {ret.location.code}"),
            received_by=received_by[:255],
        )  # fmt: skip
    return ret


def return_default_refund(return_: Return) -> Decimal:
    """Σ line amounts − restocking fee, each line counting what was received (amount × received / quantity,
    to the cent; before receipt, the whole line)."""
    total = ZERO
    for line in ReturnLineItem.objects.filter(parent_return=return_):
        if line.status in (ReturnLineStatus.RECEIVED, ReturnLineStatus.REFUNDED) and line.quantity:
            total += round_cents(line.amount * line.quantity_received / line.quantity)
        else:
            total += line.amount
    return total - return_.restocking_fee


def return_refund(*, return_: Return, by: Actor, amount: Decimal | None = None, reason: str = "") -> Return:
    """received → refunded. Records a refund on the original order through `orders.services.
    order_record_refund` (source: the return, reference: its RMA), so it never exceeds the order's balance
    (422 `refund_exceeds_balance`) and needs `orders.refund_order` as well as `returns.refund_return`. The
    default amount is `return_default_refund` (422 `nothing_to_refund` when that is not positive). An
    exchange's order cannot be refunded (the orders app refuses refunds on exchanged orders)."""
    with transaction.atomic():
        ret = lock(Return, return_.pk)
        check_transition(ret, "refund", by=by)
        if amount is None:
            amount = return_default_refund(ret)
            if amount <= 0:
                raise NothingToRefund(
                    f"Return {ret.display_number} has nothing to refund: its lines come to "
                    f"{amount + ret.restocking_fee} and the restocking fee is {ret.restocking_fee}. Close it instead.",
                    errors={"amount": str(amount)},
                )
        refund = order_services.order_record_refund(
            order=ret.order,
            amount=amount,
            by=by,
            reason=reason,
            source_type=DOCUMENT,
            source_id=ret.pk,
            reference=ret.rma or "",
        )
        _set_line_status(ret, ReturnLineStatus.REFUNDED)
        apply_transition(
            ret,
            "refund",
            by=by,
            reason=_join(f"{refund.amount} refunded on order {ret.order.display_number}", reason),
            amount=refund.amount,
        )
    return ret


# ======================================================================================================
# The order operations served by this app
# ======================================================================================================


def _goods(order: Order) -> list[OrderLineItem]:
    """The lines whose units a `return_all` returns: those that need stock (gift wrap and services do not
    come back), or every line of an order that has none."""
    lines = list(_order_lines(order).values())
    return [line for line in lines if line.requires_inventory] or lines


def order_return(
    *,
    order: Order,
    by: Actor,
    items: Sequence[Mapping[str, Any]] | None = None,
    return_all: bool = False,
    reason: str = "",
) -> Return:
    """`POST /v1/orders/{id}/return`: a Return (status requested) for `items` ([{order_item_id, quantity,
    reason?}]) or, with `return_all`, for every shipped unit not yet returned of the order's goods. The
    order must be shipped or delivered (422); the units are counted through the one rule (422
    `return_exceeds_shipped`, nothing created), and the order moves to `returned` once every shipped unit
    is under a return. Needs `returns.add_return` (the view needs `orders.change_order`)."""
    _require_perm(by, "returns.add_return", "create a return")
    with transaction.atomic():
        order = lock(Order, order.pk)
        _require_order_status(order, RETURNABLE, "return")
        if return_all:
            specs = [
                {"order_line_item": line.pk, "quantity": line.quantity_returnable}
                for line in _goods(order)
                if line.quantity_returnable > 0
            ]
            if not specs:
                raise ReturnExceedsShipped(
                    f"Every shipped unit of order {order.display_number} is already returned.", errors={"items": []}
                )
        else:
            specs = [
                {"order_line_item": item["order_item_id"], "quantity": item["quantity"], "reason": item.get("reason")}
                for item in items or ()
            ]
        return return_create(by=by, order=order, return_line_items=specs, issue=reason, reason=reason)


@dataclass
class ExchangeResult:
    return_: Return
    replacement_order: Order
    price_difference: Decimal


def _replacement_total(order: Order, new_items: Sequence[Mapping[str, Any]]) -> Decimal | None:
    """What `order_create_replacement` will charge for `new_items`: each unit at its given price, else the
    original's price for that SKU (None when a price is unknown: the orders service then refuses)."""
    prices = {line.sku: line.unit_price for line in _order_lines(order).values()}
    total = ZERO
    for item in new_items:
        price = item.get("unit_price")
        price = prices.get(item["sku"]) if price is None else price
        if price is None:
            return None
        total += round_cents(price) * item["quantity"]
    return total


def order_exchange(
    *,
    order: Order,
    by: Actor,
    return_items: Sequence[Mapping[str, Any]],
    new_items: Sequence[Mapping[str, Any]],
    reason: str = "",
) -> ExchangeResult:
    """`POST /v1/orders/{id}/exchange`, one transaction: a Return (requested) for `return_items` (counted
    through the one rule), a replacement order for `new_items` (allocated at the order's location:
    `exchange_for`, `is_replacement_order`; short stock is a 422 and nothing is created), and the order
    moves to `exchanged`. The price difference (replacement total − the return's amount) is shown on the
    order, on the replacement and on the return. Needs `returns.add_return` and `orders.add_order`."""
    _require_perm(by, "returns.add_return", "create a return")
    _require_perm(by, "orders.add_order", "create a replacement order")
    with transaction.atomic():
        order = lock(Order, order.pk)
        _require_order_status(order, EXCHANGEABLE, "exchange")
        specs = [
            {"order_line_item": item["order_item_id"], "quantity": item["quantity"], "reason": item.get("reason")}
            for item in return_items
        ]
        ret = return_create(
            by=by, order=order, return_line_items=specs, issue=reason, reason=_join("exchange", reason),
            mark_returned=False,
        )  # fmt: skip
        expected = _replacement_total(order, new_items)
        difference = expected - ret.amount if expected is not None else None
        replacement = order_services.order_create_replacement(
            original=order,
            items=[{k: v for k, v in item.items() if k in ("sku", "quantity", "unit_price")} for item in new_items],
            by=by,
            price_difference=difference,
            reason=_join(f"exchange {ret.rma}", reason),
        )
        difference = replacement.total - ret.amount
        order_services.order_mark_exchanged(
            order=order, by=by, price_difference=difference, reason=_join(f"{ret.rma} → {replacement}", reason)
        )
        ret.replacement_order = replacement
        ret.exchange_price_difference = difference
        ret.save()
        log_event(ret, "exchange", by=by, reason=f"replacement order {replacement}, price difference {difference}")
    return ExchangeResult(return_=ret, replacement_order=replacement, price_difference=difference)


# ======================================================================================================
# Warranties
# ======================================================================================================

WARRANTY_FIELDS = {
    "customer_email",
    "entered_by",
    "warranty_name",
    "warranty_type",
    "description",
    "issue",
    "reason_category",
    "reported_condition",
    "condition",
    "condition_date",
    "action_needed",
    "advanced_replacement",
    "amount",
    "country",
    "match",
    "rma",
    "serial_number",
    "scanned_serial_number",
    "replacement_color",
    "shipstation_order_id",
    "sso_id",
    "stripe_invoice_id",
    "tax_refunded",
    "total_refunded",
    "tracking_number",
    "zendesk_number",
    "created_date",
    "order_date",
    "requested_date",
    "shipped_date",
    "warehouse_received_date",
    "expiration_date",
}
WARRANTY_LINE_FIELDS = {
    "sku",
    "name",
    "price",
    "quantity",
    "condition",
    "serial_number",
    "amount",
    "flat_rate_shipping",
    "tax_refunded",
    "image_1",
    "image_2",
    "image_3",
    "match",
}


def _warranty_line(warranty: Warranty, spec: Mapping[str, Any]) -> WarrantyLineItem:
    _check_fields(spec, WARRANTY_LINE_FIELDS, "warranty line")
    values = {k: v for k, v in spec.items() if v is not None}
    for name in ("price", "amount", "flat_rate_shipping", "tax_refunded"):
        if name in values:
            values[name] = round_cents(values[name])
    if "quantity" in values:
        _whole(values["quantity"], "quantity")
    values["sku"] = str(values.get("sku") or "").strip()
    return WarrantyLineItem(warranty=warranty, **values)


def warranty_create(
    *,
    by: Actor,
    warranty_line_items: Sequence[Mapping[str, Any]] = (),
    order: Order | int | str | None = None,
    customer: Customer | None = None,
    warranty_number: str | None = None,
    **fields: Any,
) -> Warranty:
    """A claim (status requested) with its lines. The order is optional (needed for a replacement);
    defaults from it: the customer, the email, `order_date` and `shipped_date`. The number is the client's
    (unique) or generated (`WAR-000042`)."""
    _check_fields(fields, WARRANTY_FIELDS, "warranty")
    with transaction.atomic():
        order = order_resolve(order) if order not in (None, "") else None
        number = _check_number(Warranty, "warranty_number", warranty_number) if warranty_number else None
        customer = customer or (order.customer if order else None)
        email = (customer.email if customer else "") or (order.customer_email if order else "")
        fields.setdefault("customer_email", email)
        if order is not None:
            fields.setdefault("order_date", order.created_at)
            fields.setdefault("shipped_date", order.shipped_at)
        for name in ("amount", "tax_refunded", "total_refunded"):
            if fields.get(name) is not None:
                fields[name] = round_cents(fields[name])
        warranty = Warranty.objects.create(warranty_number=number, order=order, customer=customer, **fields)
        warranty.assign_number()
        WarrantyLineItem.objects.bulk_create([_warranty_line(warranty, spec) for spec in warranty_line_items])
        log_event(warranty, "create", by=by)
    return warranty


def warranty_update(*, warranty: Warranty, by: Actor, reason: str = "", **fields: Any) -> Warranty:
    """Header fields, in any status (the order and customer are fixed once created)."""
    _check_fields(fields, WARRANTY_FIELDS | {"warranty_number"}, "warranty")
    with transaction.atomic():
        row = lock(Warranty, warranty.pk)
        if fields.get("warranty_number"):
            fields["warranty_number"] = _check_number(
                Warranty, "warranty_number", fields["warranty_number"], exclude=row.pk
            )
        else:
            fields.pop("warranty_number", None)
        for name, value in fields.items():
            setattr(row, name, value)
        changed = ", ".join(sorted(fields)) or "nothing"
        apply_transition(row, "update", by=by, reason=_join(reason, f"changed {changed}"))
    return row


def warranty_delete(*, warranty: Warranty, by: Actor) -> None:
    """Delete a claim that is requested, denied or cancelled (422 `warranty_not_deletable` otherwise)."""
    with transaction.atomic():
        row = lock(Warranty, warranty.pk)
        if row.status not in WARRANTY_DELETABLE:
            raise WarrantyNotDeletable(
                f"Warranty {row.display_number} is {row.status}; only requested, denied or cancelled claims can "
                "be deleted.",
                errors={"status": row.status},
            )
        row.delete()


def _replacement(warranty: Warranty, *, by: Actor) -> Order:
    """A zero-price replacement order for the claim's lines, allocated at the order's location (422
    `insufficient_stock` or `unknown_sku` from the orders service, and nothing is created)."""
    if warranty.order_id is None:
        raise ReplacementNotPossible(
            f"Warranty {warranty.display_number} has no order: a replacement ships where the original order went.",
            errors={"order_id": "required for a replacement"},
        )
    items = [
        {"sku": line.sku, "quantity": line.quantity}
        for line in WarrantyLineItem.objects.filter(warranty=warranty).order_by("pk")
        if line.sku
    ]
    if not items:
        raise ReplacementNotPossible(
            f"Warranty {warranty.display_number} has no line with a SKU to replace.",
            errors={"warranty_line_items": "a line with a sku is needed"},
        )
    return order_services.order_create_replacement(
        original=warranty.order,
        items=items,
        by=by,
        unit_price_zero=True,
        reason=f"warranty {warranty.display_number}",
    )


def warranty_approve(
    *, warranty: Warranty, by: Actor, create_replacement: bool | None = None, notes: str = "", reason: str = ""
) -> Warranty:
    """requested → approved. When `create_replacement` is true, or not given and the claim says
    `advanced_replacement`, a zero-price replacement order for the claim's lines is created in the same
    transaction (allocated; `replacement_order_created` and the link are set); a claim without an order or
    without a SKU is a 422 `replacement_not_possible`. Needs `returns.approve_warranty`."""
    with transaction.atomic():
        row = lock(Warranty, warranty.pk)
        check_transition(row, "approve", by=by)
        wanted = row.advanced_replacement if create_replacement is None else create_replacement
        made = ""
        if wanted:
            replacement = _replacement(row, by=by)
            row.replacement_order = replacement
            row.replacement_order_created = True
            made = f"replacement order {replacement}"
        apply_transition(row, "approve", by=by, reason=_join(notes, reason, made), notes=notes)
    return row


def warranty_deny(*, warranty: Warranty, by: Actor, reason: str) -> Warranty:
    """requested → denied. Needs `returns.approve_warranty`."""
    with transaction.atomic():
        row = lock(Warranty, warranty.pk)
        apply_transition(row, "deny", by=by, reason=reason, denial_reason=reason)
    return row


def warranty_complete(*, warranty: Warranty, by: Actor, reason: str = "") -> Warranty:
    """approved → completed."""
    with transaction.atomic():
        row = lock(Warranty, warranty.pk)
        apply_transition(row, "complete", by=by, reason=reason)
    return row


def warranty_cancel(*, warranty: Warranty, by: Actor, reason: str = "") -> Warranty:
    """requested or approved → cancelled. A replacement order that has not shipped is cancelled too
    (releasing its stock; needs `orders.cancel_order`); one that has shipped makes this a 422
    `replacement_shipped` (complete the claim instead)."""
    with transaction.atomic():
        row = lock(Warranty, warranty.pk)
        check_transition(row, "cancel", by=by)
        replacement = row.replacement_order
        note = ""
        if replacement is not None and replacement.status != OrderStatus.CANCELLED:
            if replacement.status not in ORDER_CANCELLABLE:
                raise ReplacementShipped(
                    f"The replacement order {replacement} of warranty {row.display_number} is {replacement.status}; "
                    "complete the claim instead.",
                    errors={"replacement_order": replacement.status},
                )
            order_services.order_cancel(order=replacement, by=by, reason=f"warranty {row.display_number} cancelled")
            note = f"replacement order {replacement} cancelled"
        apply_transition(row, "cancel", by=by, reason=_join(reason, note), cancel_reason=reason)
    return row


def warranty_reopen(*, warranty: Warranty, by: Actor, reason: str = "") -> Warranty:
    """denied or cancelled → requested."""
    with transaction.atomic():
        row = lock(Warranty, warranty.pk)
        apply_transition(row, "reopen", by=by, reason=reason)
    return row


@dataclass
class StatusChange:
    warranty: Warranty
    transition: str | None


def warranty_set_status(*, warranty: Warranty, by: Actor, status: str, reason: str = "") -> StatusChange:
    """`POST /v1/warranties/{id}/status {"status": word}`: the word's transition (states.WARRANTY_STATUS_WORDS)
    under the same rules as its own endpoint (403, 422 `invalid_state_transition`). `filed`, `requested` and
    `processing` leave a requested claim as it is (it is filed and awaiting its decision); an unknown word
    is a 400 naming the vocabulary."""
    word = str(status).strip().lower()
    if word not in WARRANTY_STATUS_WORDS:
        raise ValidationFailed(
            f"Unknown status '{status}'; use one of: {', '.join(WARRANTY_STATUS_WORDS)}.",
            errors={"status": f"one of {', '.join(WARRANTY_STATUS_WORDS)}"},
        )
    name = WARRANTY_STATUS_WORDS[word]
    with transaction.atomic():
        row = lock(Warranty, warranty.pk)
        if word in WARRANTY_AWAITING_WORDS and row.status == WarrantyStatus.REQUESTED:
            return StatusChange(row, None)
        if name is None:
            raise InvalidStateTransition(
                label=f"warranty {row.display_number}",
                status=row.status,
                action=f"set the status to '{word}'",
                allowed=allowed_actions(row),
            )
        text = reason or f"status '{word}'"
        if name == "approve":
            row = warranty_approve(warranty=row, by=by, reason=text)
        elif name == "deny":
            row = warranty_deny(warranty=row, by=by, reason=text)
        else:
            row = {"complete": warranty_complete, "cancel": warranty_cancel, "reopen": warranty_reopen}[name](
                warranty=row, by=by, reason=text
            )
    return StatusChange(row, name)


def _require_warranty_lines_editable(warranty: Warranty) -> None:
    if warranty.status not in WARRANTY_LINES_EDITABLE:
        raise WarrantyNotEditable(
            f"Warranty {warranty.display_number} is {warranty.status}: its lines change only while it is requested.",
            errors={"status": warranty.status},
        )


def warranty_line_item_create(*, by: Actor, warranty: Warranty, **spec: Any) -> WarrantyLineItem:
    """Add a line to a requested claim (422 `warranty_not_editable` later)."""
    with transaction.atomic():
        row = lock(Warranty, warranty.pk)
        _require_warranty_lines_editable(row)
        line = _warranty_line(row, spec)
        line.save()
        log_event(row, "add_line", by=by, reason=str(line))
    return line


def warranty_line_item_update(*, warranty_line_item: WarrantyLineItem, by: Actor, **fields: Any) -> WarrantyLineItem:
    """Change a line of a requested claim."""
    _check_fields(fields, WARRANTY_LINE_FIELDS, "warranty line")
    with transaction.atomic():
        row = lock(Warranty, warranty_line_item.warranty_id)
        _require_warranty_lines_editable(row)
        line = lock(WarrantyLineItem, warranty_line_item.pk)
        changed = _warranty_line(row, fields)
        for name in fields:
            setattr(line, name, getattr(changed, name))
        line.save()
        log_event(row, "change_line", by=by, reason=f"line {line.pk}: {', '.join(sorted(fields))}")
    return line


def warranty_line_item_delete(*, warranty_line_item: WarrantyLineItem, by: Actor) -> None:
    with transaction.atomic():
        row = lock(Warranty, warranty_line_item.warranty_id)
        _require_warranty_lines_editable(row)
        WarrantyLineItem.objects.filter(pk=warranty_line_item.pk).delete()
        log_event(row, "remove_line", by=by, reason=str(warranty_line_item))
