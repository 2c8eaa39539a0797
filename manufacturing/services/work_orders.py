"""Work orders: planned from an active BOM (or given lines), released (every line allocated), started (what
the lines hold consumed), completed (good units on hand), held, resumed, cancelled (allocations released).

A work order of a manufacture order makes that order follow it: `manufacture_order_sync_status` lives here,
beside the work order services that call it inside their transaction, so that `manufacture_orders` (which
creates and cancels work orders) depends on this module and never the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import transaction

from inventory import services as inv
from inventory.models import Location
from inventory.states import MovementReason
from manufacturing.errors import DocumentInUse, DocumentNotEditable, OverCompletion
from manufacturing.models import BillOfMaterials, ManufactureOrder, WorkOrder, WorkOrderLineItem
from manufacturing.services.boms import require_active_bom
from manufacturing.services.documents import (
    actor_name,
    changed_reason,
    check_fields,
    document_resolve,
    item_by_sku,
    items_by_sku,
    line_changed_reason,
    positive_int,
    unique_number,
)
from manufacturing.states import (
    BOM_LINE_COUNTED,
    MO_RUNNING,
    WORK_ORDER_DOCUMENT,
    ManufactureOrderStatus,
    WorkOrderStatus,
)
from stateset import events
from stateset.actors import Actor
from stateset.errors import ValidationFailed
from stateset.fsm import apply_transition, check_transition, lock, log_event

# ---- work orders -------------------------------------------------------------------------------------------

WORK_ORDER_FIELDS = {
    "site",
    "work_order_type",
    "order_number",
    "issue_date",
    "expected_completion_date",
    "priority",
    "memo",
}
WORK_ORDER_PLAN_FIELDS = {"quantity", "location"}
WORK_ORDER_LINE_FIELDS = {"line_type", "part_name", "unit_quantity"}

# A work order line's total is stored in an integer column (PostgreSQL's: 4 bytes). Unit quantity and planned
# quantity are each bounded on input, but their product can pass it.
MAX_LINE_TOTAL = 2**31 - 1


def _line_total(unit_quantity: int, quantity: int) -> int:
    total = unit_quantity * quantity
    if total > MAX_LINE_TOTAL:
        raise ValidationFailed(
            f"A work order line needs {total} units ({unit_quantity} × {quantity}); at most {MAX_LINE_TOTAL}.",
            errors={"quantity": f"a line's total quantity may not pass {MAX_LINE_TOTAL}"},
        )
    return total


def _work_order_lines_from_bom(wo: WorkOrder, bom: BillOfMaterials) -> list[WorkOrderLineItem]:
    lines = [line for line in bom.line_items.select_related("item") if line.status in BOM_LINE_COUNTED]
    return [
        WorkOrderLineItem(
            work_order=wo,
            line_type=line.line_type,
            item=line.item,
            part_name=line.part_name or line.item.description,
            unit_quantity=line.quantity,
            total_quantity=_line_total(line.quantity, wo.quantity),
        )
        for line in lines
    ]


def _work_order_lines_given(wo: WorkOrder, lines: Sequence[Mapping[str, Any]]) -> list[WorkOrderLineItem]:
    items = items_by_sku(line["part_number"] for line in lines)
    built = []
    for line in lines:
        check_fields(line, WORK_ORDER_LINE_FIELDS | {"part_number"}, "work order line")
        item = items[line["part_number"].strip()]
        unit = positive_int(line.get("unit_quantity"), "unit_quantity")
        built.append(
            WorkOrderLineItem(
                work_order=wo,
                line_type=line.get("line_type") or "Component",
                item=item,
                part_name=line.get("part_name") or item.description,
                unit_quantity=unit,
                total_quantity=_line_total(unit, wo.quantity),
            )
        )
    return built


def work_order_create(
    *,
    by: Actor,
    quantity: int,
    bill_of_materials: BillOfMaterials | None = None,
    bill_of_materials_number: str | None = None,
    part: str | None = None,
    location: Location | str | int | None = None,
    work_order_line_items: Sequence[Mapping[str, Any]] | None = None,
    number: str | None = None,
    manufacture_order: ManufactureOrder | None = None,
    **fields: Any,
) -> WorkOrder:
    """Plan a work order (status planned) for `quantity` units at `location` (MAIN by default).

    From an active BOM (by id or number): its part, and its lines copied (`total_quantity = unit_quantity ×
    quantity`), unless `work_order_line_items` are given, which replace the copy. Without a BOM, `part` and
    `work_order_line_items` are required. A BOM that is not active is a 422; a part that differs from the
    BOM's, an unknown SKU or location, a duplicate number: 400. Nothing is allocated yet (see release)."""
    check_fields(fields, WORK_ORDER_FIELDS, "work order")
    positive_int(quantity, "quantity")
    with transaction.atomic():
        number = unique_number(WorkOrder, number)
        bom = bill_of_materials
        if bom is None and bill_of_materials_number:
            bom = document_resolve(BillOfMaterials, bill_of_materials_number, "bill_of_materials_number")
        part_item = item_by_sku(part, "part") if part else None
        if bom is not None:
            require_active_bom(bom)
            if part_item is not None and part_item.pk != bom.part_id:
                raise ValidationFailed(
                    f"Part {part_item.sku} is not the part of {bom.display_number} ({bom.part.sku}).",
                    errors={"part": f"{bom.display_number} makes {bom.part.sku}"},
                )
            part_item = bom.part
        elif part_item is None or not work_order_line_items:
            raise ValidationFailed(
                "A work order needs a bill_of_materials (or bill_of_materials_number), or a part with "
                "work_order_line_items.",
                errors={"bill_of_materials": "required without part and work_order_line_items"},
            )
        wo = WorkOrder(
            number=number,
            bill_of_materials=bom,
            part=part_item,
            location=inv.location_resolve(location),
            quantity=quantity,
            manufacture_order=manufacture_order,
            created_by=actor_name(by),
            **fields,
        )
        if work_order_line_items:
            lines = _work_order_lines_given(wo, work_order_line_items)
        else:
            lines = _work_order_lines_from_bom(wo, bom)
        wo.save()
        wo.assign_number()
        WorkOrderLineItem.objects.bulk_create(lines)
        origin = [f"{wo.quantity} x {part_item.sku}"]
        if bom is not None:
            origin.append(f"from {bom.display_number}")
        if manufacture_order is not None:
            origin.append(f"for manufacture order {manufacture_order.display_number}")
        log_event(wo, "create", by=by, reason="; ".join(origin))
    return wo


