"""Manufacture orders: a draft of lines (an active BOM and a quantity each) that, once submitted, plans one
work order per line; hold, resume, and cancel with its work orders that have not started. Its status then
follows its work orders (`work_orders.manufacture_order_sync_status`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from inventory import services as inv
from inventory.models import InventoryItem
from manufacturing import selectors
from manufacturing.errors import BomNotActive, DocumentNotEditable, ManufactureOrderEmpty
from manufacturing.models import BillOfMaterials, ManufactureOrder, ManufactureOrderLineItem, WorkOrder
from manufacturing.services.boms import require_active_bom
from manufacturing.services.documents import (
    changed_reason,
    check_fields,
    count_of_lines,
    document_resolve,
    item_by_sku,
    line_changed_reason,
    positive_int,
    unique_number,
)
from manufacturing.services.work_orders import cancel_locked_work_order, work_order_create
from manufacturing.states import WO_NOT_STARTED, ManufactureOrderStatus, WorkOrderStatus
from stateset import events
from stateset.actors import Actor
from stateset.errors import ValidationFailed
from stateset.fsm import apply_transition, check_transition, lock, log_event

# ---- manufacture orders ------------------------------------------------------------------------------------

MANUFACTURE_ORDER_FIELDS = {"memo", "priority", "site", "created_on", "expected_completion_date", "issued_on"}
MO_LINE_FIELDS = {"part_name", "quantity", "expected_date", "line_type", "output_type", "priority", "site"}


def _resolve_mo_line(
    *, bill_of_materials: BillOfMaterials | None, bom_number: str | None, part_number: str | None
) -> tuple[BillOfMaterials, InventoryItem]:
    """The line's BOM: the one named (by id or number), or the part's active BOM. It must be active."""
    bom = bill_of_materials
    if bom is None and bom_number:
        bom = document_resolve(BillOfMaterials, bom_number, "bom_number")
    item = item_by_sku(part_number, "part_number") if part_number else None
    if bom is None:
        if item is None:
            raise ValidationFailed(
                "A manufacture order line needs a bill_of_materials, a bom_number or a part_number.",
                errors={"bom_number": "required without part_number"},
            )
        bom = selectors.active_bom_for(item)
        if bom is None:
            raise BomNotActive(
                f"{item.sku} has no active bill of materials.", errors={"part_number": "no active bill of materials"}
            )
    require_active_bom(bom)
    if item is not None and item.pk != bom.part_id:
        raise ValidationFailed(
            f"Part {item.sku} is not the part of {bom.display_number} ({bom.part.sku}).",
            errors={"part_number": f"{bom.display_number} makes {bom.part.sku}"},
        )
    return bom, bom.part


def _build_mo_line(mo: ManufactureOrder, line: Mapping[str, Any]) -> ManufactureOrderLineItem:
    line = dict(line)
    check_fields(line, MO_LINE_FIELDS | {"bill_of_materials", "bom_number", "part_number", "yield_location"}, "line")
    bom, item = _resolve_mo_line(
        bill_of_materials=line.pop("bill_of_materials", None),
        bom_number=line.pop("bom_number", None),
        part_number=line.pop("part_number", None),
    )
    positive_int(line.get("quantity"), "quantity")
    location = line.pop("yield_location", None)
    line["part_name"] = line.get("part_name") or item.description
    return ManufactureOrderLineItem(
        manufacture_order=mo,
        bill_of_materials=bom,
        item=item,
        yield_location=inv.location_resolve(location) if location not in (None, "") else None,
        **line,
    )


def manufacture_order_create(
    *,
    by: Actor,
    number: str | None = None,
    yield_location: Any = None,
    manufacture_order_line_items: Sequence[Mapping[str, Any]] = (),
    **fields: Any,
) -> ManufactureOrder:
    """Create a draft manufacture order with its lines. Each line names an active BOM (by id or
    `bom_number`) or a part with an active BOM (`part_number`), and a positive quantity."""
    check_fields(fields, MANUFACTURE_ORDER_FIELDS, "manufacture order")
    with transaction.atomic():
        mo = ManufactureOrder(
            number=unique_number(ManufactureOrder, number),
            yield_location=inv.location_resolve(yield_location) if yield_location not in (None, "") else None,
            **fields,
        )
        lines = [_build_mo_line(mo, line) for line in manufacture_order_line_items]
        mo.save()
        mo.assign_number()
        ManufactureOrderLineItem.objects.bulk_create(lines)
        log_event(mo, "create", by=by, reason=count_of_lines(len(lines)) if lines else "")
    return mo


def manufacture_order_update(
    *, manufacture_order: ManufactureOrder, by: Actor, yield_location: Any = None, **fields: Any
) -> ManufactureOrder:
    """Change header fields in any status; the yield location only while draft (its work orders have
    theirs once submitted)."""
    check_fields(fields, MANUFACTURE_ORDER_FIELDS, "manufacture order")
    with transaction.atomic():
        mo = lock(ManufactureOrder, manufacture_order.pk)
        if yield_location is not None:
            location = inv.location_resolve(yield_location) if yield_location != "" else None
            if (location.pk if location else None) != mo.yield_location_id:
                _require_mo_draft(mo, "its yield location can change")
                mo.yield_location = location
        for name, value in fields.items():
            setattr(mo, name, value)
        mo.save()
        log_event(
            mo,
            "update",
            by=by,
            reason=changed_reason([*fields, *(["yield_location"] if yield_location is not None else [])]),
        )
    return mo


def manufacture_order_delete(*, manufacture_order: ManufactureOrder, by: Actor) -> None:
    """Delete a draft manufacture order (422 once submitted: cancel it instead)."""
    with transaction.atomic():
        mo = lock(ManufactureOrder, manufacture_order.pk)
        _require_mo_draft(mo, "it can be deleted")
        events.emit(mo, "delete", by=by, snapshot=True)
        mo.delete()


def _require_mo_draft(mo: ManufactureOrder, what: str) -> None:
    if mo.status != ManufactureOrderStatus.DRAFT:
        raise DocumentNotEditable(
            f"Manufacture order {mo.display_number} is {mo.status}: {what} only while it is a draft.",
            errors={"status": mo.status},
        )


def manufacture_order_line_check(
    *, bill_of_materials: BillOfMaterials | None = None, bom_number: str | None = None, part_number: str | None = None
) -> tuple[BillOfMaterials, InventoryItem]:
    """The BOM and part a line would use, or the service's refusal. For forms."""
    return _resolve_mo_line(bill_of_materials=bill_of_materials, bom_number=bom_number, part_number=part_number)


