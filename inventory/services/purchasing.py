"""Writes for the inbound documents: purchase orders and packing lists (contract §2).

Each service is one transaction that locks its document row first (`stateset.fsm.lock`), checks the
transition (permission 403, status 422) before touching anything, then changes stock only through
`inventory.services.stock` and finally runs the transition, which writes the audit row. A refusal raises before
or inside the transaction, so nothing of it stays. Lock order: packing list, then its purchase order, then
stock levels (in primary-key order, `stock.stock_lock`).

Stock effects:
- purchase order send: `incoming += quantity_ordered` per line at the order's location;
- receive (and a linked packing list item's arrival): ledger `receipt`, `incoming -= q`, `on_hand += q`,
  `quantity_received += q`; more than a line's outstanding quantity is `over_receipt` and nothing moves;
- complete / cancel (when ordered): the outstanding quantity leaves `incoming`;
- packing list submit: `incoming +=` its items unless it belongs to a purchase order, which already counts
  them; an item's arrival moves its quantity from `incoming` to `on_hand` exactly once; cancel gives back the
  incoming it added for items that did not arrive.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import F, ProtectedError
from django.utils import timezone

from inventory.errors import (
    AlreadyArrived,
    DocumentInUse,
    EmptyDocument,
    NotEditable,
    OverReceipt,
    PurchaseOrderNotReceiving,
    SkuNotOnPurchaseOrder,
    UnknownPurchaseOrder,
)
from inventory.models import (
    InventoryItem,
    Location,
    PackingList,
    PackingListItem,
    PurchaseOrder,
    PurchaseOrderLineItem,
)
from inventory.services.catalog import items_by_sku, location_resolve
from inventory.services.stock import Source, stock_incoming, stock_lock, stock_receive
from inventory.states import PO_NOT_SENT, PO_RECEIVING, PackingListStatus, PurchaseOrderStatus
from stateset import events
from stateset.actors import Actor
from stateset.errors import ValidationFailed
from stateset.fsm import apply_transition, check_transition, lock, log_event
from stateset.ids import as_id
from stateset.money import ZERO, check_amounts_fit, round_cents

# ---- shared with counting: document numbers, field checks, the wording of history rows ---------------------


def number_check(model, number: str, *, field: str, label: str, key: str, instance=None) -> str:
    """A client-chosen document number, stripped: 400 if another document has it (case-insensitively). A
    number of the generated form is allowed: should generation reach it later, NumberedModel suffixes the
    generated one."""
    number = number.strip()
    if instance is not None and getattr(instance, field) == number:
        return number
    others = model.objects.exclude(pk=instance.pk) if instance is not None else model.objects.all()
    if others.filter(**{f"{field}__iexact": number}).exists():
        raise ValidationFailed(f"A {label} with the number '{number}' already exists.", errors={key: "already used"})
    return number


def check_fields(fields: Mapping[str, Any], allowed: set[str], what: str) -> None:
    """A field the service does not know is a programming error (TypeError), never silently dropped."""
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"{what} fields not known: {sorted(unknown)}")


def changed_reason(names: Sequence[str], *notes: str) -> str:
    """The reason of an `update` history row: "changed a, b" (the fields given, as orders and returns say it),
    then any notes, joined by "; "."""
    return "; ".join(filter(None, [f"changed {', '.join(sorted(names)) or 'nothing'}", *notes]))


def count_of(n: int, noun: str) -> str:
    """ "1 line", "3 lines": for the reasons on history rows."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def whole_quantity(value: Any, key: str, *, minimum: int = 1) -> int:
    """`value` if it is an integer (not a bool) of at least `minimum`; a 400 naming `key` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationFailed(
            f"'{key}' must be an integer of at least {minimum}.", errors={key: f"integer >= {minimum}"}
        )
    return value


def _resolve_skus(specs: Sequence[Mapping[str, Any]], key: str) -> dict[str, InventoryItem]:
    """The items for the `sku` of each line spec, in one query; 400 naming unknown SKUs or repeated ones."""
    skus = [str(spec.get("sku") or "").strip() for spec in specs]
    if any(not sku for sku in skus):
        raise ValidationFailed("Every line needs a 'sku'.", errors={key: "every line needs a sku"})
    repeated = sorted(sku for sku, n in Counter(skus).items() if n > 1)
    if repeated:
        raise ValidationFailed(
            f"SKU {', '.join(repeated)} appears on more than one line; put each SKU on one line.",
            errors=dict.fromkeys(repeated, "on more than one line"),
        )
    return items_by_sku(skus)


# ---- purchase orders ---------------------------------------------------------------------------------------

PO_FIELDS = {
    "purchase_order_name",
    "description",
    "vendor",
    "purchaser",
    "fulfiller",
    "location",
    "purchase_date",
    "delivery_date",
    "external_id",
    "purchase_order_hash",
    "transaction_id",
}


def _po_source(po: PurchaseOrder) -> Source:
    return Source("purchase_order", po.pk, po.purchase_order_number or "")


def _set_po_lines(po: PurchaseOrder, specs: Sequence[Mapping[str, Any]]) -> None:
    """Replace the lines of a draft (or new) purchase order and recompute its totals.

    A spec is `{sku, quantity_ordered, unit_cost?, description?}`; unit cost and description default to the
    item's."""
    items = _resolve_skus(specs, "purchase_order_line_items")
    lines = []
    for spec in specs:
        item = items[str(spec["sku"]).strip()]
        unit_cost = spec.get("unit_cost")
        lines.append(
            PurchaseOrderLineItem(
                purchase_order=po,
                item=item,
                description=spec.get("description") or item.description,
                quantity_ordered=whole_quantity(spec.get("quantity_ordered"), "quantity_ordered"),
                unit_cost=item.unit_cost if unit_cost is None else round_cents(unit_cost),
            )
        )
    subtotal = round_cents(sum((line.line_total for line in lines), ZERO))
    check_amounts_fit({"subtotal": subtotal}, what="A purchase order", max_digits=14)
    po.lines.all().delete()
    PurchaseOrderLineItem.objects.bulk_create(lines)
    # A purchase order carries no tax or shipping of its own: its total is its lines' total.
    po.subtotal = po.total = subtotal


