"""Bills of materials: a draft BOM and its lines, activation (one active BOM per part, no cycle at any depth),
obsolete, revise, and building to stock from an active one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, ProtectedError

from inventory import services as inv
from inventory.models import InventoryItem, Location, StockMovement
from inventory.states import MovementReason
from manufacturing import selectors
from manufacturing.errors import ActiveBomExists, BomIncomplete, BomNotActive, BomNotEditable, DocumentInUse
from manufacturing.models import BillOfMaterials, BillOfMaterialsLineItem
from manufacturing.services.documents import (
    changed_reason,
    check_fields,
    count_of_lines,
    document_resolve,
    item_by_sku,
    items_by_sku,
    line_changed_reason,
    positive_int,
    unique_number,
)
from manufacturing.states import BOM_DOCUMENT, BOM_LINE_COUNTED, BomStatus
from stateset import events
from stateset.actors import Actor
from stateset.fsm import apply_transition, check_transition, lock, log_event

# Serialises BOM activations on PostgreSQL, so that two activations can never each pass the cycle check
# while together closing a cycle (SQLite serialises every writer already).
BOM_GRAPH_LOCK = 0x5B0A


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
    items = items_by_sku(line["part_number"] for line in lines)
    built = []
    for line in lines:
        check_fields(line, BOM_LINE_FIELDS | {"part_number"}, "BOM line")
        item = items[line["part_number"].strip()]
        fields = {k: v for k, v in line.items() if k != "part_number"}
        positive_int(fields.get("quantity"), "quantity")
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
    check_fields(fields, BOM_FIELDS, "bill of materials")
    with transaction.atomic():
        number = unique_number(BillOfMaterials, number)
        part_item = item_by_sku(part, "part") if part else None
        bom = BillOfMaterials(part=part_item, number=number, revision=_next_revision(part_item), **fields)
        lines = _build_bom_lines(bom, line_items)
        _check_cycles(part_item, [line.item for line in lines])
        bom.save()
        bom.assign_number()
        BillOfMaterialsLineItem.objects.bulk_create(lines)
        log_event(bom, "create", by=by, reason=count_of_lines(len(lines)) if lines else "")
    return bom


def bom_update(*, bill_of_materials: BillOfMaterials, by: Actor, part: str | None = None, **fields: Any):
    """Change header fields (any status). The part changes only on a draft (422 otherwise); the lines are
    then checked for cycles against it and the BOM takes the new part's next revision."""
    check_fields(fields, BOM_FIELDS, "bill of materials")
    with transaction.atomic():
        bom = lock(BillOfMaterials, bill_of_materials.pk)
        if part is not None and part != (bom.part.sku if bom.part_id else None):
            _require_draft(bom, "its part can change")
            item = item_by_sku(part, "part")
            _check_cycles(item, [line.item for line in bom.line_items.select_related("item")])
            bom.part = item
            bom.revision = _next_revision(item, exclude_pk=bom.pk)
        for name, value in fields.items():
            setattr(bom, name, value)
        bom.save()
        log_event(bom, "update", by=by, reason=changed_reason([*fields, *(["part"] if part is not None else [])]))
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
            events.emit(bom, "delete", by=by, snapshot=True)
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
    check_fields(fields, BOM_LINE_FIELDS, "BOM line")
    with transaction.atomic():
        bom = document_resolve(BillOfMaterials, bill_of_materials_number, "bill_of_materials_number")
        bom = lock(BillOfMaterials, bom.pk)
        _require_draft(bom, "lines change")
        (line,) = _build_bom_lines(bom, [{"part_number": part_number, "quantity": quantity, **fields}])
        _check_cycles(bom.part, [line.item])
        line.save()
        bom.save(update_fields=["updated_at"])
        events.emit(line, "create", by=by)
        log_event(bom, "add_line", by=by, reason=f"{line.quantity} x {line.item.sku}")
    return line


def bom_line_update(
    *, bill_of_materials_line_item: BillOfMaterialsLineItem, by: Actor, part_number: str | None = None, **fields
) -> BillOfMaterialsLineItem:
    """Change a line of a draft BOM (422 otherwise); a new component is checked for cycles."""
    check_fields(fields, BOM_LINE_FIELDS, "BOM line")
    if "quantity" in fields:
        positive_int(fields["quantity"], "quantity")
    with transaction.atomic():
        bom = lock(BillOfMaterials, bill_of_materials_line_item.bill_of_materials_id)
        _require_draft(bom, "lines change")
        line = BillOfMaterialsLineItem.objects.select_related("item").get(pk=bill_of_materials_line_item.pk)
        if part_number is not None and part_number.strip() != line.item.sku:
            line.item = item_by_sku(part_number, "part_number")
            _check_cycles(bom.part, [line.item])
        for name, value in fields.items():
            setattr(line, name, value)
        line.save()
        bom.save(update_fields=["updated_at"])
        events.emit(line, "update", by=by)
        log_event(
            bom,
            "change_line",
            by=by,
            reason=line_changed_reason(line.pk, [*fields, *(["part_number"] if part_number is not None else [])]),
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
        events.emit(line, "delete", by=by, snapshot=True)
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
    """What a build to stock did: the units of the part made at `location`, the components it consumed, and
    the ledger rows (the consumption, then the output)."""

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
    positive_int(quantity, "quantity")
    location = inv.location_resolve(location)
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


def require_active_bom(bom: BillOfMaterials) -> BillOfMaterials:
    """The BOM if it is active: work orders and manufacture order lines are planned from active ones only
    (422 `bom_not_active` otherwise)."""
    if bom.status != BomStatus.ACTIVE:
        raise BomNotActive(
            f"Bill of materials {bom.display_number} is {bom.status}; work is planned from active ones only.",
            errors={"bill_of_materials": bom.status},
        )
    return bom