def manufacture_order_line_create(
    *, by: Actor, manufacture_order_number: Any, **fields: Any
) -> ManufactureOrderLineItem:
    """Add a line to a draft manufacture order (named by number or id); 422 once submitted."""
    with transaction.atomic():
        mo = document_resolve(ManufactureOrder, manufacture_order_number, "manufacture_order_number")
        mo = lock(ManufactureOrder, mo.pk)
        _require_mo_draft(mo, "its lines change")
        line = _build_mo_line(mo, fields)
        line.save()
        mo.save(update_fields=["updated_at"])
        events.emit(line, "create", by=by)
        log_event(mo, "add_line", by=by, reason=f"{line.quantity} x {line.item.sku}")
    return line


def manufacture_order_line_update(
    *, manufacture_order_line_item: ManufactureOrderLineItem, by: Actor, **fields: Any
) -> ManufactureOrderLineItem:
    """Change a line of a draft manufacture order (422 once submitted)."""
    check_fields(fields, MO_LINE_FIELDS | {"bill_of_materials", "bom_number", "part_number", "yield_location"}, "line")
    names = list(fields)
    with transaction.atomic():
        mo = lock(ManufactureOrder, manufacture_order_line_item.manufacture_order_id)
        _require_mo_draft(mo, "its lines change")
        line = ManufactureOrderLineItem.objects.select_related("bill_of_materials", "item").get(
            pk=manufacture_order_line_item.pk
        )
        if {"bill_of_materials", "bom_number", "part_number"} & set(fields):
            bom, item = _resolve_mo_line(
                bill_of_materials=fields.pop("bill_of_materials", None),
                bom_number=fields.pop("bom_number", None),
                part_number=fields.pop("part_number", None),
            )
            line.bill_of_materials, line.item = bom, item
        if "yield_location" in fields:
            location = fields.pop("yield_location")
            line.yield_location = inv.location_resolve(location) if location not in (None, "") else None
        if "quantity" in fields:
            positive_int(fields["quantity"], "quantity")
        for name, value in fields.items():
            setattr(line, name, value)
        line.save()
        mo.save(update_fields=["updated_at"])
        events.emit(line, "update", by=by)
        log_event(mo, "change_line", by=by, reason=line_changed_reason(line.pk, names))
    return line


