"""Warranty claims: create, update and delete them and their lines, and move them (approve, with a zero-price
replacement order when asked; deny, complete, cancel, reopen, or a status word)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from crm.models import Customer
from orders import services as order_services
from orders.models import Order
from orders.states import CANCELLABLE as ORDER_CANCELLABLE
from orders.states import OrderStatus
from returns.errors import ReplacementNotPossible, ReplacementShipped, WarrantyNotDeletable, WarrantyNotEditable
from returns.models import Warranty, WarrantyLineItem
from returns.services.common import (
    check_document_number,
    check_known_fields,
    join_notes,
    order_resolve,
    require_whole_number,
)
from returns.states import (
    WARRANTY_AWAITING_WORDS,
    WARRANTY_DELETABLE,
    WARRANTY_LINES_EDITABLE,
    WARRANTY_STATUS_WORDS,
    WarrantyStatus,
)
from stateset import events
from stateset.actors import Actor
from stateset.errors import InvalidStateTransition, ValidationFailed
from stateset.fsm import allowed_actions, apply_transition, check_transition, lock, log_event
from stateset.money import round_cents

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


def _build_warranty_line(warranty: Warranty, spec: Mapping[str, Any]) -> WarrantyLineItem:
    check_known_fields(spec, WARRANTY_LINE_FIELDS, "warranty line")
    values = {k: v for k, v in spec.items() if v is not None}
    for name in ("price", "amount", "flat_rate_shipping", "tax_refunded"):
        if name in values:
            values[name] = round_cents(values[name])
    if "quantity" in values:
        require_whole_number(values["quantity"], "quantity")
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
    check_known_fields(fields, WARRANTY_FIELDS, "warranty")
    with transaction.atomic():
        order = order_resolve(order) if order not in (None, "") else None
        number = check_document_number(Warranty, "warranty_number", warranty_number) if warranty_number else None
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
        WarrantyLineItem.objects.bulk_create([_build_warranty_line(warranty, spec) for spec in warranty_line_items])
        log_event(warranty, "create", by=by)
    return warranty


def warranty_update(*, warranty: Warranty, by: Actor, reason: str = "", **fields: Any) -> Warranty:
    """Header fields, in any status (the order and customer are fixed once created)."""
    check_known_fields(fields, WARRANTY_FIELDS | {"warranty_number"}, "warranty")
    with transaction.atomic():
        row = lock(Warranty, warranty.pk)
        if fields.get("warranty_number"):
            fields["warranty_number"] = check_document_number(
                Warranty, "warranty_number", fields["warranty_number"], exclude=row.pk
            )
        else:
            fields.pop("warranty_number", None)
        for name, value in fields.items():
            setattr(row, name, value)
        changed = ", ".join(sorted(fields)) or "nothing"
        apply_transition(row, "update", by=by, reason=join_notes(reason, f"changed {changed}"))
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
        events.emit(row, "delete", by=by, snapshot=True)
        row.delete()


def _create_replacement_order(warranty: Warranty, *, by: Actor) -> Order:
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
            replacement = _create_replacement_order(row, by=by)
            row.replacement_order = replacement
            row.replacement_order_created = True
            made = f"replacement order {replacement}"
        apply_transition(row, "approve", by=by, reason=join_notes(notes, reason, made), notes=notes)
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
        apply_transition(row, "cancel", by=by, reason=join_notes(reason, note), cancel_reason=reason)
    return row


def warranty_reopen(*, warranty: Warranty, by: Actor, reason: str = "") -> Warranty:
    """denied or cancelled → requested."""
    with transaction.atomic():
        row = lock(Warranty, warranty.pk)
        apply_transition(row, "reopen", by=by, reason=reason)
    return row


@dataclass
class StatusChange:
    """A claim after `warranty_set_status`, and the transition that ran (None: the word left it as it was)."""

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
        line = _build_warranty_line(row, spec)
        line.save()
        events.emit(line, "create", by=by)
        log_event(row, "add_line", by=by, reason=str(line))
    return line


def warranty_line_item_update(*, warranty_line_item: WarrantyLineItem, by: Actor, **fields: Any) -> WarrantyLineItem:
    """Change a line of a requested claim."""
    check_known_fields(fields, WARRANTY_LINE_FIELDS, "warranty line")
    with transaction.atomic():
        row = lock(Warranty, warranty_line_item.warranty_id)
        _require_warranty_lines_editable(row)
        line = lock(WarrantyLineItem, warranty_line_item.pk)
        changed = _build_warranty_line(row, fields)
        for name in fields:
            setattr(line, name, getattr(changed, name))
        line.save()
        events.emit(line, "update", by=by)
        log_event(row, "change_line", by=by, reason=f"line {line.pk}: {', '.join(sorted(fields))}")
    return line


def warranty_line_item_delete(*, warranty_line_item: WarrantyLineItem, by: Actor) -> None:
    """Remove a line of a requested claim (422 `warranty_not_editable` later)."""
    with transaction.atomic():
        row = lock(Warranty, warranty_line_item.warranty_id)
        _require_warranty_lines_editable(row)
        events.emit(warranty_line_item, "delete", by=by, snapshot=True)
        WarrantyLineItem.objects.filter(pk=warranty_line_item.pk).delete()
        log_event(row, "remove_line", by=by, reason=str(warranty_line_item))