def purchase_order_create(
    *,
    by: Actor,
    lines: Sequence[Mapping[str, Any]] = (),
    purchase_order_number: str | None = None,
    location: Location | str | None = None,
    **fields: Any,
) -> PurchaseOrder:
    """A draft purchase order with its lines (one per SKU). The number is the client's (unique) or generated
    (`PO-000042`); `location` (where goods arrive) defaults to MAIN."""
    check_fields(fields, PO_FIELDS, "purchase order")
    with transaction.atomic():
        number = (
            number_check(
                PurchaseOrder,
                purchase_order_number,
                field="purchase_order_number",
                label="purchase order",
                key="purchase_order_number",
            )
            if purchase_order_number
            else None
        )
        po = PurchaseOrder.objects.create(purchase_order_number=number, location=location_resolve(location), **fields)
        if lines:
            _set_po_lines(po, lines)
            po.save()
        po.assign_number()
        log_event(po, "create", by=by, reason=f"{count_of(len(lines), 'line')}, total {po.total}" if lines else "")
    return po


def purchase_order_update(
    *, purchase_order: PurchaseOrder, by: Actor, lines: Sequence[Mapping[str, Any]] | None = None, **fields: Any
) -> PurchaseOrder:
    """Change header fields in any status. The lines can be replaced only while draft, and the location only
    until the order is sent (its incoming is counted there from then on): 422 `not_editable` otherwise."""
    check_fields(fields, PO_FIELDS, "purchase order")
    with transaction.atomic():
        po = lock(PurchaseOrder, purchase_order.pk)
        if lines is not None and po.status != PurchaseOrderStatus.DRAFT:
            raise NotEditable(
                f"Purchase order {po.display_number} is {po.status}: its lines can change only while draft.",
                errors={"purchase_order_line_items": f"not editable while {po.status}"},
            )
        if "location" in fields:
            fields["location"] = location_resolve(fields["location"])
            if fields["location"].pk != po.location_id and po.status not in PO_NOT_SENT:
                raise NotEditable(
                    f"Purchase order {po.display_number} is {po.status}: its location can change only before "
                    "it is sent.",
                    errors={"location": f"not editable while {po.status}"},
                )
        for name, value in fields.items():
            setattr(po, name, value)
        note = ""
        if lines is not None:
            before = po.total
            _set_po_lines(po, lines)
            note = f"replaced the lines: {count_of(len(lines), 'line')}, total {before} to {po.total}"
        po.save()
        log_event(
            po, "update", by=by, reason=changed_reason([*fields, *(["lines"] if lines is not None else [])], note)
        )
    return po