def _require_planned(wo: WorkOrder, what: str) -> None:
    if wo.status != WorkOrderStatus.PLANNED:
        raise DocumentNotEditable(
            f"Work order {wo.display_number} is {wo.status}: {what} only while it is planned.",
            errors={"status": wo.status},
        )


def work_order_update(
    *, work_order: WorkOrder, by: Actor, quantity: int | None = None, location: Any = None, **fields: Any
) -> WorkOrder:
    """Change header fields (memo, priority, dates, ...) in any status. The plan (`quantity`, `location`)
    changes only while planned (422 otherwise); a new quantity recomputes every line's total."""
    check_fields(fields, WORK_ORDER_FIELDS, "work order")
    with transaction.atomic():
        wo, _ = _lock_work_order(work_order)
        if quantity is not None and quantity != wo.quantity:
            _require_planned(wo, "its quantity can change")
            wo.quantity = positive_int(quantity, "quantity")
            lines = list(wo.work_order_line_items.all())
            for line in lines:
                line.total_quantity = _line_total(line.unit_quantity, wo.quantity)
            WorkOrderLineItem.objects.bulk_update(lines, ["total_quantity"])
        if location is not None:
            new_location = inv.location_resolve(location)
            if new_location.pk != wo.location_id:
                _require_planned(wo, "its location can change")
                wo.location = new_location
        for name, value in fields.items():
            setattr(wo, name, value)
        wo.save()
        plan = [name for name, value in (("quantity", quantity), ("location", location)) if value is not None]
        log_event(wo, "update", by=by, reason=changed_reason([*fields, *plan]))
    return wo


