"""Every write of the manufacturing app. Each service is one transaction that locks the document rows it
changes first (a manufacture order before its work orders, several rows in primary-key order), re-reads
them under the lock, checks the rules, then moves stock only through `inventory.services` (ledger reasons
`production_consume` and `production_output`) and runs the status change through
`stateset.fsm.apply_transition` (permission, source state, StateLog row).

A refused request changes nothing: stock shortages are inventory's InsufficientStock (422
`insufficient_stock`, naming every short SKU), and the transaction rolls back whatever ran before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, ProtectedError, Q
from django.utils import timezone

from inventory import services as inv
from inventory.models import InventoryItem, Location, StockMovement
from inventory.states import MovementReason
from manufacturing import selectors
from manufacturing.errors import (
    ActiveBomExists,
    BomIncomplete,
    BomNotActive,
    BomNotEditable,
    DocumentInUse,
    DocumentNotEditable,
    DuplicateNumber,
    ManufactureOrderEmpty,
    OverCompletion,
)
from manufacturing.models import (
    BillOfMaterials,
    BillOfMaterialsLineItem,
    ManufactureOrder,
    ManufactureOrderLineItem,
    WorkOrder,
    WorkOrderLineItem,
)
from manufacturing.states import (
    BOM_DOCUMENT,
    BOM_LINE_COUNTED,
    MO_RUNNING,
    WO_NOT_STARTED,
    WORK_ORDER_DOCUMENT,
    BomStatus,
    ManufactureOrderStatus,
    WorkOrderStatus,
)
from stateset.actors import Actor
from stateset.errors import ValidationFailed
from stateset.fsm import apply_transition, check_transition, lock, log_event
from stateset.ids import as_id

# Serialises BOM activations on PostgreSQL, so that two activations can never each pass the cycle check
# while together closing a cycle (SQLite serialises every writer already).
BOM_GRAPH_LOCK = 0x5B0A


# ---- helpers -----------------------------------------------------------------------------------------------


def _who(by: Actor) -> str:
    return by.user.get_username() if by.user else by.label


def _changed(names: Iterable[str]) -> str:
    """The reason of an `update` history row, as orders and returns word it: the fields given."""
    return f"changed {', '.join(sorted(names)) or 'nothing'}"


def _lines(n: int) -> str:
    """ "1 line", "3 lines": for the reason of a `create` history row."""
    return f"{n} line{'' if n == 1 else 's'}"


def _line_changed(pk: int, names: Iterable[str]) -> str:
    """The reason of a `change_line` history row: "line 12: quantity"."""
    return f"line {pk}: {', '.join(sorted(names)) or 'nothing'}"


def _positive(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValidationFailed(f"'{name}' must be a positive integer.", errors={name: "must be a positive integer"})
    return value


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


def _check_fields(fields: Mapping[str, Any], allowed: Iterable[str], kind: str) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"{kind} fields not known: {sorted(unknown)}")


def _number(model: type, number: str | None, *, field: str = "number") -> str | None:
    """A client-given document number, stripped; 400 if another document of the kind has it."""
    if number is None:
        return None
    number = number.strip()
    if not number:
        return None
    if model._default_manager.filter(**{f"{field}__iexact": number}).exists():
        raise DuplicateNumber(f"The number '{number}' is already used.", errors={field: "already used"})
    return number


def _item(sku: str, field: str) -> InventoryItem:
    try:
        return inv.items_by_sku([sku.strip()])[sku.strip()]
    except ValidationFailed as exc:
        exc.errors = {field: exc.message}
        raise


def _items(skus: Iterable[str]) -> dict[str, InventoryItem]:
    """Items for these SKUs in one query; unknown SKUs are a 400 `unknown_sku` naming each one."""
    return inv.items_by_sku({sku.strip() for sku in skus})


def _document(model: type, value: Any, field: str) -> Any:
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


def _location(value: Location | str | int | None) -> Location:
    return inv.location_resolve(value)


# ---- bills of materials ------------------------------------------------------------------------------------

BOM_FIELDS = {"name", "description", "groups", "valid"}
BOM_LINE_FIELDS = {"line_type", "part_name", "purchase_supply_type", "quantity", "status"}


def _next_revision(part: InventoryItem | None, *, exclude_pk: int | None = None) -> int:
    if part is None:
        return 1
    boms = BillOfMaterials.objects.filter(part=part)
    if exclude_pk:
        boms = boms.exclude(pk=exclude_pk)
    return (boms.aggregate(top=Max("revision"))["top"] or 0) + 1


def _check_cycles(part: InventoryItem | None, components: Iterable[InventoryItem]) -> None:
    """400 `bom_cycle` naming the path if `part` would need itself through these components."""
    if part is not None:
        selectors.raise_on_cycle(selectors.bom_cycle_path(part=part, components=components))


def _require_draft(bom: BillOfMaterials, what: str) -> None:
    if bom.status != BomStatus.DRAFT:
        raise BomNotEditable(
            f"Bill of materials {bom.display_number} is {bom.status}: {what} only while it is a draft; "
            "revise it to get a new draft.",
            errors={"status": bom.status},
        )


def _build_bom_lines(bom: BillOfMaterials, lines: Sequence[Mapping[str, Any]]) -> list[BillOfMaterialsLineItem]:
    items = _items(line["part_number"] for line in lines)
    built = []
    for line in lines:
        _check_fields(line, BOM_LINE_FIELDS | {"part_number"}, "BOM line")
        item = items[line["part_number"].strip()]
        fields = {k: v for k, v in line.items() if k != "part_number"}
        _positive(fields.get("quantity"), "quantity")
        fields.setdefault("part_name", "")
        fields["part_name"] = fields["part_name"] or item.description
        built.append(BillOfMaterialsLineItem(bill_of_materials=bom, item=item, **fields))
    return built


def bom_create(
    *,
    by: Actor,
    part: str | None = None,
    number: str | None = None,
    line_items: Sequence[Mapping[str, Any]] = (),
    **fields: Any,
) -> BillOfMaterials:
    """Create a draft BOM with its lines. Unknown SKUs (part or lines) are a 400 naming them; a line that
    would make the part need itself at any depth is a 400 naming the path. Its revision is the part's next."""
    _check_fields(fields, BOM_FIELDS, "bill of materials")
    with transaction.atomic():
        number = _number(BillOfMaterials, number)
        part_item = _item(part, "part") if part else None
        bom = BillOfMaterials(part=part_item, number=number, revision=_next_revision(part_item), **fields)
        lines = _build_bom_lines(bom, line_items)
        _check_cycles(part_item, [line.item for line in lines])
        bom.save()
        bom.assign_number()
        BillOfMaterialsLineItem.objects.bulk_create(lines)
        log_event(bom, "create", by=by, reason=_lines(len(lines)) if lines else "")
    return bom