def purchase_order_delete(*, purchase_order: PurchaseOrder, by: Actor) -> None:
    """Delete a draft that no packing list points at. Anything later is a 422: cancel it instead."""
    with transaction.atomic():
        po = lock(PurchaseOrder, purchase_order.pk)
        if po.status != PurchaseOrderStatus.DRAFT:
            raise DocumentInUse(
                f"Purchase order {po.display_number} is {po.status}; only a draft can be deleted (cancel it).",
                errors={"status": po.status},
            )
        try:
            events.emit(po, "delete", by=by, snapshot=True)
            po.delete()
        except ProtectedError:
            raise DocumentInUse(
                f"Packing lists point at purchase order {po.display_number}; it cannot be deleted.",
                errors={"packing_lists": "linked"},
            )


def _po_transition(purchase_order: PurchaseOrder, name: str, *, by: Actor, reason: str = "", **kwargs) -> PurchaseOrder:
    with transaction.atomic():
        po = lock(PurchaseOrder, purchase_order.pk)
        apply_transition(po, name, by=by, reason=reason, **kwargs)
    return po


def purchase_order_submit(*, purchase_order: PurchaseOrder, by: Actor, reason: str = "") -> PurchaseOrder:
    """draft → submitted. Needs at least one line (422 `document_empty`)."""
    with transaction.atomic():
        po = lock(PurchaseOrder, purchase_order.pk)
        if po.status == PurchaseOrderStatus.DRAFT and not po.lines.exists():
            raise EmptyDocument(
                f"Purchase order {po.display_number} has no lines; add at least one before submitting.",
                errors={"purchase_order_line_items": "at least one line is needed"},
            )
        apply_transition(po, "submit", by=by, reason=reason)
    return po


def purchase_order_approve(*, purchase_order: PurchaseOrder, by: Actor, reason: str = "") -> PurchaseOrder:
    """submitted → approved. Needs `inventory.approve_purchaseorder`."""
    return _po_transition(purchase_order, "approve", by=by, reason=reason)


def purchase_order_reject(*, purchase_order: PurchaseOrder, by: Actor, reason: str) -> PurchaseOrder:
    """submitted → rejected, keeping the reason. Needs `inventory.approve_purchaseorder`."""
    if not (reason or "").strip():
        raise ValidationFailed("A rejection needs a 'reason'.", errors={"reason": "required"})
    return _po_transition(purchase_order, "reject", by=by, reason=reason, rejection_reason=reason)


def purchase_order_send(*, purchase_order: PurchaseOrder, by: Actor, reason: str = "") -> PurchaseOrder:
    """approved → ordered: every line's `quantity_ordered` becomes `incoming` at the order's location.
    Needs `inventory.send_purchaseorder`."""
    with transaction.atomic():
        po = lock(PurchaseOrder, purchase_order.pk)
        check_transition(po, "send", by=by)
        lines = list(po.lines.select_related("item").order_by("item_id"))
        stock_lock((line.item, po.location) for line in lines)
        for line in lines:
            stock_incoming(inventory_item=line.item, location=po.location, delta=line.quantity_ordered, by=by)
        apply_transition(po, "send", by=by, reason=reason)
    return po


def _book_receipt(
    po: PurchaseOrder,
    line: PurchaseOrderLineItem,
    quantity: int,
    *,
    location: Location,
    source: Source,
    by: Actor,
    note: str = "",
) -> None:
    """Receive `quantity` of a line of a locked, receiving order: from its incoming at the order's location
    onto the shelf at `location` (a receipt elsewhere takes the incoming off the order's location)."""
    if quantity > line.outstanding:
        raise OverReceipt(
            f"{line.item.sku}: receiving {quantity} would exceed the {line.outstanding} outstanding on "
            f"purchase order {po.display_number} (ordered {line.quantity_ordered}, received "
            f"{line.quantity_received}).",
            errors={line.item.sku: f"outstanding {line.outstanding}, receiving {quantity}"},
        )
    if location.pk == po.location_id:
        stock_receive(
            inventory_item=line.item,
            location=location,
            quantity=quantity,
            source=source,
            by=by,
            from_incoming=True,
            note=note,
        )
    else:
        stock_incoming(inventory_item=line.item, location=po.location, delta=-quantity, by=by)
        stock_receive(inventory_item=line.item, location=location, quantity=quantity, source=source, by=by, note=note)
    PurchaseOrderLineItem.objects.filter(pk=line.pk).update(
        quantity_received=F("quantity_received") + quantity, updated_at=timezone.now()
    )
    line.quantity_received += quantity