def work_order_delete(*, work_order: WorkOrder, by: Actor) -> None:
    """Delete a planned or cancelled work order (nothing allocated). One that a manufacture order created
    is kept (422): cancel it instead."""
    with transaction.atomic():
        wo, _ = _lock_work_order(work_order)
        if wo.status not in (WorkOrderStatus.PLANNED, WorkOrderStatus.CANCELLED):
            raise DocumentNotEditable(
                f"Work order {wo.display_number} is {wo.status}; only planned or cancelled ones can be deleted.",
                errors={"status": wo.status},
            )
        if wo.manufacture_order_id:
            raise DocumentInUse(
                f"Work order {wo.display_number} belongs to manufacture order {wo.manufacture_order.display_number}; "
                "cancel it instead.",
                errors={"manufacture_order": wo.manufacture_order.display_number},
            )
        events.emit(wo, "delete", by=by, snapshot=True)
        wo.delete()


def work_order_line_create(
    *, by: Actor, work_order_number: Any, part_number: str, unit_quantity: int, **fields: Any
) -> WorkOrderLineItem:
    """Add a component to a planned work order (named by number or id); 422 once released."""
    check_fields(fields, WORK_ORDER_LINE_FIELDS, "work order line")
    with transaction.atomic():
        wo = document_resolve(WorkOrder, work_order_number, "work_order_number")
        wo, _ = _lock_work_order(wo)
        _require_planned(wo, "its lines change")
        (line,) = _work_order_lines_given(wo, [{"part_number": part_number, "unit_quantity": unit_quantity, **fields}])
        line.save()
        wo.save(update_fields=["updated_at"])
        events.emit(line, "create", by=by)
        log_event(wo, "add_line", by=by, reason=f"{line.unit_quantity} x {line.item.sku} per unit")
    return line


def work_order_line_update(
    *, work_order_line_item: WorkOrderLineItem, by: Actor, part_number: str | None = None, **fields: Any
) -> WorkOrderLineItem:
    """Change a line of a planned work order (422 once released); the total follows the unit quantity."""
    check_fields(fields, WORK_ORDER_LINE_FIELDS, "work order line")
    with transaction.atomic():
        wo, _ = _lock_work_order(work_order_line_item.work_order)
        _require_planned(wo, "its lines change")
        line = WorkOrderLineItem.objects.select_related("item").get(pk=work_order_line_item.pk)
        if part_number is not None:
            line.item = item_by_sku(part_number, "part_number")
        for name, value in fields.items():
            setattr(line, name, value)
        line.unit_quantity = positive_int(line.unit_quantity, "unit_quantity")
        line.total_quantity = _line_total(line.unit_quantity, wo.quantity)
        line.save()
        wo.save(update_fields=["updated_at"])
        events.emit(line, "update", by=by)
        log_event(
            wo,
            "change_line",
            by=by,
            reason=line_changed_reason(line.pk, [*fields, *(["part_number"] if part_number is not None else [])]),
        )
    return line


def work_order_line_delete(*, work_order_line_item: WorkOrderLineItem, by: Actor) -> None:
    """Remove a line from a planned work order (422 once released)."""
    with transaction.atomic():
        wo, _ = _lock_work_order(work_order_line_item.work_order)
        _require_planned(wo, "its lines change")
        line = lock(
            WorkOrderLineItem, work_order_line_item.pk, queryset=WorkOrderLineItem.objects.select_related("item")
        )
        events.emit(line, "delete", by=by, snapshot=True)
        line.delete()
        wo.save(update_fields=["updated_at"])
        log_event(wo, "remove_line", by=by, reason=f"{line.unit_quantity} x {line.item.sku} per unit")


def _lock_work_order(work_order: WorkOrder) -> tuple[WorkOrder, ManufactureOrder | None]:
    """Lock the work order's manufacture order (if any) and then the work order: the order every service
    takes them in, so a work order action and a manufacture order cancel never wait on each other."""
    mo_id = WorkOrder.objects.filter(pk=work_order.pk).values_list("manufacture_order_id", flat=True).first()
    mo = lock(ManufactureOrder, mo_id) if mo_id else None
    return lock(WorkOrder, work_order.pk), mo