def bom_update(*, bill_of_materials: BillOfMaterials, by: Actor, part: str | None = None, **fields: Any):
    """Change header fields (any status). The part changes only on a draft (422 otherwise); the lines are
    then checked for cycles against it and the BOM takes the new part's next revision."""
    _check_fields(fields, BOM_FIELDS, "bill of materials")
    with transaction.atomic():
        bom = lock(BillOfMaterials, bill_of_materials.pk)
        if part is not None and part != (bom.part.sku if bom.part_id else None):
            _require_draft(bom, "its part can change")
            item = _item(part, "part")
            _check_cycles(item, [line.item for line in bom.line_items.select_related("item")])
            bom.part = item
            bom.revision = _next_revision(item, exclude_pk=bom.pk)
        for name, value in fields.items():
            setattr(bom, name, value)
        bom.save()
        log_event(bom, "update", by=by, reason=_changed([*fields, *(["part"] if part is not None else [])]))
    return bom


def bom_delete(*, bill_of_materials: BillOfMaterials, by: Actor) -> None:
    """Delete a draft or obsolete BOM (an active one is obsoleted first: 422). One that work orders or
    manufacture orders were planned from is kept: 422 `document_in_use`."""
    with transaction.atomic():
        bom = lock(BillOfMaterials, bill_of_materials.pk)
        if bom.status == BomStatus.ACTIVE:
            raise BomNotEditable(
                f"Bill of materials {bom.display_number} is active; obsolete it before deleting it.",
                errors={"status": bom.status},
            )
        try:
            bom.delete()
        except ProtectedError:
            raise DocumentInUse(
                f"Work orders or manufacture orders were planned from {bom.display_number}; it is kept.",
                errors={"bill_of_materials": bom.display_number},
            )