def _receipt_plan(
    po: PurchaseOrder, lines: list[PurchaseOrderLineItem], wanted: Sequence[Mapping[str, Any]] | None
) -> dict[int, int]:
    """{line pk: quantity} from `[{line_id or sku, quantity}]`; None means everything outstanding."""
    if wanted is None:
        return {line.pk: line.outstanding for line in lines if line.outstanding}
    by_pk = {line.pk: line for line in lines}
    by_sku = {line.item.sku: line for line in lines}
    plan: dict[int, int] = defaultdict(int)
    if not wanted:
        raise ValidationFailed("Name at least one line to receive.", errors={"lines": "at least one line"})
    for entry in wanted:
        quantity = whole_quantity(entry.get("quantity"), "quantity")
        if entry.get("line_id") is not None:
            line = by_pk.get(int(entry["line_id"]))
            if line is None:
                raise ValidationFailed(
                    f"Line {entry['line_id']} is not a line of purchase order {po.display_number}.",
                    errors={"line_id": f"not a line of {po.display_number}"},
                )
        elif entry.get("sku"):
            line = by_sku.get(str(entry["sku"]))
            if line is None:
                raise SkuNotOnPurchaseOrder(
                    f"SKU {entry['sku']} is not on purchase order {po.display_number}.",
                    errors={str(entry["sku"]): "not on the purchase order"},
                )
        else:
            raise ValidationFailed("Each line needs 'line_id' or 'sku'.", errors={"lines": "line_id or sku"})
        plan[line.pk] += quantity
    return dict(plan)


def purchase_order_receive(
    *,
    purchase_order: PurchaseOrder,
    by: Actor,
    lines: Sequence[Mapping[str, Any]] | None = None,
    location: Location | str | None = None,
    reason: str = "",
) -> PurchaseOrder:
    """Book a receipt: `lines` `[{line_id or sku, quantity}]`, or everything outstanding when None (the
    admin's action). Goods go on hand at `location` (default: the order's). Any line above its outstanding
    quantity is 422 `over_receipt` and nothing moves. ordered, partially_received → partially_received, or
    received once every line is complete. Needs `inventory.receive_purchaseorder`."""
    with transaction.atomic():
        po = lock(PurchaseOrder, purchase_order.pk)
        check_transition(po, "receive", by=by)
        target = location_resolve(location) if location not in (None, "") else po.location
        po_lines = list(po.lines.select_related("item").order_by("pk"))
        plan = _receipt_plan(po, po_lines, lines)
        over = [line for line in po_lines if plan.get(line.pk, 0) > line.outstanding]
        if over:
            raise OverReceipt(
                "Over-receipt on purchase order {}: {}.".format(
                    po.display_number,
                    "; ".join(f"{ln.item.sku} receiving {plan[ln.pk]}, outstanding {ln.outstanding}" for ln in over),
                ),
                errors={ln.item.sku: f"outstanding {ln.outstanding}, receiving {plan[ln.pk]}" for ln in over},
            )
        if not plan:
            raise OverReceipt(
                f"Purchase order {po.display_number} has nothing outstanding to receive.", errors={"lines": "none"}
            )
        stock_lock([(line.item, po.location) for line in po_lines] + [(line.item, target) for line in po_lines])
        source = _po_source(po)
        for line in po_lines:
            if plan.get(line.pk):
                _book_receipt(po, line, plan[line.pk], location=target, source=source, by=by)
        received = ", ".join(f"{ln.item.sku} × {plan[ln.pk]}" for ln in po_lines if plan.get(ln.pk))
        apply_transition(
            po,
            "receive",
            by=by,
            reason=f"{reason} (received {received})".strip(),
            fully_received=all(line.outstanding == 0 for line in po_lines),
        )
    return po


def _release_outstanding(po: PurchaseOrder, by: Actor) -> None:
    lines = [line for line in po.lines.select_related("item").order_by("item_id") if line.outstanding]
    stock_lock((line.item, po.location) for line in lines)
    for line in lines:
        stock_incoming(inventory_item=line.item, location=po.location, delta=-line.outstanding, by=by)


