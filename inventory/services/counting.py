"""Writes for cycle counts (contract §2, "Cycle counts").

start snapshots each line's `quantity_expected` from `on_hand` at its location; count records what was
found; complete computes `variance_quantity` (counted − expected), `variance_cost` (unit cost × variance)
and `accuracy_rate`; reconcile posts each non-zero variance to the ledger once, as a `cycle_count` movement
applied to the *current* on hand (delta = variance), so stock that moved after the snapshot is not lost.
Each service is one transaction that locks the count first; refusals change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from inventory.errors import CountIncomplete, DocumentInUse, EmptyDocument, NotEditable
from inventory.models import CycleCount, CycleCountLineItem, Location, StockLevel
from inventory.services.catalog import items_by_sku, location_resolve
from inventory.services.purchasing import changed_reason, check_fields, count_of, number_check, whole_quantity
from inventory.services.stock import Source, stock_lock, stock_set_counted
from inventory.states import CountLineStatus, CycleCountStatus
from stateset import events
from stateset.actors import Actor
from stateset.errors import ValidationFailed
from stateset.fsm import apply_transition, check_transition, lock, log_event
from stateset.money import check_amounts_fit, round_cents

CC_FIELDS = {
    "site",
    "bin",
    "lot",
    "method",
    "assigned_user",
    "explanation",
    "standard_tracking",
    "serialized_tracking",
    "scheduled_start_date",
    "scheduled_end_date",
}


def _line_specs(
    *,
    lines: Sequence[Mapping[str, Any]] | None,
    part: str | None,
    quantity_expected: int | None,
    quantity_counted: int | None,
    header: Mapping[str, Any],
) -> list[dict[str, Any]] | None:
    """The lines to create: the given ones, or the documented single-part form (`part`,
    `quantity_expected`, `quantity_counted` on the header) as one line. None when neither is given."""
    single = part not in (None, "") or quantity_expected is not None or quantity_counted is not None
    if single and lines is not None:
        raise ValidationFailed(
            "Give either 'part' (a one-line count) or 'cycle_count_line_items', not both.",
            errors={"part": "not with cycle_count_line_items"},
        )
    if single:
        if part in (None, ""):
            raise ValidationFailed("A one-line count needs its 'part' (the SKU).", errors={"part": "required"})
        return [
            {
                "part": part,
                "bin": header.get("bin", ""),
                "lot": header.get("lot", ""),
                "quantity_expected": quantity_expected,
                "quantity_counted": quantity_counted,
            }
        ]
    return None if lines is None else list(lines)


def _set_lines(cc: CycleCount, specs: Sequence[Mapping[str, Any]]) -> None:
    """Replace an open count's lines: `[{part, location?, bin?, lot?, quantity_expected?, quantity_counted?,
    explanation?}]`; one line per part and location (the snapshot and the posting are per stock level)."""
    skus = [str(spec.get("part") or spec.get("sku") or "").strip() for spec in specs]
    if any(not sku for sku in skus):
        raise ValidationFailed("Every line needs its 'part' (the SKU).", errors={"cycle_count_line_items": "part"})
    items = items_by_sku(skus)
    rows, seen = [], set()
    for sku, spec in zip(skus, specs, strict=True):
        location = location_resolve(spec["location"]) if spec.get("location") not in (None, "") else cc.location
        if (sku, location.pk) in seen:
            raise ValidationFailed(
                f"{sku} at {location.code} is on more than one line.", errors={sku: "more than one line"}
            )
        seen.add((sku, location.pk))
        counted = spec.get("quantity_counted")
        if counted is not None:
            counted = whole_quantity(counted, "quantity_counted", minimum=0)
        expected = spec.get("quantity_expected")
        row = CycleCountLineItem(
            cycle_count=cc,
            item=items[sku],
            location=location,
            bin=spec.get("bin") or "",
            lot=spec.get("lot") or "",
            quantity_expected=None if expected is None else whole_quantity(expected, "quantity_expected", minimum=0),
            quantity_counted=counted,
            explanation=spec.get("explanation") or "",
            status=CountLineStatus.PENDING if counted is None else CountLineStatus.COUNTED,
        )
        _set_variance(row)
        rows.append(row)
    cc.lines.all().delete()
    CycleCountLineItem.objects.bulk_create(rows)


def _set_variance(row: CycleCountLineItem) -> None:
    if row.quantity_counted is None or row.quantity_expected is None or row.status == CountLineStatus.SKIPPED:
        row.variance_quantity = row.variance_cost = None
        return
    row.variance_quantity = row.quantity_counted - row.quantity_expected
    row.variance_cost = round_cents(row.item.unit_cost * row.variance_quantity)
    check_amounts_fit({"variance_cost": row.variance_cost}, what=f"The count of {row.item.sku}", max_digits=14)


def cycle_count_create(
    *,
    by: Actor,
    lines: Sequence[Mapping[str, Any]] | None = None,
    cycle_count_number: str | None = None,
    location: Location | str | None = None,
    part: str | None = None,
    quantity_expected: int | None = None,
    quantity_counted: int | None = None,
    **fields: Any,
) -> CycleCount:
    """An open count at `location` (default MAIN) with its lines, or the single-part form as one line.
    A client-given `quantity_expected` is replaced by the snapshot at start; a `quantity_counted` given now
    marks the line counted. The number is the client's (unique) or generated (`CC-000042`)."""
    check_fields(fields, CC_FIELDS, "cycle count")
    specs = _line_specs(
        lines=lines, part=part, quantity_expected=quantity_expected, quantity_counted=quantity_counted, header=fields
    )
    with transaction.atomic():
        number = (
            number_check(
                CycleCount,
                cycle_count_number,
                field="cycle_count_number",
                label="cycle count",
                key="cycle_count_number",
            )
            if cycle_count_number
            else None
        )
        cc = CycleCount.objects.create(cycle_count_number=number, location=location_resolve(location), **fields)
        if specs:
            _set_lines(cc, specs)
        cc.assign_number()
        log_event(cc, "create", by=by, reason=count_of(len(specs), "line") if specs else "")
    return cc


def cycle_count_update(
    *,
    cycle_count: CycleCount,
    by: Actor,
    lines: Sequence[Mapping[str, Any]] | None = None,
    location: Location | str | None = None,
    part: str | None = None,
    quantity_expected: int | None = None,
    quantity_counted: int | None = None,
    **fields: Any,
) -> CycleCount:
    """Change the count's description (dates, assignee, method, ...) until it is reconciled or cancelled;
    its lines and location only while open (422 `not_editable`). Counts are recorded with the count action."""
    check_fields(fields, CC_FIELDS, "cycle count")
    specs = _line_specs(
        lines=lines, part=part, quantity_expected=quantity_expected, quantity_counted=quantity_counted, header=fields
    )
    with transaction.atomic():
        cc = lock(CycleCount, cycle_count.pk)
        new = location_resolve(location) if location not in (None, "") else None
        if new is not None and new.pk == cc.location_id:
            new = None  # unchanged (a PUT echoing the count)
        if cc.status in (CycleCountStatus.RECONCILED, CycleCountStatus.CANCELLED):
            raise NotEditable(f"Cycle count {cc.display_number} is {cc.status}.", errors={"status": cc.status})
        if (specs is not None or new is not None) and cc.status != CycleCountStatus.OPEN:
            raise NotEditable(
                f"Cycle count {cc.display_number} is {cc.status}: its lines and location can change only while open.",
                errors={"status": cc.status},
            )
        if new is not None:
            # Lines that count at the count's location follow it.
            cc.lines.filter(location=cc.location).update(location=new)
            cc.location = new
        for name, value in fields.items():
            setattr(cc, name, value)
        if specs is not None:
            _set_lines(cc, specs)
        cc.save()
        given = {
            "lines": lines,
            "location": location,
            "part": part,
            "quantity_expected": quantity_expected,
            "quantity_counted": quantity_counted,
        }
        names = [*fields, *(name for name, value in given.items() if value is not None)]
        note = f"replaced the lines: {count_of(len(specs), 'line')}" if specs is not None else ""
        log_event(cc, "update", by=by, reason=changed_reason(names, note))
    return cc


def cycle_count_delete(*, cycle_count: CycleCount, by: Actor) -> None:
    """Delete a count that never started; later it is a 422 (cancel it: the history stays)."""
    with transaction.atomic():
        cc = lock(CycleCount, cycle_count.pk)
        if cc.status != CycleCountStatus.OPEN:
            raise DocumentInUse(
                f"Cycle count {cc.display_number} is {cc.status}; only an open count can be deleted (cancel it).",
                errors={"status": cc.status},
            )
        events.emit(cc, "delete", by=by, snapshot=True)
        cc.delete()


def _save_lines(rows: list[CycleCountLineItem], fields: list[str]) -> None:
    now = timezone.now()
    for row in rows:
        row.updated_at = now
    CycleCountLineItem.objects.bulk_update(rows, [*fields, "updated_at"])


def _rows(cc: CycleCount) -> list[CycleCountLineItem]:
    return list(cc.lines.select_related("item", "location").order_by("pk"))


def cycle_count_start(*, cycle_count: CycleCount, by: Actor, reason: str = "") -> CycleCount:
    """open → in_progress: every line's `quantity_expected` becomes the on hand at its location now.
    Needs at least one line (422 `document_empty`)."""
    with transaction.atomic():
        cc = lock(CycleCount, cycle_count.pk)
        if cc.status == CycleCountStatus.OPEN and not cc.lines.exists():
            raise EmptyDocument(
                f"Cycle count {cc.display_number} has no lines; add a part to count first.",
                errors={"cycle_count_line_items": "at least one line is needed"},
            )
        check_transition(cc, "start", by=by)
        rows = _rows(cc)
        on_hand = {
            (level.item_id, level.location_id): level.on_hand
            for level in StockLevel.objects.filter(
                item_id__in={r.item_id for r in rows}, location_id__in={r.location_id for r in rows}
            )
        }
        for row in rows:
            row.quantity_expected = on_hand.get((row.item_id, row.location_id), 0)
            _set_variance(row)
        _save_lines(rows, ["quantity_expected", "variance_quantity", "variance_cost"])
        apply_transition(cc, "start", by=by, reason=reason)
    return cc


def _find_line(cc: CycleCount, rows: list[CycleCountLineItem], entry: Mapping[str, Any]) -> CycleCountLineItem:
    if entry.get("line_id") is not None:
        found = [r for r in rows if r.pk == int(entry["line_id"])]
        what = f"line {entry['line_id']}"
    elif entry.get("sku") or entry.get("part"):
        sku = str(entry.get("sku") or entry.get("part"))
        found = [r for r in rows if r.item.sku == sku]
        what = f"SKU {sku}"
        if len(found) > 1:
            raise ValidationFailed(
                f"{what} is counted at several locations on {cc.display_number}; name the line by 'line_id'.",
                errors={"line_id": "required for this SKU"},
            )
    else:
        raise ValidationFailed("Each line needs 'line_id' or 'sku'.", errors={"lines": "line_id or sku"})
    if not found:
        raise ValidationFailed(f"{what} is not on cycle count {cc.display_number}.", errors={"lines": what})
    return found[0]


def cycle_count_count(
    *, cycle_count: CycleCount, by: Actor, lines: Sequence[Mapping[str, Any]], reason: str = ""
) -> CycleCount:
    """Record counts while in_progress: `[{line_id or sku, quantity_counted, explanation?}]`, or
    `{line_id or sku, skip: true, explanation}` for a line that cannot be counted. A line may be recounted
    until complete; the status does not change."""
    with transaction.atomic():
        cc = lock(CycleCount, cycle_count.pk)
        check_transition(cc, "count", by=by)
        if not lines:
            raise ValidationFailed("Name at least one line.", errors={"lines": "at least one line"})
        rows = _rows(cc)
        changed: dict[int, CycleCountLineItem] = {}
        for entry in lines:
            row = _find_line(cc, rows, entry)
            if "explanation" in entry and entry["explanation"] is not None:
                row.explanation = entry["explanation"]
            if entry.get("skip"):
                if not row.explanation.strip():
                    raise ValidationFailed(
                        f"Skipping {row.item.sku} needs an 'explanation'.", errors={"explanation": "required to skip"}
                    )
                row.quantity_counted, row.status = None, CountLineStatus.SKIPPED
            else:
                if entry.get("quantity_counted") is None:
                    raise ValidationFailed(
                        f"{row.item.sku}: 'quantity_counted' is required.", errors={"quantity_counted": "required"}
                    )
                row.quantity_counted = whole_quantity(entry["quantity_counted"], "quantity_counted", minimum=0)
                row.status = CountLineStatus.COUNTED
            _set_variance(row)
            changed[row.pk] = row
        _save_lines(
            list(changed.values()),
            ["quantity_counted", "status", "explanation", "variance_quantity", "variance_cost"],
        )
        summary = ", ".join(
            f"{r.item.sku} {'skipped' if r.status == CountLineStatus.SKIPPED else r.quantity_counted}"
            for r in changed.values()
        )
        apply_transition(cc, "count", by=by, reason=f"{reason} (counted {summary})".strip())
    return cc


def cycle_count_complete(*, cycle_count: CycleCount, by: Actor, reason: str = "") -> CycleCount:
    """in_progress → counted once every line is counted or skipped (422 `count_incomplete` naming the rest):
    variances final, `accuracy_rate` = % of counted lines with no variance, `completed_date` now."""
    with transaction.atomic():
        cc = lock(CycleCount, cycle_count.pk)
        check_transition(cc, "complete", by=by)
        rows = _rows(cc)
        pending = [r for r in rows if r.status == CountLineStatus.PENDING]
        if pending:
            listed = ", ".join(f"{r.item.sku}@{r.location.code}" for r in pending)
            raise CountIncomplete(
                f"Cycle count {cc.display_number} still has lines to count: {listed}.",
                errors={f"{r.item.sku}@{r.location.code}": "not counted" for r in pending},
            )
        for row in rows:
            _set_variance(row)
        _save_lines(rows, ["variance_quantity", "variance_cost"])
        counted = [r for r in rows if r.status == CountLineStatus.COUNTED]
        accuracy = None
        if counted:
            exact = sum(1 for r in counted if r.variance_quantity == 0)
            accuracy = round_cents(Decimal(100 * exact) / len(counted))
        apply_transition(cc, "complete", by=by, reason=reason, completed_date=timezone.now(), accuracy_rate=accuracy)
    return cc


def cycle_count_reconcile(*, cycle_count: CycleCount, by: Actor, reason: str = "") -> CycleCount:
    """counted → reconciled: one ledger `cycle_count` movement per line with a variance, of exactly that
    variance, on the current on hand; those lines become `adjusted`. Exactly once (the status guards it).
    A posting that would leave a level below what is allocated is 422 `insufficient_stock`, and nothing is
    posted. Needs `inventory.reconcile_cyclecount`."""
    with transaction.atomic():
        cc = lock(CycleCount, cycle_count.pk)
        check_transition(cc, "reconcile", by=by)
        rows = [r for r in _rows(cc) if r.status == CountLineStatus.COUNTED and r.variance_quantity]
        stock_lock((r.item, r.location) for r in rows)
        source = Source("cycle_count", cc.pk, cc.cycle_count_number or "")
        for row in rows:
            stock_set_counted(
                inventory_item=row.item,
                location=row.location,
                delta=row.variance_quantity,
                source=source,
                by=by,
                note=row.explanation,
            )
            row.status = CountLineStatus.ADJUSTED
        _save_lines(rows, ["status"])
        apply_transition(cc, "reconcile", by=by, reason=reason)
    return cc


def cycle_count_cancel(*, cycle_count: CycleCount, by: Actor, reason: str = "") -> CycleCount:
    """open, in_progress, counted → cancelled; nothing is posted."""
    with transaction.atomic():
        cc = lock(CycleCount, cycle_count.pk)
        apply_transition(cc, "cancel", by=by, reason=reason)
    return cc