def bom_line_check(*, bill_of_materials: BillOfMaterials, item: InventoryItem) -> None:
    """Would this component be acceptable on the BOM now? (Draft only; no cycle.) For forms."""
    _require_draft(bill_of_materials, "lines change")
    _check_cycles(bill_of_materials.part, [item])


def bom_line_create(
    *, by: Actor, bill_of_materials_number: Any, part_number: str, quantity: int, **fields: Any
) -> BillOfMaterialsLineItem:
    """Add a line to a draft BOM (named by number or id). Unknown SKU: 400; a cycle: 400 naming it;
    a BOM that is not a draft: 422."""
    _check_fields(fields, BOM_LINE_FIELDS, "BOM line")
    with transaction.atomic():
        bom = _document(BillOfMaterials, bill_of_materials_number, "bill_of_materials_number")
        bom = lock(BillOfMaterials, bom.pk)
        _require_draft(bom, "lines change")
        (line,) = _build_bom_lines(bom, [{"part_number": part_number, "quantity": quantity, **fields}])
        _check_cycles(bom.part, [line.item])
        line.save()
        bom.save(update_fields=["updated_at"])
        log_event(bom, "add_line", by=by, reason=f"{line.quantity} x {line.item.sku}")
    return line


def bom_line_update(
    *, bill_of_materials_line_item: BillOfMaterialsLineItem, by: Actor, part_number: str | None = None, **fields
) -> BillOfMaterialsLineItem:
    """Change a line of a draft BOM (422 otherwise); a new component is checked for cycles."""
    _check_fields(fields, BOM_LINE_FIELDS, "BOM line")
    if "quantity" in fields:
        _positive(fields["quantity"], "quantity")
    with transaction.atomic():
        bom = lock(BillOfMaterials, bill_of_materials_line_item.bill_of_materials_id)
        _require_draft(bom, "lines change")
        line = BillOfMaterialsLineItem.objects.select_related("item").get(pk=bill_of_materials_line_item.pk)
        if part_number is not None and part_number.strip() != line.item.sku:
            line.item = _item(part_number, "part_number")
            _check_cycles(bom.part, [line.item])
        for name, value in fields.items():
            setattr(line, name, value)
        line.save()
        bom.save(update_fields=["updated_at"])
        log_event(
            bom,
            "change_line",
            by=by,
            reason=_line_changed(line.pk, [*fields, *(["part_number"] if part_number is not None else [])]),
        )
    return line


def bom_line_delete(*, bill_of_materials_line_item: BillOfMaterialsLineItem, by: Actor) -> None:
    """Remove a line from a draft BOM (422 otherwise)."""
    with transaction.atomic():
        bom = lock(BillOfMaterials, bill_of_materials_line_item.bill_of_materials_id)
        _require_draft(bom, "lines change")
        line = lock(
            BillOfMaterialsLineItem,
            bill_of_materials_line_item.pk,
            queryset=BillOfMaterialsLineItem.objects.select_related("item"),
        )
        line.delete()
        bom.save(update_fields=["updated_at"])
        log_event(bom, "remove_line", by=by, reason=f"{line.quantity} x {line.item.sku}")


def _lock_bom_graph() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BOM_GRAPH_LOCK])