def purchase_order_complete(*, purchase_order: PurchaseOrder, by: Actor, reason: str = "") -> PurchaseOrder:
    """ordered, partially_received → received, closing short: what is still outstanding leaves `incoming`.
    Needs `inventory.receive_purchaseorder`."""
    with transaction.atomic():
        po = lock(PurchaseOrder, purchase_order.pk)
        check_transition(po, "complete", by=by)
        _release_outstanding(po, by)
        apply_transition(po, "complete", by=by, reason=reason)
    return po


def purchase_order_cancel(*, purchase_order: PurchaseOrder, by: Actor, reason: str = "") -> PurchaseOrder:
    """draft, submitted, approved, ordered → cancelled; an ordered one's quantities leave `incoming`.
    Needs `inventory.cancel_purchaseorder`."""
    with transaction.atomic():
        po = lock(PurchaseOrder, purchase_order.pk)
        check_transition(po, "cancel", by=by)
        if po.status in PO_RECEIVING:
            _release_outstanding(po, by)
        apply_transition(po, "cancel", by=by, reason=reason, cancel_reason=reason)
    return po


def purchase_order_finance(*, purchase_order: PurchaseOrder, by: Actor, financer: str) -> PurchaseOrder:
    """Record who finances the order (`financer`, `financed: true`); the status does not change. From
    approved on. Needs `inventory.finance_purchaseorder`."""
    if not (financer or "").strip():
        raise ValidationFailed("'financer' is required.", errors={"financer": "required"})
    return _po_transition(purchase_order, "finance", by=by, reason=f"financed by {financer}", financer=financer)


# ---- packing lists -----------------------------------------------------------------------------------------

PL_FIELDS = {"delivery_date", "arrival_date", "invoice_number", "ship_per", "tracking_number"}


def purchase_order_resolve(value: PurchaseOrder | str | int | None) -> PurchaseOrder | None:
    """A purchase order from itself, its number, or its id; None stays None. Unknown is a 400."""
    if value in (None, "") or isinstance(value, PurchaseOrder):
        return value or None
    po = PurchaseOrder.objects.filter(purchase_order_number__iexact=str(value)).first()
    if po is None and (pk := as_id(value)) is not None:
        po = PurchaseOrder.objects.filter(pk=pk).first()
    if po is None:
        raise UnknownPurchaseOrder(
            f"Unknown purchase order '{value}'.", errors={"purchase_order_number": f"unknown purchase order {value}"}
        )
    return po


def _pl_place(purchase_order: PurchaseOrder | None, location: Location | str | None) -> Location:
    """Where a packing list's goods arrive: its purchase order's location (a different one is a 400), else
    the given location, else MAIN."""
    if purchase_order is None:
        return location_resolve(location)
    if location not in (None, ""):
        given = location_resolve(location)
        if given.pk != purchase_order.location_id:
            raise ValidationFailed(
                f"Purchase order {purchase_order.display_number} arrives at {purchase_order.location.code}; a "
                f"packing list for it cannot arrive at {given.code}.",
                errors={"location": f"must be {purchase_order.location.code}"},
            )
    return purchase_order.location


def _set_pl_items(pl: PackingList, specs: Sequence[Mapping[str, Any]]) -> None:
    """Replace a draft's items: `[{sku, quantity, description?}]`."""
    items = _resolve_skus(specs, "packing_list_items")
    rows = [
        PackingListItem(
            packing_list=pl,
            item=items[str(spec["sku"]).strip()],
            description=spec.get("description") or items[str(spec["sku"]).strip()].description,
            quantity=whole_quantity(spec.get("quantity"), "quantity"),
        )
        for spec in specs
    ]
    pl.items.all().delete()
    PackingListItem.objects.bulk_create(rows)


def _require_draft(pl: PackingList, what: str) -> None:
    if pl.status != PackingListStatus.DRAFT:
        raise NotEditable(
            f"Packing list {pl.display_number} is {pl.status}: {what} can change only while draft.",
            errors={"status": pl.status},
        )


def packing_list_create(
    *,
    by: Actor,
    items: Sequence[Mapping[str, Any]] = (),
    number: str | None = None,
    purchase_order: PurchaseOrder | str | None = None,
    location: Location | str | None = None,
    **fields: Any,
) -> PackingList:
    """A draft packing list with its items, optionally for a purchase order (by number), whose location it
    takes. The number is the client's (unique) or generated (`PL-000042`)."""
    check_fields(fields, PL_FIELDS, "packing list")
    with transaction.atomic():
        number = (
            number_check(PackingList, number, field="number", label="packing list", key="number") if number else None
        )
        po = purchase_order_resolve(purchase_order)
        pl = PackingList.objects.create(number=number, purchase_order=po, location=_pl_place(po, location), **fields)
        if items:
            _set_pl_items(pl, items)
        pl.assign_number()
        log_event(pl, "create", by=by, reason=count_of(len(items), "item") if items else "")
    return pl