def _line_refs(wo: WorkOrder, lines: Iterable[WorkOrderLineItem] | None = None) -> list[inv.LineRef]:
    lines = wo.work_order_line_items.all() if lines is None else lines
    return [inv.LineRef(WORK_ORDER_DOCUMENT, wo.pk, line.pk) for line in lines]


def _source(wo: WorkOrder) -> inv.Source:
    return inv.Source(WORK_ORDER_DOCUMENT, wo.pk, wo.number or "")


def work_order_release(*, work_order: WorkOrder, by: Actor, reason: str = "") -> WorkOrder:
    """planned → released: every line's `total_quantity` is allocated at the work order's location, all or
    nothing. A shortage is a 422 `insufficient_stock` naming every short component; the work order stays
    planned and nothing is held. Needs `manufacturing.release_workorder`."""
    with transaction.atomic():
        wo, _ = _lock_work_order(work_order)
        check_transition(wo, "release", by=by)
        lines = list(wo.work_order_line_items.select_related("item"))
        inv.stock_allocate(
            requests=[
                inv.StockRequest(line.item, wo.location, line.total_quantity, ref)
                for line, ref in zip(lines, _line_refs(wo, lines), strict=True)
            ],
            by=by,
        )
        apply_transition(wo, "release", by=by, reason=reason)
    return wo


def work_order_start(*, work_order: WorkOrder, by: Actor, reason: str = "") -> WorkOrder:
    """released → in_progress: what the lines hold is consumed (on hand and allocated fall together, ledger
    `production_consume`, one movement per level). Its manufacture order then shows in_production.
    Needs `manufacturing.start_workorder`."""
    with transaction.atomic():
        wo, mo = _lock_work_order(work_order)
        check_transition(wo, "start", by=by)
        inv.stock_consume(lines=_line_refs(wo), source=_source(wo), reason=MovementReason.PRODUCTION_CONSUME, by=by)
        apply_transition(wo, "start", by=by, reason=reason)
        if mo is not None:
            manufacture_order_sync_status(manufacture_order=mo, by=by)
    return wo


def work_order_complete(
    *, work_order: WorkOrder, by: Actor, quantity_completed: int, quantity_scrapped: int = 0, reason: str = ""
) -> WorkOrder:
    """Count `quantity_completed` good units (received at the work order's location, ledger
    `production_output`) and `quantity_scrapped` lost ones. Partial completions accumulate; the work order
    becomes completed when completed + scrapped reaches its quantity and stays in_progress before.
    More than the remainder is a 422 `over_completion` and nothing changes. Needs
    `manufacturing.complete_workorder`."""
    for name, value in (("quantity_completed", quantity_completed), ("quantity_scrapped", quantity_scrapped)):
        if not isinstance(value, int) or value < 0:
            raise ValidationFailed(f"'{name}' must be a whole number, 0 or more.", errors={name: "must be >= 0"})
    if quantity_completed + quantity_scrapped == 0:
        raise ValidationFailed(
            "Give a positive quantity_completed or quantity_scrapped.", errors={"quantity_completed": "required"}
        )
    with transaction.atomic():
        wo, mo = _lock_work_order(work_order)
        check_transition(wo, "complete", by=by)
        remaining = wo.quantity_remaining
        if quantity_completed + quantity_scrapped > remaining:
            raise OverCompletion(
                f"Work order {wo.display_number} has {remaining} of {wo.quantity} left to complete; "
                f"{quantity_completed} completed + {quantity_scrapped} scrapped is more.",
                errors={"quantity_completed": f"at most {remaining} remain"},
            )
        if quantity_completed:
            inv.stock_receive(
                inventory_item=wo.part,
                location=wo.location,
                quantity=quantity_completed,
                source=_source(wo),
                reason=MovementReason.PRODUCTION_OUTPUT,
                by=by,
            )
        note = f"completed {quantity_completed}, scrapped {quantity_scrapped}"
        apply_transition(
            wo,
            "complete",
            by=by,
            reason="; ".join(filter(None, [reason, note])),
            quantity_completed=quantity_completed,
            quantity_scrapped=quantity_scrapped,
        )
        if mo is not None:
            manufacture_order_sync_status(manufacture_order=mo, by=by)
    return wo