def bom_activate(
    *, bill_of_materials: BillOfMaterials, by: Actor, supersede: bool = False, reason: str = ""
) -> BillOfMaterials:
    """draft → active. Needs a part and at least one line that counts (422 `bom_incomplete`); refuses a
    cycle through the active BOMs of its components (400 naming the path). The part's other active BOM is
    a 422 `active_bom_exists` naming it, unless `supersede`, which obsoletes that one in the same
    transaction. Activations are serialised, so concurrent ones cannot close a cycle between them."""
    with transaction.atomic():
        _lock_bom_graph()
        bom = lock(BillOfMaterials, bill_of_materials.pk)
        check_transition(bom, "activate", by=by)
        lines = [line for line in bom.line_items.select_related("item") if line.status in BOM_LINE_COUNTED]
        if bom.part_id is None or not lines:
            missing = "a part" if bom.part_id is None else "a line that is not Inactive"
            raise BomIncomplete(
                f"Bill of materials {bom.display_number} needs {missing} to be activated.",
                errors={"part" if bom.part_id is None else "line_items": f"needs {missing}"},
            )
        _check_cycles(bom.part, [line.item for line in lines])
        current = selectors.active_bom_for(bom.part)
        if current is not None:
            if not supersede:
                raise ActiveBomExists(
                    f"{bom.part.sku} already has an active bill of materials, {current.display_number} "
                    f"(revision {current.revision}); obsolete it first, or activate with supersede=true.",
                    errors={"part": f"active bill of materials {current.display_number}"},
                )
            # The other one is locked second and re-read under its lock. Only another activation locks two
            # BOMs, and activations are serialised above, so the two orders cannot deadlock.
            current = lock(BillOfMaterials, current.pk)
            if current.status == BomStatus.ACTIVE:
                apply_transition(current, "obsolete", by=by, reason=f"superseded by {bom.display_number}")
        apply_transition(bom, "activate", by=by, reason=reason)
    return bom


def bom_obsolete(*, bill_of_materials: BillOfMaterials, by: Actor, reason: str = "") -> BillOfMaterials:
    """draft or active → obsolete. Work orders already planned from it keep their copied lines."""
    with transaction.atomic():
        bom = lock(BillOfMaterials, bill_of_materials.pk)
        apply_transition(bom, "obsolete", by=by, reason=reason)
    return bom


def bom_revise(*, bill_of_materials: BillOfMaterials, by: Actor, reason: str = "") -> BillOfMaterials:
    """From an active BOM, a new draft of the same part with the next revision number, the same header and
    a copy of every line (`revised_from` points back). The active one stays active until the new one is
    activated with supersede (or it is obsoleted). Returns the new draft."""
    with transaction.atomic():
        bom = lock(BillOfMaterials, bill_of_materials.pk)
        check_transition(bom, "revise", by=by)
        draft = BillOfMaterials.objects.create(
            name=bom.name,
            description=bom.description,
            groups=bom.groups,
            valid=bom.valid,
            part=bom.part,
            revision=_next_revision(bom.part),
            revised_from=bom,
        )
        draft.assign_number()
        BillOfMaterialsLineItem.objects.bulk_create(
            [
                BillOfMaterialsLineItem(
                    bill_of_materials=draft,
                    line_type=line.line_type,
                    item_id=line.item_id,
                    part_name=line.part_name,
                    purchase_supply_type=line.purchase_supply_type,
                    quantity=line.quantity,
                    status=line.status,
                )
                for line in bom.line_items.all()
            ]
        )
        log_event(draft, "create", by=by, reason=f"revision {draft.revision} of {bom.display_number}")
        note = f"revision {draft.revision} drafted as {draft.display_number}"
        apply_transition(bom, "revise", by=by, reason="; ".join(filter(None, [reason, note])))
    return draft


@dataclass(frozen=True)
class BuildResult:
    bill_of_materials: BillOfMaterials
    quantity: int
    location: Location
    consumed: list[tuple[str, int]]  # (SKU, quantity) per component, by SKU
    movements: list[StockMovement]


