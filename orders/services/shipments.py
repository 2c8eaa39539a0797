"""Shipments (issue #18): parcels of an order, each from one location, shipped in parts.

The rules every service here keeps:

- **Reservation at creation.** A pending shipment reserves its units against what its lines hold (their open
  allocations) at its location, less what other pending shipments there reserve already. The order's row is
  locked first (`order_lock`), and every change to an order's allocations or shipments happens under that
  lock, so two shipments racing for the last units are decided when they are created: the second one sees
  the first's reservation and is refused (422 `exceeds_shippable`), nothing written.
- **Shipping consumes exactly the reserved units** from the allocations at the shipment's location
  (`inventory.services.stock_consume_at`: ledger `shipment`), raises each line's `quantity_shipped`, and moves
  the order to `partially_shipped`, or `shipped` once every unit is shipped or cancelled.
- **Lock order:** the order, then its shipments in primary-key order, then (inventory) the stock levels, last.
- **Audit:** every create, update, delete and transition runs through `stateset.fsm.apply_transition` or
  `log_event` (a StateLog row on the shipment; the order's own transitions on the order).
- A pending shipment may be cancelled or deleted (its reservation released: nothing had moved in stock); a
  shipped one may not (422). `returned_to_sender` puts its units back on hand at its location (ledger
  `return_restock`) and allocates them to their lines again (shippable again); `lost` changes no stock.
  Neither moves money: refunds stay their own action.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from inventory import selectors as inv_selectors
from inventory import services as inv
from inventory.models import Location
from inventory.states import MovementReason
from orders.errors import (
    AllocationMismatch,
    ExceedsShippable,
    InvalidOrderInput,
    RefundedAboveTotal,
    ShipmentNotReversible,
    ShipmentsPending,
)
from orders.models import Order, OrderLineItem, Shipment, ShipmentLineItem
from orders.services.documents import DOCUMENT, join_reasons
from orders.services.lines import line_on_order, line_ref, order_lines
from orders.services.locks import order_lock
from orders.services.pricing import order_recompute_totals
from orders.states import SHIPMENT_UNDERWAY, LineStatus, OrderStatus, ShipmentStatus
from stateset import events
from stateset.actors import Actor
from stateset.compiled import update_rows
from stateset.fsm import apply_transition, check_transition, lock, log_event
from stateset.prefetch import as_written, prefetched

# What a client may set on a shipment, on create and update (the rest is the server's).
SHIPMENT_FIELDS = {"carrier", "service", "tracking_number", "tracking_url", "weight", "package_count", "notes"}
# Not blocking the order's `delivered`: parcels that never left, or came back.
NOT_DELIVERING = (ShipmentStatus.CANCELLED, ShipmentStatus.RETURNED_TO_SENDER)


def _ledger_source(order: Order) -> inv.Source:
    return inv.Source(DOCUMENT, order.pk, order.order_number or "")


# ---- reads under the order's lock ---------------------------------------------------------------------------


def reserved_units(order: Order, *, exclude: Iterable[int] = ()) -> dict[tuple[int, int], int]:
    """{(line_id, location_id): units} reserved by the order's pending shipments (one query)."""
    rows = (
        ShipmentLineItem.objects.filter(shipment__order=order, shipment__status=ShipmentStatus.PENDING)
        .exclude(shipment_id__in=list(exclude))
        .values("line_id", "shipment__location_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    return {(r["line_id"], r["shipment__location_id"]): r["total"] for r in rows}


def shippable_units(
    order: Order, lines: Sequence[OrderLineItem], location: Location, *, reserved: Mapping | None = None
) -> dict[int, int]:
    """{line_id: units a new shipment from `location` may take}: what the line holds there less what pending
    shipments there reserve. A line needing no stock is shippable from any location, up to its unshipped
    units less every reservation of it."""
    reserved = reserved_units(order) if reserved is None else reserved
    held = inv_selectors.allocations_held(DOCUMENT, [line.pk for line in lines if line.requires_inventory])
    result = {}
    for line in lines:
        if line.requires_inventory:
            units = held.get((line.pk, location.pk), 0) - reserved.get((line.pk, location.pk), 0)
        else:
            units = line.quantity_unshipped - sum(q for (lid, _), q in reserved.items() if lid == line.pk)
        result[line.pk] = max(units, 0)
    return result


def _lock_shipment(shipment: Shipment | int) -> tuple[Order, Shipment]:
    """Lock the shipment's order, then the shipment (the one lock order: order, its shipments, stock)."""
    pk = shipment.pk if isinstance(shipment, Shipment) else shipment
    order_id = Shipment.objects.filter(pk=pk).values_list("order_id", flat=True).first()
    if order_id is None:
        lock(Shipment, pk)  # raises the 404
    order = order_lock(order_id)
    # The order's parcels, locked in primary-key order in one statement (the lock order: the order, its
    # parcels, stock), so the order renders them from memory: none can change before the commit. A writer that
    # locks a single parcel without its order (update, in transit, lost) locks nothing else of the order's, so
    # this may wait for it to commit, never deadlock with it.
    parcels = list(
        Shipment.objects.select_for_update(of=("self",))
        .select_related("location")
        .filter(order_id=order_id)
        .order_by("pk")
    )
    locked = next((parcel for parcel in parcels if parcel.pk == pk), None)
    if locked is None:
        lock(Shipment, pk)  # deleted meanwhile: the 404
    events.remember(locked)  # for the event's previous_attributes, as stateset.fsm.lock does
    for parcel in parcels:
        parcel.order = order
    prefetched(order, shipments=parcels)
    return order, locked


# ---- building and inserting -----------------------------------------------------------------------------------


def _wanted_units(
    lines: Sequence[OrderLineItem], shipment_line_items: Sequence[Mapping[str, Any]] | None, shippable: dict[int, int]
) -> dict[int, int]:
    """{line_id: units} asked for (all that is shippable when no lines are named); over-shipping is a 422
    naming every line asked beyond what it may ship from there, and a line not on the order a 400."""
    by_id = {line.pk: line for line in lines}
    if shipment_line_items is None:
        return {pk: units for pk, units in shippable.items() if units > 0}
    wanted: dict[int, int] = defaultdict(int)
    for entry in shipment_line_items:
        line_id = entry["order_item_id"]
        if line_id not in by_id:
            raise InvalidOrderInput(
                f"Line {line_id} is not on this order.", errors={"shipment_line_items": f"no line {line_id} here"}
            )
        wanted[line_id] += entry["quantity"]
    over = {pk: (q, shippable.get(pk, 0)) for pk, q in wanted.items() if q > shippable.get(pk, 0)}
    if over:
        listed = "; ".join(
            f"line {pk} ({by_id[pk].sku}): asked {q}, shippable {s}" for pk, (q, s) in sorted(over.items())
        )
        raise ExceedsShippable(
            f"More units than can ship from there: {listed}.",
            errors={str(pk): f"at most {s}" for pk, (q, s) in over.items()},
        )
    return dict(wanted)


def _shipment_insert(
    order: Order, location: Location, units: Mapping[int, int], *, by: Actor, reason: str = "", **fields: Any
) -> Shipment:
    """A pending shipment of `units` ({line_id: quantity}) with its lines, numbered, with its audit row."""
    fields = {k: v for k, v in fields.items() if v is not None}
    shipment = Shipment(order=order, location=location, actor=by.label[:255], **fields)
    shipment.save(force_insert=True)
    shipment.number = f"{Shipment.number_prefix}-{shipment.pk:06d}"  # a client never sets one: unique by pk
    Shipment.objects.filter(pk=shipment.pk).update(number=shipment.number)
    rows = ShipmentLineItem.objects.bulk_create(
        ShipmentLineItem(shipment=shipment, line_id=line_id, quantity=q) for line_id, q in sorted(units.items()) if q
    )
    described = ", ".join(f"{r.quantity} x line {r.line_id}" for r in rows)
    log_event(shipment, "create", by=by, reason=join_reasons(reason, f"{described} from {location.code}"))
    prefetched(shipment, shipment_line_items=rows)
    return shipment


def shipment_create(
    *,
    by: Actor,
    order: Order | int,
    location: Location | str | int | None = None,
    shipment_line_items: Sequence[Mapping[str, Any]] | None = None,
    reason: str = "",
    **fields: Any,
) -> Shipment:
    """A pending shipment of `order` from `location` (the order's by default) with the lines and quantities
    given (`[{order_item_id, quantity}]`; without them, everything still shippable from there). Its units are
    reserved now, under the order's lock: asking more than a line holds there, less the other pending
    shipments' reservations, is a 422 `exceeds_shippable` and nothing is written. An order that is not
    pending, processing or partially shipped is a 422 `invalid_state_transition`; needs `orders.ship_order`."""
    unknown = set(fields) - SHIPMENT_FIELDS
    if unknown:
        raise TypeError(f"shipment fields not known: {sorted(unknown)}")
    order_id = order.pk if isinstance(order, Order) else order
    with transaction.atomic():
        order = order_lock(order_id)
        check_transition(order, "add_shipment", by=by)
        location = inv.location_resolve(location) if location not in (None, "") else order.location
        lines = order_lines(order)
        units = _wanted_units(lines, shipment_line_items, shippable_units(order, lines, location))
        if not units:
            raise ExceedsShippable(
                f"Nothing of {order.display_number} is left to ship from {location.code}.",
                errors={"shipment_line_items": "nothing shippable from this location"},
            )
        shipment = _shipment_insert(order, location, units, by=by, reason=reason, **fields)
        apply_transition(order, "add_shipment", by=by, reason=f"{shipment.number} created")
        # Marked inside the transaction: their events render from memory (stateset.events).
        as_written(shipment)
        as_written(
            prefetched(order, order_line_items=lines, **({} if order.has_shipments else {"shipments": [shipment]}))
        )
    return shipment


def shipment_update(*, shipment: Shipment, by: Actor, reason: str = "", **fields: Any) -> Shipment:
    """Change carrier, service, tracking number and URL, weight, package count or notes, in any status but
    cancelled, returned to sender or lost (422). Lines and location do not change here: delete a pending
    shipment and create another."""
    unknown = set(fields) - SHIPMENT_FIELDS
    if unknown:
        raise TypeError(f"shipment fields not editable: {sorted(unknown)}")
    with transaction.atomic():
        shipment = lock(Shipment, shipment.pk)
        check_transition(shipment, "update", by=by)
        changed = sorted(name for name, value in fields.items() if getattr(shipment, name) != value)
        for name, value in fields.items():
            setattr(shipment, name, value)
        apply_transition(
            shipment, "update", by=by, reason=join_reasons(reason, f"changed {', '.join(changed) or 'nothing'}")
        )
    return shipment


def shipment_delete(*, shipment: Shipment, by: Actor, reason: str = "") -> None:
    """Delete a pending shipment (its reservation released; the audit row stays). A shipment that has
    shipped, or is cancelled, is a 422 `invalid_state_transition`."""
    with transaction.atomic():
        order, shipment = _lock_shipment(shipment)
        apply_transition(shipment, "delete_pending", by=by, reason=reason)
        log_event(order, "delete_shipment", by=by, reason=join_reasons(reason, f"{shipment.number} deleted"))
        events.emit(shipment, "delete", by=by, snapshot=True)
        ShipmentLineItem.objects.filter(shipment=shipment).delete()
        shipment.delete()


def shipment_cancel(*, shipment: Shipment, by: Actor, reason: str = "") -> Shipment:
    """pending → cancelled: its reservation released (nothing had moved in stock). Needs `orders.ship_order`."""
    with transaction.atomic():
        order, shipment = _lock_shipment(shipment)
        apply_transition(shipment, "cancel", by=by, reason=reason)
        log_event(order, "cancel_shipment", by=by, reason=join_reasons(reason, f"{shipment.number} cancelled"))
    return shipment


# ---- shipping -------------------------------------------------------------------------------------------------


def _ship_locked(
    order: Order,
    lines: Sequence[OrderLineItem],
    shipments: Sequence[Shipment],
    rows: Sequence[ShipmentLineItem],
    *,
    by: Actor,
    tracking_number: str = "",
    carrier: str = "",
    shipped_at: datetime | None = None,
    reason: str = "",
) -> None:
    """Ship these pending shipments of the locked order: the lines' quantity_shipped raised (one statement),
    each shipment's transition, the order's (partially_shipped or shipped), then the stock, last: exactly
    each shipment's units consumed at its location."""
    by_line = {line.pk: line for line in lines}
    now = timezone.now()
    shipped_at = shipped_at or now
    per_shipment: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        per_shipment[row.shipment_id][row.line_id] += row.quantity
    changed = {}
    for row in rows:
        line = by_line[row.line_id]
        line.quantity_shipped += row.quantity
        if line.quantity_shipped > line.quantity - line.quantity_cancelled:
            raise ExceedsShippable(
                f"Line {line.pk} ({line.sku}) would ship {line.quantity_shipped} of {line.quantity_billed}.",
                errors={str(line.pk): f"at most {line.quantity_billed}"},
            )
        line.status = LineStatus.SHIPPED if line.quantity_unshipped == 0 else LineStatus.OPEN
        line.updated_at = now
        changed[line.pk] = line
    if changed:
        update_rows(OrderLineItem, list(changed.values()), ["quantity_shipped", "status", "updated_at"])
    for shipment in shipments:
        apply_transition(
            shipment,
            "ship",
            by=by,
            reason=reason,
            tracking_number=shipment.tracking_number or tracking_number,
            carrier=shipment.carrier or carrier,
            shipped_at=shipped_at,
        )
    complete = all(line.quantity_unshipped == 0 for line in lines)
    last = shipments[-1]
    numbers = ", ".join(s.number for s in shipments)
    apply_transition(
        order,
        "ship",
        by=by,
        reason=join_reasons(reason, f"{numbers} {last.carrier} {last.tracking_number}".strip()),
        tracking_number=last.tracking_number,
        carrier=last.carrier,
        shipped_at=shipped_at,
        complete=complete,
    )
    # The stock last: the levels every order of the same SKUs needs are locked for the shortest time.
    source = _ledger_source(order)
    for shipment in shipments:
        takes = {
            line_ref(by_line[line_id]): q
            for line_id, q in per_shipment[shipment.pk].items()
            if by_line[line_id].requires_inventory
        }
        if takes:
            inv.stock_consume_at(
                takes=takes, location=shipment.location, source=source, by=by, note=shipment.tracking_number
            )


def shipment_ship(
    *,
    shipment: Shipment,
    by: Actor,
    tracking_number: str = "",
    carrier: str = "",
    shipped_at: datetime | None = None,
    reason: str = "",
) -> Shipment:
    """pending → shipped: consumes exactly its units at its location (ledger `shipment`), raises its lines'
    `quantity_shipped`, and moves the order to `partially_shipped` (or `shipped` once every unit is shipped
    or cancelled). The order must be shippable (not on hold: 422). Needs `orders.ship_order`."""
    with transaction.atomic():
        order, shipment = _lock_shipment(shipment)
        check_transition(shipment, "ship", by=by)
        check_transition(order, "ship", by=by)
        lines = order_lines(order)
        rows = list(ShipmentLineItem.objects.filter(shipment=shipment).order_by("pk"))
        _ship_locked(
            order,
            lines,
            [shipment],
            rows,
            by=by,
            tracking_number=tracking_number,
            carrier=carrier,
            shipped_at=shipped_at,
            reason=reason,
        )
        # Marked inside the transaction: their events render from memory (stateset.events).
        as_written(prefetched(shipment, shipment_line_items=rows))
        as_written(prefetched(order, order_line_items=lines))
    return shipment


def order_ship(
    *,
    order: Order,
    by: Actor,
    tracking_number: str = "",
    carrier: str = "",
    shipped_at: datetime | None = None,
    reason: str = "",
) -> Order:
    """Ship everything that remains (pending, processing or partially shipped → shipped): the pending
    shipments as they are, and the rest as one new shipment per location where the lines hold it, all with
    this tracking number and carrier where they have none. Consumes the stock (ledger `shipment`). Needs
    `orders.ship_order`."""
    with transaction.atomic():
        order = order_lock(order.pk)
        check_transition(order, "ship", by=by)
        lines = order_lines(order)
        pending: list[Shipment] = []
        rows: list[ShipmentLineItem] = []
        if order.has_shipments:
            pending = list(
                Shipment.objects.select_for_update(of=("self",))
                .select_related("location")
                .filter(order=order, status=ShipmentStatus.PENDING)
                .order_by("pk")
            )
            rows = list(ShipmentLineItem.objects.filter(shipment__in=pending).order_by("pk"))
        reserved: dict[tuple[int, int], int] = defaultdict(int)
        reserved_line: dict[int, int] = defaultdict(int)
        for row in rows:
            location_id = next(s.location_id for s in pending if s.pk == row.shipment_id)
            reserved[(row.line_id, location_id)] += row.quantity
            reserved_line[row.line_id] += row.quantity
        held = inv_selectors.allocations_held(DOCUMENT, [line.pk for line in lines if line.requires_inventory])
        per_location: dict[int, dict[int, int]] = defaultdict(dict)
        for line in lines:
            if not line.quantity_unshipped:
                continue
            if line.requires_inventory:
                at = {loc: q for (lid, loc), q in held.items() if lid == line.pk}
                if sum(at.values()) != line.quantity_unshipped:
                    raise AllocationMismatch(
                        f"{order.display_number} line {line.pk} holds {sum(at.values())} units for "
                        f"{line.quantity_unshipped} unshipped; nothing was shipped."
                    )
                for location_id, held_there in at.items():
                    q = held_there - reserved.get((line.pk, location_id), 0)
                    if q > 0:
                        per_location[location_id][line.pk] = q
            elif line.quantity_unshipped - reserved_line[line.pk] > 0:
                per_location[order.location_id][line.pk] = line.quantity_unshipped - reserved_line[line.pk]
        locations = {order.location_id: order.location}
        others = set(per_location) - set(locations)
        if others:
            locations.update(Location.objects.in_bulk(others))
        created = []
        for location_id in sorted(per_location):
            shipment = _shipment_insert(
                order,
                locations[location_id],
                per_location[location_id],
                by=by,
                reason=reason,
                tracking_number=tracking_number,
                carrier=carrier,
            )
            created.append(shipment)
            rows.extend(shipment._prefetched_objects_cache["shipment_line_items"])
        shipments = pending + created
        if not shipments:
            raise ExceedsShippable(
                f"Nothing of {order.display_number} is left to ship.", errors={"order": "nothing left to ship"}
            )
        _ship_locked(
            order,
            lines,
            shipments,
            rows,
            by=by,
            tracking_number=tracking_number,
            carrier=carrier,
            shipped_at=shipped_at,
            reason=reason,
        )
        kept = {} if order.has_shipments else {"shipments": created}
        for shipment in shipments:
            as_written(shipment)
        # Marked inside the transaction: its events render from memory (stateset.events).
        as_written(prefetched(order, order_line_items=lines, **kept))
    return order


# ---- after shipping ---------------------------------------------------------------------------------------------


def shipment_mark_in_transit(*, shipment: Shipment, by: Actor, reason: str = "") -> Shipment:
    """shipped → in_transit (the carrier scanned it)."""
    with transaction.atomic():
        shipment = lock(Shipment, shipment.pk)
        apply_transition(shipment, "mark_in_transit", by=by, reason=reason)
    return shipment


def shipment_mark_lost(*, shipment: Shipment, by: Actor, reason: str = "") -> Shipment:
    """shipped or in_transit → lost. No stock changes and no money moves (a refund or a replacement order
    is its own action); the order stays as it is."""
    with transaction.atomic():
        shipment = lock(Shipment, shipment.pk)
        apply_transition(shipment, "mark_lost", by=by, reason=reason)
    return shipment


def shipment_deliver(
    *, shipment: Shipment, by: Actor, delivered_at: datetime | None = None, reason: str = ""
) -> Shipment:
    """shipped or in_transit → delivered. When the order is `shipped` (every unit shipped or cancelled) and
    every one of its shipments that left and did not come back is delivered, the order becomes `delivered`."""
    with transaction.atomic():
        order, shipment = _lock_shipment(shipment)
        apply_transition(shipment, "deliver", by=by, reason=reason, delivered_at=delivered_at)
        if order.status == OrderStatus.SHIPPED and not (
            Shipment.objects.filter(order=order)
            .exclude(status__in=(*NOT_DELIVERING, ShipmentStatus.DELIVERED))
            .exists()
        ):
            apply_transition(
                order,
                "deliver",
                by=by,
                reason=f"every shipment delivered ({shipment.number} last)",
                delivered_at=shipment.delivered_at,
            )
    return shipment


def shipment_return_to_sender(*, shipment: Shipment, by: Actor, reason: str = "") -> Shipment:
    """shipped or in_transit → returned_to_sender: its units go back on hand at its location (ledger
    `return_restock`, one row per level) and are allocated to their lines again, so they can ship again; the
    lines' `quantity_shipped` falls and the order goes back to `partially_shipped` (or `processing` when
    nothing else shipped). No money moves. Refused (422) when the order is no longer shipped or partially
    shipped (delivered, returned, refunded...) or when a return already took some of its units back."""
    with transaction.atomic():
        order, shipment = _lock_shipment(shipment)
        check_transition(shipment, "return_to_sender", by=by)
        check_transition(order, "unship", by=by)
        rows = list(ShipmentLineItem.objects.filter(shipment=shipment).order_by("pk"))
        lines = {line.pk: line for line in order_lines(order)}
        now = timezone.now()
        for row in rows:
            line = lines[row.line_id]
            if row.quantity_returned or line.quantity_shipped - row.quantity < line.quantity_returned:
                raise ShipmentNotReversible(
                    f"A return already took back units of line {line.pk} ({line.sku}); {shipment.number} "
                    "cannot come back to the sender.",
                    errors={str(line.pk): "returned already"},
                )
            line.quantity_shipped -= row.quantity
            line.status, line.updated_at = LineStatus.OPEN, now
        update_rows(OrderLineItem, [lines[r.line_id] for r in rows], ["quantity_shipped", "status", "updated_at"])
        apply_transition(shipment, "return_to_sender", by=by, reason=reason)
        anything = any(line.quantity_shipped for line in lines.values())
        apply_transition(
            order,
            "unship",
            by=by,
            reason=join_reasons(reason, f"{shipment.number} returned to sender"),
            anything_shipped=anything,
        )
        stocked = [(lines[r.line_id], r.quantity) for r in rows if lines[r.line_id].requires_inventory]
        if stocked:  # the stock last, levels locked once in primary-key order
            location = shipment.location
            inv.stock_lock((line.item, location) for line, _ in stocked)
            source = _ledger_source(order)
            for line, quantity in stocked:
                inv.stock_receive(
                    inventory_item=line.item,
                    location=location,
                    quantity=quantity,
                    source=source,
                    by=by,
                    reason=MovementReason.RETURN_RESTOCK,
                    note=f"{shipment.number} returned to sender",
                )
            inv.stock_allocate(
                requests=[inv.StockRequest(line.item, location, q, line_ref(line)) for line, q in stocked], by=by
            )
    return shipment


# ---- what other order services call -------------------------------------------------------------------------------


def pending_shipments_cancel(order: Order, *, by: Actor, reason: str) -> int:
    """Cancel the locked order's pending shipments (the order is being cancelled or short-shipped)."""
    if getattr(order, "has_shipments", True) is False:
        return 0
    pending = list(
        Shipment.objects.select_for_update(of=("self",))
        .filter(order=order, status=ShipmentStatus.PENDING)
        .order_by("pk")
    )
    for shipment in pending:
        apply_transition(shipment, "cancel", by=by, reason=reason)
    return len(pending)


def underway_shipments_deliver(order: Order, *, by: Actor, delivered_at: datetime | None, reason: str = "") -> int:
    """The locked order was delivered as a whole: its shipments still under way are delivered with it."""
    if getattr(order, "has_shipments", True) is False:
        return 0
    # Every parcel of the order locked (after the order, in primary-key order), so that the order and the
    # delivered parcels render from memory: the order with all of them, each delivered one with its lines.
    parcels = list(
        Shipment.objects.select_for_update(of=("self",)).select_related("location").filter(order=order).order_by("pk")
    )
    underway = [parcel for parcel in parcels if parcel.status in SHIPMENT_UNDERWAY]
    for shipment in underway:
        apply_transition(shipment, "deliver", by=by, reason=reason or "order delivered", delivered_at=delivered_at)
    rows: dict[int, list[ShipmentLineItem]] = defaultdict(list)
    if underway:
        for row in ShipmentLineItem.objects.filter(shipment__in=underway).order_by("pk"):
            rows[row.shipment_id].append(row)
    for parcel in parcels:
        parcel.order = order
    for shipment in underway:
        as_written(prefetched(shipment, shipment_line_items=rows[shipment.pk]))
    prefetched(order, shipments=parcels)
    return len(underway)


def refuse_if_reserved(*orders: Order, action: str) -> None:
    """Lines that pending shipments reserve do not change under them (remove_item, split, merge): 422
    `shipments_pending`. No query for an order locked by `order_lock` that has no shipment at all."""
    pks = [o.pk for o in orders if getattr(o, "has_shipments", True) is not False]
    if pks and Shipment.objects.filter(order_id__in=pks, status=ShipmentStatus.PENDING).exists():
        raise ShipmentsPending(
            f"{', '.join(o.display_number for o in orders)}: pending shipments hold units; ship, cancel or "
            f"delete them before you {action}.",
        )


# ---- short-ship and reallocation ------------------------------------------------------------------------------


def order_cancel_remaining(*, order: Order, by: Actor, reason: str) -> Order:
    """Short-ship: cancel every unit not shipped yet (pending shipments cancelled, the lines'
    `quantity_cancelled` raised, their allocations released) and recompute the totals, which no longer
    charge those units. The order becomes `shipped` (or `cancelled` when nothing had shipped); the refundable
    balance follows the new total. Refused (422 `refunded_above_total`) when more was refunded already than
    the new total. From pending, processing or partially shipped; needs `orders.cancel_order`."""
    with transaction.atomic():
        order = order_lock(order.pk)
        check_transition(order, "cancel_remaining", by=by)
        pending_shipments_cancel(order, by=by, reason=join_reasons(reason, "remaining units cancelled"))
        lines = order_lines(order)
        now = timezone.now()
        cancelled = {}
        for line in lines:
            if line.quantity_unshipped:
                cancelled[line.pk] = line.quantity_unshipped
                line.quantity_cancelled += line.quantity_unshipped
                line.status = LineStatus.SHIPPED if line.quantity_shipped else LineStatus.CANCELLED
                line.updated_at = now
        update_rows(
            OrderLineItem,
            [line for line in lines if line.pk in cancelled],
            ["quantity_cancelled", "status", "updated_at"],
        )
        order_recompute_totals(order)
        if order.total < order.amount_refunded:
            raise RefundedAboveTotal(
                f"{order.display_number} has {order.amount_refunded} refunded already, above its new total "
                f"{order.total}; nothing was cancelled.",
                errors={"amount_refunded": f"{order.amount_refunded} > {order.total}"},
            )
        described = ", ".join(f"{q} x line {pk}" for pk, q in sorted(cancelled.items())) or "nothing left"
        apply_transition(
            order,
            "cancel_remaining",
            by=by,
            reason=join_reasons(reason, f"cancelled {described}"),
            cancel_reason=reason,
            initiator=by.label[:255],
            anything_shipped=any(line.quantity_shipped for line in lines),
        )
        refs = [line_ref(line) for line in lines if line.requires_inventory and line.pk in cancelled]
        if refs:  # the stock last
            inv.stock_release(lines=refs, by=by)
        as_written(prefetched(order, order_line_items=lines))  # inside: its events render from memory
    return order


def order_reallocate(
    *,
    order: Order,
    by: Actor,
    order_item_id: int,
    location: Location | str | int,
    quantity: int | None = None,
    from_location: Location | str | int | None = None,
) -> Order:
    """Move a line's unshipped, unreserved units to `location` where stock allows: `quantity` of them
    (default: all it holds elsewhere), from `from_location` (default: every other location, in the order
    the allocations were made). Short stock at the new location is a 422 `insufficient_stock`; units that
    pending shipments reserve do not move (422 `exceeds_shippable`). Needs `orders.edit_order`."""
    with transaction.atomic():
        order = order_lock(order.pk)
        check_transition(order, "reallocate", by=by)
        line = line_on_order(order, order_item_id)
        target = inv.location_resolve(location)
        source = inv.location_resolve(from_location) if from_location not in (None, "") else None
        if not line.requires_inventory:
            raise InvalidOrderInput(f"Line {line.pk} needs no stock.", errors={"order_item_id": "needs no stock"})
        if source is not None and source.pk == target.pk:
            raise InvalidOrderInput("'from_location' and 'location' must differ.", errors={"location": "same"})
        held = inv_selectors.allocations_held(DOCUMENT, [line.pk])
        reserved = reserved_units(order)
        movable = {
            loc: q - reserved.get((line.pk, loc), 0)
            for (lid, loc), q in held.items()
            if lid == line.pk and loc != target.pk and (source is None or loc == source.pk)
        }
        available = sum(q for q in movable.values() if q > 0)
        take = available if quantity is None else quantity
        if take <= 0 or take > available:
            raise ExceedsShippable(
                f"Line {line.pk} ({line.sku}) has {available} unreserved units to move to {target.code}.",
                errors={"quantity": f"at most {available}"},
            )
        plan, left = [], take
        for loc in sorted(movable):
            q = min(movable[loc], left)
            if q > 0:
                plan.append((loc, q))
                left -= q
        locations = Location.objects.in_bulk([loc for loc, _ in plan])
        apply_transition(
            order,
            "reallocate",
            by=by,
            reason=f"{take} x {line.sku} (line {line.pk}) to {target.code}",
        )
        # The stock last: every level involved locked once, in primary-key order, before the changes.
        inv.stock_lock([(line.item, target), *((line.item, locations[loc]) for loc, _ in plan)])
        for loc, q in plan:
            inv.stock_release(lines=[line_ref(line)], by=by, quantity=q, location=locations[loc])
        inv.stock_allocate(requests=[inv.StockRequest(line.item, target, take, line_ref(line))], by=by)
        as_written(order)  # inside: its events render from memory
    return order