_UNSET = object()


def packing_list_update(
    *,
    packing_list: PackingList,
    by: Actor,
    items: Sequence[Mapping[str, Any]] | None = None,
    purchase_order: Any = _UNSET,
    location: Any = _UNSET,
    **fields: Any,
) -> PackingList:
    """Change the shipment's papers (dates, invoice, carrier, tracking) in any status; its items, purchase
    order and location only while draft (422 `not_editable`)."""
    check_fields(fields, PL_FIELDS, "packing list")
    with transaction.atomic():
        pl = lock(PackingList, packing_list.pk)
        po = purchase_order_resolve(purchase_order) if purchase_order is not _UNSET else pl.purchase_order
        place = po.location if po is not None else pl.location
        if location is not _UNSET:
            place = _pl_place(po, location)
        moved = (po.pk if po else None) != pl.purchase_order_id or place.pk != pl.location_id
        if items is not None or moved:
            _require_draft(pl, "its items, purchase order and location")
        pl.purchase_order, pl.location = po, place
        for name, value in fields.items():
            setattr(pl, name, value)
        if items is not None:
            _set_pl_items(pl, items)
        pl.save()
        names = [*fields, *(["items"] if items is not None else [])]
        names += [
            name for name, value in (("purchase_order", purchase_order), ("location", location)) if value is not _UNSET
        ]
        note = f"replaced the items: {count_of(len(items), 'item')}" if items is not None else ""
        log_event(pl, "update", by=by, reason=changed_reason(names, note))
    return pl


def packing_list_delete(*, packing_list: PackingList, by: Actor) -> None:
    """Delete a draft (nothing was counted yet); later it is a 422: cancel it instead."""
    with transaction.atomic():
        pl = lock(PackingList, packing_list.pk)
        if pl.status != PackingListStatus.DRAFT:
            raise DocumentInUse(
                f"Packing list {pl.display_number} is {pl.status}; only a draft can be deleted (cancel it).",
                errors={"status": pl.status},
            )
        events.emit(pl, "delete", by=by, snapshot=True)
        pl.delete()


def packing_list_submit(*, packing_list: PackingList, by: Actor, reason: str = "") -> PackingList:
    """draft → submitted. An unlinked list adds its items to `incoming` at its location. A list for a
    purchase order adds nothing: the order must be sent (ordered or partially_received, 422
    `purchase_order_not_receiving` otherwise), its incoming already counts the goods, and every item's SKU
    must be on it (422 `sku_not_on_purchase_order`)."""
    with transaction.atomic():
        pl = lock(PackingList, packing_list.pk)
        if pl.status == PackingListStatus.DRAFT and not pl.items.exists():
            raise EmptyDocument(
                f"Packing list {pl.display_number} has no items; add at least one before submitting.",
                errors={"packing_list_items": "at least one item is needed"},
            )
        check_transition(pl, "submit", by=by)
        items = list(pl.items.select_related("item").order_by("item_id"))
        if pl.purchase_order_id:
            po = lock(PurchaseOrder, pl.purchase_order_id)
            if po.status not in PO_RECEIVING:
                raise PurchaseOrderNotReceiving(
                    f"Purchase order {po.display_number} is {po.status}; a packing list for it can be submitted "
                    "once it is sent (ordered or partially_received).",
                    errors={"purchase_order_number": po.status},
                )
            on_order = set(po.lines.values_list("item_id", flat=True))
            missing = sorted({row.item.sku for row in items if row.item_id not in on_order})
            if missing:
                raise SkuNotOnPurchaseOrder(
                    f"SKU {', '.join(missing)} is not on purchase order {po.display_number}.",
                    errors=dict.fromkeys(missing, "not on the purchase order"),
                )
            pl.location_id = po.location_id  # its goods arrive where the order is expected
            apply_transition(pl, "submit", by=by, reason=reason, incoming_added=False)
            return pl
        stock_lock((row.item, pl.location) for row in items)
        for row in items:
            stock_incoming(inventory_item=row.item, location=pl.location, delta=row.quantity, by=by)
        apply_transition(pl, "submit", by=by, reason=reason, incoming_added=True)
    return pl