def bom_build_to_stock(
    *,
    bill_of_materials: BillOfMaterials,
    by: Actor,
    quantity: int = 1,
    location: Location | str | int | None = None,
    reason: str = "",
) -> BuildResult:
    """Build `quantity` units of an active BOM's part at `location` (MAIN by default), in one transaction:
    each direct line's `quantity × line quantity` leaves available stock (ledger `production_consume`) and
    the finished part arrives (ledger `production_output`). Single level: a sub-assembly is consumed as a
    stocked part, never built on the way. Any shortage is a 422 `insufficient_stock` naming every short
    component, and nothing moves. Needs `manufacturing.buildtostock_billofmaterials`."""
    _positive(quantity, "quantity")
    location = _location(location)
    with transaction.atomic():
        bom = lock(BillOfMaterials, bill_of_materials.pk)
        check_transition(bom, "buildtostock", by=by)
        lines = [line for line in bom.line_items.select_related("item") if line.status in BOM_LINE_COUNTED]
        source = inv.Source(BOM_DOCUMENT, bom.pk, bom.number or "")
        issued = inv.stock_issue(
            requests=[inv.StockRequest(line.item, location, line.quantity * quantity) for line in lines],
            reason=MovementReason.PRODUCTION_CONSUME,
            source=source,
            by=by,
        )
        output = inv.stock_receive(
            inventory_item=bom.part,
            location=location,
            quantity=quantity,
            source=source,
            reason=MovementReason.PRODUCTION_OUTPUT,
            by=by,
        )
        note = f"built {quantity} × {bom.part.sku} at {location.code}"
        apply_transition(bom, "buildtostock", by=by, reason="; ".join(filter(None, [reason, note])))
    consumed: dict[str, int] = defaultdict(int)
    for line in lines:
        consumed[line.item.sku] += line.quantity * quantity
    return BuildResult(bom, quantity, location, sorted(consumed.items()), [*issued, output])


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


def _active_bom(bom: BillOfMaterials) -> BillOfMaterials:
    if bom.status != BomStatus.ACTIVE:
        raise BomNotActive(
            f"Bill of materials {bom.display_number} is {bom.status}; work is planned from active ones only.",
            errors={"bill_of_materials": bom.status},
        )
    return bom


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
    items = _items(line["part_number"] for line in lines)
    built = []
    for line in lines:
        _check_fields(line, WORK_ORDER_LINE_FIELDS | {"part_number"}, "work order line")
        item = items[line["part_number"].strip()]
        unit = _positive(line.get("unit_quantity"), "unit_quantity")
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
    _check_fields(fields, WORK_ORDER_FIELDS, "work order")
    _positive(quantity, "quantity")
    with transaction.atomic():
        number = _number(WorkOrder, number)
        bom = bill_of_materials
        if bom is None and bill_of_materials_number:
            bom = _document(BillOfMaterials, bill_of_materials_number, "bill_of_materials_number")
        part_item = _item(part, "part") if part else None
        if bom is not None:
            _active_bom(bom)
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
            location=_location(location),
            quantity=quantity,
            manufacture_order=manufacture_order,
            created_by=_who(by),
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
    _check_fields(fields, WORK_ORDER_FIELDS, "work order")
    with transaction.atomic():
        wo, _ = _lock_work_order(work_order)
        if quantity is not None and quantity != wo.quantity:
            _require_planned(wo, "its quantity can change")
            wo.quantity = _positive(quantity, "quantity")
            lines = list(wo.work_order_line_items.all())
            for line in lines:
                line.total_quantity = _line_total(line.unit_quantity, wo.quantity)
            WorkOrderLineItem.objects.bulk_update(lines, ["total_quantity"])
        if location is not None:
            new_location = _location(location)
            if new_location.pk != wo.location_id:
                _require_planned(wo, "its location can change")
                wo.location = new_location
        for name, value in fields.items():
            setattr(wo, name, value)
        wo.save()
        plan = [name for name, value in (("quantity", quantity), ("location", location)) if value is not None]
        log_event(wo, "update", by=by, reason=_changed([*fields, *plan]))
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
        wo.delete()