def manufacture_order_line_delete(*, manufacture_order_line_item: ManufactureOrderLineItem, by: Actor) -> None:
    """Remove a line from a draft manufacture order (422 once submitted)."""
    with transaction.atomic():
        mo = lock(ManufactureOrder, manufacture_order_line_item.manufacture_order_id)
        _require_mo_draft(mo, "its lines change")
        line = lock(
            ManufactureOrderLineItem,
            manufacture_order_line_item.pk,
            queryset=ManufactureOrderLineItem.objects.select_related("item"),
        )
        events.emit(line, "delete", by=by, snapshot=True)
        line.delete()
        mo.save(update_fields=["updated_at"])
        log_event(mo, "remove_line", by=by, reason=f"{line.quantity} x {line.item.sku}")


def manufacture_order_submit(*, manufacture_order: ManufactureOrder, by: Actor, reason: str = "") -> ManufactureOrder:
    """draft → submitted: one planned work order per line, from the line's BOM (still active: 422
    otherwise) and quantity, at the line's yield location (else the order's, else MAIN), linked both ways
    (the line's `work_order_number`, the work order's `manufacture_order`). An order without lines is a
    422 `manufacture_order_empty`. Nothing is allocated: each work order is released on its own."""
    with transaction.atomic():
        mo = lock(ManufactureOrder, manufacture_order.pk)
        check_transition(mo, "submit", by=by)
        lines = list(
            mo.manufacture_order_line_items.select_related("bill_of_materials", "item", "yield_location").order_by("pk")
        )
        if not lines:
            raise ManufactureOrderEmpty(
                f"Manufacture order {mo.display_number} has no lines to make.", errors={"line_items": "empty"}
            )
        created = []
        for line in lines:
            wo = work_order_create(
                by=by,
                bill_of_materials=line.bill_of_materials,
                quantity=line.quantity,
                location=line.yield_location or mo.yield_location,
                manufacture_order=mo,
                site=line.site or mo.site,
                priority=line.priority or mo.priority,
                expected_completion_date=line.expected_date or mo.expected_completion_date,
                issue_date=timezone.localdate(),
                order_number=mo.number or "",
            )
            line.work_order = wo
            line.save(update_fields=["work_order", "updated_at"])
            created.append(wo.number)
        apply_transition(mo, "submit", by=by, reason="; ".join(filter(None, [reason, "created " + ", ".join(created)])))
    return mo


def manufacture_order_hold(*, manufacture_order: ManufactureOrder, by: Actor, reason: str = "") -> ManufactureOrder:
    """submitted or in_production → on_hold, remembering which. Its work orders are not touched (hold them
    one by one); while it is held, their progress updates the status it will resume to."""
    with transaction.atomic():
        mo = lock(ManufactureOrder, manufacture_order.pk)
        apply_transition(mo, "hold", by=by, reason=reason)
    return mo


def manufacture_order_resume(*, manufacture_order: ManufactureOrder, by: Actor, reason: str = "") -> ManufactureOrder:
    """on_hold → the remembered status (as its work orders have moved it meanwhile)."""
    with transaction.atomic():
        mo = lock(ManufactureOrder, manufacture_order.pk)
        apply_transition(mo, "resume", by=by, reason=reason)
    return mo


def manufacture_order_cancel(*, manufacture_order: ManufactureOrder, by: Actor, reason: str = "") -> ManufactureOrder:
    """draft, submitted, in_production or on_hold → cancelled. Its work orders that have not started are
    cancelled with it, releasing their allocations (needs `manufacturing.cancel_workorder` when there are
    any): planned and released ones, and ones on hold from released (resumed, then cancelled: a work
    order's own cancel takes planned or released only; both steps are history rows). Started ones (in
    progress, on hold from in progress, completed) are left to run and finish on their own. All in one
    transaction: the order first, then its work orders in primary-key order."""
    with transaction.atomic():
        mo = lock(ManufactureOrder, manufacture_order.pk)
        check_transition(mo, "cancel", by=by)
        work_orders = list(WorkOrder.objects.select_for_update().filter(manufacture_order=mo).order_by("pk"))
        why = f"manufacture order {mo.display_number} cancelled"
        cancelled = []
        for wo in work_orders:
            if wo.status == WorkOrderStatus.ON_HOLD and wo.held_from_status in WO_NOT_STARTED:
                apply_transition(wo, "resume", by=by, reason=f"{why}; resumed to cancel it")
            if wo.status in WO_NOT_STARTED:
                cancel_locked_work_order(wo, by=by, reason=why)
                cancelled.append(wo.display_number)
        note = f"cancelled {', '.join(cancelled)}" if cancelled else ""
        apply_transition(mo, "cancel", by=by, reason="; ".join(filter(None, [reason, note])))
    return mo