def packing_list_ship(*, packing_list: PackingList, by: Actor, reason: str = "") -> PackingList:
    """submitted → shipped (in transit)."""
    with transaction.atomic():
        pl = lock(PackingList, packing_list.pk)
        apply_transition(pl, "ship", by=by, reason=reason)
    return pl


def _refuse_second_arrival(pl: PackingList, row: PackingListItem) -> None:
    if row.arrived:
        raise AlreadyArrived(
            f"Item {row.pk} ({row.item.sku} × {row.quantity}) of packing list {pl.display_number} has already "
            "arrived; an arrival is booked once.",
            errors={"arrived": "already arrived"},
        )


def _arrive(pl: PackingList, row: PackingListItem, *, by: Actor, po: PurchaseOrder | None) -> None:
    """Book one item of a locked, in-transit list: incoming → on hand (ledger `receipt` from this packing
    list), and for a linked list a receipt on the purchase order's line for that SKU."""
    _refuse_second_arrival(pl, row)
    source = Source("packing_list", pl.pk, pl.number or "")
    if po is not None:
        line = po.lines.select_related("item").filter(item_id=row.item_id).first()
        if line is None:
            raise SkuNotOnPurchaseOrder(
                f"SKU {row.item.sku} is not on purchase order {po.display_number}.",
                errors={row.item.sku: "not on the purchase order"},
            )
        _book_receipt(
            po,
            line,
            row.quantity,
            location=pl.location,
            source=source,
            by=by,
            note=f"purchase order {po.display_number}",
        )
    else:
        stock_receive(
            inventory_item=row.item,
            location=pl.location,
            quantity=row.quantity,
            source=source,
            by=by,
            from_incoming=True,
        )
    now = timezone.now()
    PackingListItem.objects.filter(pk=row.pk).update(arrived=True, arrived_at=now, updated_at=now)
    row.arrived, row.arrived_at = True, now


def _finish_po_receipt(po: PurchaseOrder | None, *, by: Actor, reason: str) -> None:
    if po is not None:
        fully = all(line.outstanding == 0 for line in po.lines.all())
        apply_transition(po, "receive", by=by, reason=reason, fully_received=fully)


def _check_arrival(pl: PackingList, *, by: Actor, transition_name: str) -> PurchaseOrder | None:
    """Check the locked list's transition, then lock and check its purchase order's receipt."""
    check_transition(pl, transition_name, by=by)
    po = None
    if pl.purchase_order_id:
        po = lock(PurchaseOrder, pl.purchase_order_id)
        check_transition(po, "receive", by=by)
    return po


def packing_list_item_arrive(*, packing_list_item: PackingListItem, by: Actor, reason: str = "") -> PackingListItem:
    """One item arrives, exactly once (a second time is 422 `already_arrived` and moves nothing). The list
    must be submitted or shipped; it becomes received with its last item. For a list of a purchase order the
    arrival is a receipt on that order (which must be receiving; over-receipt is 422). Needs
    `inventory.receive_packinglist` (and `inventory.receive_purchaseorder` for a linked list)."""
    with transaction.atomic():
        pl = lock(PackingList, packing_list_item.packing_list_id)
        row = lock(PackingListItem, packing_list_item.pk, queryset=PackingListItem.objects.select_related("item"))
        _refuse_second_arrival(pl, row)
        po = _check_arrival(pl, by=by, transition_name="arrive")
        _arrive(pl, row, by=by, po=po)
        text = f"{row.item.sku} × {row.quantity} arrived"
        _finish_po_receipt(po, by=by, reason=f"{text} (packing list {pl.display_number})")
        apply_transition(pl, "arrive", by=by, reason=f"{text} {reason}".strip())
        if not pl.items.filter(arrived=False).exists():
            apply_transition(pl, "receive", by=by, reason="every item has arrived")
    return row


def packing_list_receive(*, packing_list: PackingList, by: Actor, reason: str = "") -> PackingList:
    """submitted, shipped → received: every item not yet arrived arrives (see packing_list_item_arrive)."""
    with transaction.atomic():
        pl = lock(PackingList, packing_list.pk)
        po = _check_arrival(pl, by=by, transition_name="receive")
        rows = list(pl.items.select_related("item").filter(arrived=False).order_by("pk"))
        stock_lock((row.item, pl.location) for row in rows)
        for row in rows:
            _arrive(pl, row, by=by, po=po)
        arrived = ", ".join(f"{row.item.sku} × {row.quantity}" for row in rows) or "nothing left"
        if rows:
            _finish_po_receipt(po, by=by, reason=f"arrived {arrived} (packing list {pl.display_number})")
        apply_transition(pl, "receive", by=by, reason=f"{reason} (arrived {arrived})".strip())
    return pl