def work_order_line_create(
    *, by: Actor, work_order_number: Any, part_number: str, unit_quantity: int, **fields: Any
) -> WorkOrderLineItem:
    """Add a component to a planned work order (named by number or id); 422 once released."""
    _check_fields(fields, WORK_ORDER_LINE_FIELDS, "work order line")
    with transaction.atomic():
        wo = _document(WorkOrder, work_order_number, "work_order_number")
        wo, _ = _lock_work_order(wo)
        _require_planned(wo, "its lines change")
        (line,) = _work_order_lines_given(wo, [{"part_number": part_number, "unit_quantity": unit_quantity, **fields}])
        line.save()
        wo.save(update_fields=["updated_at"])
        log_event(wo, "add_line", by=by, reason=f"{line.unit_quantity} x {line.item.sku} per unit")
    return line


def work_order_line_update(
    *, work_order_line_item: WorkOrderLineItem, by: Actor, part_number: str | None = None, **fields: Any
) -> WorkOrderLineItem:
    """Change a line of a planned work order (422 once released); the total follows the unit quantity."""
    _check_fields(fields, WORK_ORDER_LINE_FIELDS, "work order line")
    with transaction.atomic():
        wo, _ = _lock_work_order(work_order_line_item.work_order)
        _require_planned(wo, "its lines change")
        line = WorkOrderLineItem.objects.select_related("item").get(pk=work_order_line_item.pk)
        if part_number is not None:
            line.item = _item(part_number, "part_number")
        for name, value in fields.items():
            setattr(line, name, value)
        line.unit_quantity = _positive(line.unit_quantity, "unit_quantity")
        line.total_quantity = _line_total(line.unit_quantity, wo.quantity)
        line.save()
        wo.save(update_fields=["updated_at"])
        log_event(
            wo,
            "change_line",
            by=by,
            reason=_line_changed(line.pk, [*fields, *(["part_number"] if part_number is not None else [])]),
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


def _cancel_locked_work_order(wo: WorkOrder, *, by: Actor, reason: str) -> None:
    check_transition(wo, "cancel", by=by)
    inv.stock_release(lines=_line_refs(wo), by=by)
    apply_transition(wo, "cancel", by=by, reason=reason)


def work_order_cancel(*, work_order: WorkOrder, by: Actor, reason: str = "") -> WorkOrder:
    """planned or released → cancelled; whatever the lines hold is released. Its manufacture order follows
    (cancelled once all its work orders are, completed once the rest completed). Needs
    `manufacturing.cancel_workorder`."""
    with transaction.atomic():
        wo, mo = _lock_work_order(work_order)
        _cancel_locked_work_order(wo, by=by, reason=reason)
        if mo is not None:
            manufacture_order_sync_status(manufacture_order=mo, by=by)
    return wo


# ---- manufacture orders ------------------------------------------------------------------------------------

MANUFACTURE_ORDER_FIELDS = {"memo", "priority", "site", "created_on", "expected_completion_date", "issued_on"}
MO_LINE_FIELDS = {"part_name", "quantity", "expected_date", "line_type", "output_type", "priority", "site"}


def _resolve_mo_line(
    *, bill_of_materials: BillOfMaterials | None, bom_number: str | None, part_number: str | None
) -> tuple[BillOfMaterials, InventoryItem]:
    """The line's BOM: the one named (by id or number), or the part's active BOM. It must be active."""
    bom = bill_of_materials
    if bom is None and bom_number:
        bom = _document(BillOfMaterials, bom_number, "bom_number")
    item = _item(part_number, "part_number") if part_number else None
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
    _active_bom(bom)
    if item is not None and item.pk != bom.part_id:
        raise ValidationFailed(
            f"Part {item.sku} is not the part of {bom.display_number} ({bom.part.sku}).",
            errors={"part_number": f"{bom.display_number} makes {bom.part.sku}"},
        )
    return bom, bom.part


def _build_mo_line(mo: ManufactureOrder, line: Mapping[str, Any]) -> ManufactureOrderLineItem:
    line = dict(line)
    _check_fields(line, MO_LINE_FIELDS | {"bill_of_materials", "bom_number", "part_number", "yield_location"}, "line")
    bom, item = _resolve_mo_line(
        bill_of_materials=line.pop("bill_of_materials", None),
        bom_number=line.pop("bom_number", None),
        part_number=line.pop("part_number", None),
    )
    _positive(line.get("quantity"), "quantity")
    location = line.pop("yield_location", None)
    line["part_name"] = line.get("part_name") or item.description
    return ManufactureOrderLineItem(
        manufacture_order=mo,
        bill_of_materials=bom,
        item=item,
        yield_location=_location(location) if location not in (None, "") else None,
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
    _check_fields(fields, MANUFACTURE_ORDER_FIELDS, "manufacture order")
    with transaction.atomic():
        mo = ManufactureOrder(
            number=_number(ManufactureOrder, number),
            yield_location=_location(yield_location) if yield_location not in (None, "") else None,
            **fields,
        )
        lines = [_build_mo_line(mo, line) for line in manufacture_order_line_items]
        mo.save()
        mo.assign_number()
        ManufactureOrderLineItem.objects.bulk_create(lines)
        log_event(mo, "create", by=by, reason=_lines(len(lines)) if lines else "")
    return mo


def manufacture_order_update(
    *, manufacture_order: ManufactureOrder, by: Actor, yield_location: Any = None, **fields: Any
) -> ManufactureOrder:
    """Change header fields in any status; the yield location only while draft (its work orders have
    theirs once submitted)."""
    _check_fields(fields, MANUFACTURE_ORDER_FIELDS, "manufacture order")
    with transaction.atomic():
        mo = lock(ManufactureOrder, manufacture_order.pk)
        if yield_location is not None:
            location = _location(yield_location) if yield_location != "" else None
            if (location.pk if location else None) != mo.yield_location_id:
                _require_mo_draft(mo, "its yield location can change")
                mo.yield_location = location
        for name, value in fields.items():
            setattr(mo, name, value)
        mo.save()
        log_event(
            mo, "update", by=by, reason=_changed([*fields, *(["yield_location"] if yield_location is not None else [])])
        )
    return mo


def manufacture_order_delete(*, manufacture_order: ManufactureOrder, by: Actor) -> None:
    """Delete a draft manufacture order (422 once submitted: cancel it instead)."""
    with transaction.atomic():
        mo = lock(ManufactureOrder, manufacture_order.pk)
        _require_mo_draft(mo, "it can be deleted")
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
        mo = _document(ManufactureOrder, manufacture_order_number, "manufacture_order_number")
        mo = lock(ManufactureOrder, mo.pk)
        _require_mo_draft(mo, "its lines change")
        line = _build_mo_line(mo, fields)
        line.save()
        mo.save(update_fields=["updated_at"])
        log_event(mo, "add_line", by=by, reason=f"{line.quantity} x {line.item.sku}")
    return line


def manufacture_order_line_update(
    *, manufacture_order_line_item: ManufactureOrderLineItem, by: Actor, **fields: Any
) -> ManufactureOrderLineItem:
    """Change a line of a draft manufacture order (422 once submitted)."""
    _check_fields(fields, MO_LINE_FIELDS | {"bill_of_materials", "bom_number", "part_number", "yield_location"}, "line")
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
            line.yield_location = _location(location) if location not in (None, "") else None
        if "quantity" in fields:
            _positive(fields["quantity"], "quantity")
        for name, value in fields.items():
            setattr(line, name, value)
        line.save()
        mo.save(update_fields=["updated_at"])
        log_event(mo, "change_line", by=by, reason=_line_changed(line.pk, names))
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
                _cancel_locked_work_order(wo, by=by, reason=why)
                cancelled.append(wo.display_number)
        note = f"cancelled {', '.join(cancelled)}" if cancelled else ""
        apply_transition(mo, "cancel", by=by, reason="; ".join(filter(None, [reason, note])))
    return mo


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