def work_order_hold(*, work_order: WorkOrder, by: Actor, reason: str = "") -> WorkOrder:
    """released or in_progress → on_hold, remembering which. Stock stays as it is (allocated or consumed)."""
    with transaction.atomic():
        wo, _ = _lock_work_order(work_order)
        apply_transition(wo, "hold", by=by, reason=reason)
    return wo


def work_order_resume(*, work_order: WorkOrder, by: Actor, reason: str = "") -> WorkOrder:
    """on_hold → the status it was held from."""
    with transaction.atomic():
        wo, _ = _lock_work_order(work_order)
        apply_transition(wo, "resume", by=by, reason=reason)
    return wo


def cancel_locked_work_order(wo: WorkOrder, *, by: Actor, reason: str) -> None:
    """Cancel a work order the caller has locked (with its manufacture order first), releasing whatever its
    lines hold. The caller then syncs the manufacture order (or is cancelling it)."""
    check_transition(wo, "cancel", by=by)
    inv.stock_release(lines=_line_refs(wo), by=by)
    apply_transition(wo, "cancel", by=by, reason=reason)


def work_order_cancel(*, work_order: WorkOrder, by: Actor, reason: str = "") -> WorkOrder:
    """planned or released → cancelled; whatever the lines hold is released. Its manufacture order follows
    (cancelled once all its work orders are, completed once the rest completed). Needs
    `manufacturing.cancel_workorder`."""
    with transaction.atomic():
        wo, mo = _lock_work_order(work_order)
        cancel_locked_work_order(wo, by=by, reason=reason)
        if mo is not None:
            manufacture_order_sync_status(manufacture_order=mo, by=by)
    return wo


# ---- the manufacture order follows its work orders -----------------------------------------------------


def _mo_status_from_work_orders(mo: ManufactureOrder) -> str | None:
    rows = list(WorkOrder.objects.filter(manufacture_order=mo).values_list("status", "started_at"))
    if not rows:
        return None
    statuses = {status for status, _ in rows}
    if statuses <= {WorkOrderStatus.COMPLETED, WorkOrderStatus.CANCELLED}:
        if WorkOrderStatus.COMPLETED in statuses:
            return ManufactureOrderStatus.COMPLETED
        return ManufactureOrderStatus.CANCELLED
    if any(started for _, started in rows):
        return ManufactureOrderStatus.IN_PRODUCTION
    return ManufactureOrderStatus.SUBMITTED


def manufacture_order_sync_status(*, manufacture_order: ManufactureOrder, by: Actor) -> ManufactureOrder:
    """Make the order's status follow its work orders (called by the work order services, inside their
    transaction, after start, complete and cancel): `in_production` once any has started, `completed`
    once every one is completed or cancelled with at least one completed, `cancelled` once every one is
    cancelled. An order on hold keeps its status and resumes to the new one; a draft, completed or
    cancelled order is left alone. Every change is a StateLog row (`sync_status`)."""
    with transaction.atomic():
        mo = lock(ManufactureOrder, manufacture_order.pk)
        target = _mo_status_from_work_orders(mo)
        if target is None:
            return mo
        if mo.status in MO_RUNNING and target != mo.status:
            apply_transition(mo, "sync_status", by=by, reason="follows its work orders", status=target)
        elif mo.status == ManufactureOrderStatus.ON_HOLD and target != mo.held_from_status:
            source = mo.held_from_status
            mo.held_from_status = target
            mo.save(update_fields=["held_from_status", "updated_at"])
            log_event(mo, "sync_status", by=by, reason=f"on hold; will resume to {target} (was {source})")
    return mo