def packing_list_cancel(*, packing_list: PackingList, by: Actor, reason: str = "") -> PackingList:
    """draft, submitted, shipped → cancelled. Items that did not arrive give back the incoming the list added
    (a purchase order's list added none; the order keeps counting its outstanding quantity)."""
    with transaction.atomic():
        pl = lock(PackingList, packing_list.pk)
        check_transition(pl, "cancel", by=by)
        if pl.incoming_added:
            rows = list(pl.items.select_related("item").filter(arrived=False).order_by("item_id"))
            stock_lock((row.item, pl.location) for row in rows)
            for row in rows:
                stock_incoming(inventory_item=row.item, location=pl.location, delta=-row.quantity, by=by)
        apply_transition(pl, "cancel", by=by, reason=reason)
    return pl


# ---- packing list items (the resource of their own) ------------------------------------------------------


def packing_list_item_create(
    *, by: Actor, packing_list: PackingList, sku: str, quantity: int, description: str = ""
) -> PackingListItem:
    """Add an item to a draft packing list."""
    with transaction.atomic():
        pl = lock(PackingList, packing_list.pk)
        _require_draft(pl, "its items")
        item = items_by_sku([sku])[sku]
        if pl.items.filter(item=item).exists():
            raise ValidationFailed(
                f"SKU {sku} is already on packing list {pl.display_number}; change that item's quantity.",
                errors={"sku": "already on the packing list"},
            )
        row = PackingListItem.objects.create(
            packing_list=pl, item=item, quantity=whole_quantity(quantity, "quantity"), description=description
        )
        events.emit(row, "create", by=by)
        log_event(pl, "add_line", by=by, reason=f"{row.quantity} x {item.sku}")
    return row


def packing_list_item_update(
    *, packing_list_item: PackingListItem, by: Actor, arrived: bool | None = None, **fields: Any
) -> PackingListItem:
    """`arrived: true` books the arrival (packing_list_item_arrive); an arrival cannot be undone (422
    `already_arrived`). Other fields (`sku`, `quantity`, `description`) change only while the list is draft."""
    check_fields(fields, {"sku", "quantity", "description"}, "packing list item")
    names = sorted([*fields, *(["arrived"] if arrived is False else [])])
    with transaction.atomic():
        pl = lock(PackingList, packing_list_item.packing_list_id)
        row = lock(PackingListItem, packing_list_item.pk, queryset=PackingListItem.objects.select_related("item"))
        if arrived is False and row.arrived:
            raise AlreadyArrived(
                f"Item {row.pk} has arrived; an arrival cannot be undone.", errors={"arrived": "already arrived"}
            )
        if fields:
            _require_draft(pl, "its items")
            if "sku" in fields:
                sku = fields.pop("sku")
                row.item = items_by_sku([sku])[sku]
                if pl.items.filter(item=row.item).exclude(pk=row.pk).exists():
                    raise ValidationFailed(
                        f"SKU {sku} is already on packing list {pl.display_number}.", errors={"sku": "already on it"}
                    )
            if "quantity" in fields:
                fields["quantity"] = whole_quantity(fields["quantity"], "quantity")
            for name, value in fields.items():
                setattr(row, name, value)
            row.save()
        if names or arrived is not True:  # an arrival alone is its own row (arrive)
            events.emit(row, "update", by=by)
            log_event(pl, "change_line", by=by, reason=f"line {row.pk}: {', '.join(names) or 'nothing'}")
        if arrived is True:
            return packing_list_item_arrive(packing_list_item=row, by=by)
    return row


def packing_list_item_delete(*, packing_list_item: PackingListItem, by: Actor) -> None:
    """Remove an item from a draft packing list (422 `not_editable` otherwise)."""
    with transaction.atomic():
        pl = lock(PackingList, packing_list_item.packing_list_id)
        _require_draft(pl, "its items")
        row = lock(PackingListItem, packing_list_item.pk, queryset=PackingListItem.objects.select_related("item"))
        events.emit(row, "delete", by=by, snapshot=True)
        row.delete()
        log_event(pl, "remove_line", by=by, reason=f"{row.quantity} x {row.item.sku}")
