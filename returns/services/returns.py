"""Returns (RMAs): create, update and delete them and their lines, and move them: approve, reject, cancel,
close, reopen, receive (restocking what came back) and refund."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from crm.models import Customer
from inventory import services as inv
from inventory.states import MovementReason
from orders import services as order_services
from orders.models import Order
from orders.states import RETURNABLE
from returns.errors import (
    InvalidReturnInput,
    NothingToRefund,
    OverReceipt,
    ReturnEmpty,
    ReturnNotDeletable,
    ReturnNotEditable,
)
from returns.models import Return, ReturnLineItem
from returns.services.common import (
    check_document_number,
    check_known_fields,
    join_notes,
    order_resolve,
    require_order_status,
    require_whole_number,
)
from returns.services.lines import (
    LINE_UPDATE_FIELDS,
    add_return_lines,
    line_paid_share,
    lines_of_return,
    paid_unit_price,
    recompute_return_amount,
    return_units_give_back,
    return_units_take,
    units_of,
)
from returns.states import (
    RESTOCKABLE_CONDITIONS,
    RETURN_DELETABLE,
    RETURN_FEE_EDITABLE,
    RETURN_HOLDS_UNITS,
    RETURN_LINES_EDITABLE,
    RETURN_LOCATION_EDITABLE,
    ReturnLineStatus,
)
from stateset import events
from stateset.actors import Actor
from stateset.fsm import apply_transition, check_transition, lock, log_event
from stateset.money import ZERO, check_amounts_fit, round_cents

DOCUMENT = "return"


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
    "shipping_address",
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
    cent) and its `amount` to what was paid for its units (`paid_share`: the amounts of one order line's
    returns add up to exactly its total), or price × quantity when a price is given. Defaults: the order's
    customer, location (where restocked goods go) and email; `order_date` and `shipped_date` from the order.
    The RMA number is the client's (unique) or generated (`RMA-000042`). With `mark_returned` the order
    moves to `returned` once every shipped unit is under a return."""
    check_known_fields(fields, RETURN_FIELDS, "return")
    with transaction.atomic():
        order = lock(Order, order_resolve(order).pk)
        require_order_status(order, RETURNABLE, "return")
        number = check_document_number(Return, "rma", rma) if rma else None
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
        add_return_lines(ret, return_line_items, by=by, mark_returned=mark_returned)
        recompute_return_amount(ret)
        ret.save()
        log_event(ret, "create", by=by, reason=join_notes(reason, f"for order {order.display_number}"))
    return ret


def return_update(*, return_: Return, by: Actor, reason: str = "", **fields: Any) -> Return:
    """Header fields, in any status, except: `location` (where restocked goods go) until the goods are
    received, `restocking_fee` until the refund (422 `return_not_editable`). The order, customer and lines
    do not change here (lines: the return line items resource)."""
    check_known_fields(fields, RETURN_UPDATE_FIELDS, "return")
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
        apply_transition(ret, "update", by=by, reason=join_notes(reason, f"changed {changed}"))
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
                order=ret.order,
                **units_of(lines_of_return(ret)),
                by=by,
                reason=f"{ret.rma} deleted",
            )
        events.emit(ret, "delete", by=by, snapshot=True)
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
        (row,) = add_return_lines(ret, [spec], by=by)
        recompute_return_amount(ret)
        ret.save()
        events.emit(row, "create", by=by)
        log_event(ret, "add_line", by=by, reason=f"{row.quantity} x {row.sku}")
    return row


def return_line_item_update(*, return_line_item: ReturnLineItem, by: Actor, **fields: Any) -> ReturnLineItem:
    """Change a line of a requested return. A larger quantity counts the extra units on the order (the one
    rule), a smaller one gives units back. Unless given, `amount` follows the quantity: what was paid for the
    line's units (`paid_share`, after the units of the order line's lines before it) while its price is the
    paid unit price, else price × quantity. The order line (and so the SKU) is fixed: delete the line and add
    another."""
    check_known_fields(fields, LINE_UPDATE_FIELDS, "return line")
    with transaction.atomic():
        ret = lock(Return, return_line_item.parent_return_id)
        _require_lines_editable(ret)
        row = lock(ReturnLineItem, return_line_item.pk)
        if "quantity" in fields:
            quantity = require_whole_number(fields["quantity"], "quantity")
            delta = quantity - row.quantity
            if row.order_line_item_id and delta > 0:
                return_units_take(
                    order=ret.order,
                    quantities={row.order_line_item_id: delta},
                    shipments={(row.shipment_id, row.order_line_item_id): delta} if row.shipment_id else None,
                    by=by,
                    reason=f"{ret.rma}: +{delta}",
                )
            elif row.order_line_item_id and delta < 0:
                return_units_give_back(
                    order=ret.order,
                    quantities={row.order_line_item_id: -delta},
                    shipments={(row.shipment_id, row.order_line_item_id): -delta} if row.shipment_id else None,
                    by=by,
                    reason=f"{ret.rma}: {delta}",
                )
        for name in ("price", "amount", "tax_refunded", "flat_rate_shipping"):
            if fields.get(name) is not None:
                fields[name] = round_cents(fields[name])
        for name, value in fields.items():
            if value is not None or name not in ("price", "amount"):
                setattr(row, name, value)
        if fields.get("amount") is None and ("quantity" in fields or "price" in fields):
            paid = row.order_line_item_id and row.price == paid_unit_price(row.order_line_item)
            if fields.get("price") is None and paid:
                lock(Order, ret.order_id)  # the other lines of the order line stay as they are meanwhile
                row.amount = line_paid_share(row)
            else:
                row.amount = round_cents(row.price * row.quantity)
        check_amounts_fit({"amount": row.amount}, what=f"Line {row.pk}")
        row.save()
        recompute_return_amount(ret)
        ret.save()
        events.emit(row, "update", by=by)
        log_event(ret, "change_line", by=by, reason=f"line {row.pk}: {', '.join(sorted(fields))}")
    return row


def return_line_item_delete(*, return_line_item: ReturnLineItem, by: Actor) -> None:
    """Remove a line of a requested return; its units go back to the order."""
    with transaction.atomic():
        ret = lock(Return, return_line_item.parent_return_id)
        _require_lines_editable(ret)
        row = lock(ReturnLineItem, return_line_item.pk)
        return_units_give_back(order=ret.order, **units_of([row]), by=by, reason=f"{ret.rma}: line removed")
        events.emit(row, "delete", by=by, snapshot=True)
        row.delete()
        recompute_return_amount(ret)
        ret.save()
        log_event(ret, "remove_line", by=by, reason=f"{row.quantity} x {row.sku}")


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
        apply_transition(ret, "approve", by=by, reason=join_notes(notes, reason), notes=notes)
    return ret


def return_reject(*, return_: Return, by: Actor, reason: str) -> Return:
    """requested → rejected: the units go back to the order (they can be returned again). Needs
    `returns.approve_return`."""
    with transaction.atomic():
        ret = lock(Return, return_.pk)
        check_transition(ret, "reject", by=by)
        return_units_give_back(order=ret.order, **units_of(lines_of_return(ret)), by=by, reason=f"{ret.rma} rejected")
        _set_line_status(ret, ReturnLineStatus.REJECTED)
        apply_transition(ret, "reject", by=by, reason=reason, rejection_reason=reason)
    return ret


def return_cancel(*, return_: Return, by: Actor, reason: str = "") -> Return:
    """requested or approved → cancelled: the units go back to the order (they can be returned again)."""
    with transaction.atomic():
        ret = lock(Return, return_.pk)
        check_transition(ret, "cancel", by=by)
        return_units_give_back(order=ret.order, **units_of(lines_of_return(ret)), by=by, reason=f"{ret.rma} cancelled")
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
        return_units_take(order=ret.order, **units_of(lines_of_return(ret)), by=by, reason=f"{ret.rma} reopened")
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
        rows = {row.pk: row for row in lines_of_return(ret)}
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
            ret, "receive", by=by, reason=join_notes(reason, f"restocked {restocked} at {ret.location.code}"),
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
            reason=join_notes(f"{refund.amount} refunded on order {ret.order.display_number}", reason),
            amount=refund.amount,
        )
    return ret
