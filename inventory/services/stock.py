"""The only writers of stock. Orders, returns and manufacturing change stock by calling these.

Every function here is one transaction (or joins the caller's), and follows one locking discipline:

1. the caller has locked its own document row (an order, a work order...), which serialises changes to
   that document's allocations;
2. the stock levels involved are created if missing, then locked with `SELECT ... FOR UPDATE` in
   primary-key order (so two writers can never wait on each other in opposite orders);
3. quantities are checked against the locked rows, then written with `UPDATE ... SET x = x + d`;
   the CHECK constraints on StockLevel are the last guard (a violation is an IntegrityError, never a
   negative or over-allocated level).

On SQLite, which has no row locks, every transaction takes the database's write lock at BEGIN
(settings: `transaction_mode = IMMEDIATE`), which serialises writers completely.

Every change of `on_hand` writes exactly one StockMovement per level with its reason, source document,
actor and note. Shortages raise InsufficientStock naming every short SKU and location, and nothing moves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from inventory.errors import InsufficientStock, Shortage, StockLimitExceeded
from inventory.models import Allocation, InventoryItem, Location, StockLevel, StockMovement
from inventory.selectors import levels_beside
from inventory.services.catalog import default_location
from inventory.states import AllocationStatus, MovementReason
from stateset import events
from stateset.actors import Actor
from stateset.compiled import Compiled
from stateset.errors import DomainError, PermissionDenied, ValidationFailed
from stateset.limits import MAX_STOCK


@dataclass(frozen=True)
class Source:
    """The document a stock change belongs to, for the ledger (`order` 42 `ORD-000042`)."""

    type: str
    id: int | None = None
    number: str = ""


@dataclass(frozen=True)
class LineRef:
    """A document line that holds allocations (`order`, 42, line 17)."""

    document_type: str
    document_id: int
    line_id: int


@dataclass(frozen=True)
class StockRequest:
    """`quantity` of an item at a location, for a document line when it is to be allocated to one."""

    item: InventoryItem
    location: Location
    quantity: int
    line: LineRef | None = None


# ---- the locking core --------------------------------------------------------------------------------------


def _lock_levels(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """Lock the levels of these (item_id, location_id) pairs in primary-key order, creating missing ones.

    Only the level rows are locked (`FOR UPDATE OF` the level): the item and location joined for messages stay
    unlocked, so two writers never meet on a shared row such as the MAIN location out of the levels' order.
    The common case is one statement; a level seen for the first time is inserted (ON CONFLICT DO NOTHING)
    and then locked, after the existing ones.
    """
    pairs = set(pairs)
    if not pairs:
        return {}
    levels = {(lvl.item_id, lvl.location_id): lvl for lvl in _select_levels(pairs)}
    missing = pairs - set(levels)
    if missing:
        StockLevel.objects.bulk_create(
            [StockLevel(item_id=i, location_id=loc) for i, loc in sorted(missing)], ignore_conflicts=True
        )
        levels.update({(lvl.item_id, lvl.location_id): lvl for lvl in _select_levels(missing)})
    return levels


def _select_levels(pairs: set[tuple[int, int]]) -> list[StockLevel]:
    by_location: dict[int, list[int]] = defaultdict(list)
    for item_id, location_id in pairs:
        by_location[location_id].append(item_id)
    levels = _levels_locked(tuple((loc, tuple(sorted(items))) for loc, items in sorted(by_location.items())))
    for level in levels:
        _read_beside(level, level.item_levels)
    return levels


_reads = count()


def _read_beside(level: StockLevel, item_levels: str | None) -> None:
    """Keep on a locked level when it was read and its item's levels read with it (`levels_beside`), for the
    item's event (_note_adjusted, inventory.selectors.render_moved_items)."""
    level.__dict__["_read_beside"] = (next(_reads), item_levels)


def _levels_queryset(groups: Sequence[tuple[int, Sequence[int]]]) -> QuerySet[StockLevel]:
    match = Q()
    for location_id, item_ids in groups:
        match |= Q(location_id=location_id, item_id__in=item_ids)
    return (
        StockLevel.objects.select_for_update(of=("self",))
        .filter(match)
        .select_related("item", "location")
        .annotate(item_levels=levels_beside("item_id"))
        .order_by("pk")
    )


# Compiled once per shape (locations, items per location): every allocation runs it (stateset.compiled).
_levels_locked = Compiled(_levels_queryset)


def _apply(level: StockLevel, *, on_hand: int = 0, allocated: int = 0, incoming: int = 0, by: Actor) -> None:
    """Write deltas to one locked level with `SET x = x + d`, and keep the Python object in step."""
    _apply_many({level.pk: level}, {level.pk: (on_hand, allocated, incoming)}, by=by)


def _apply_many(levels: Mapping[int, StockLevel], deltas: Mapping[int, tuple[int, int, int]], *, by: Actor) -> None:
    """Write (on_hand, allocated, incoming) deltas to several locked levels in one UPDATE (`SET x = x + CASE
    pk ... END`), and keep the Python objects in step. The rows are already locked, so the statement waits on
    nothing. A level taken past MAX_STOCK is StockLimitExceeded, checked before anything is written."""
    columns: dict[str, list[tuple[int, int]]] = {"on_hand": [], "allocated": [], "incoming": []}
    for pk, delta in deltas.items():
        level = levels[pk]
        for name, change in zip(columns, delta, strict=True):
            if getattr(level, name) + change > MAX_STOCK:
                raise StockLimitExceeded(
                    f"{level.item.sku} at {level.location.code}: {name.replace('_', ' ')} would be "
                    f"{getattr(level, name) + change}, above the most a stock level holds ({MAX_STOCK}).",
                    errors={level.item.sku: f"{name} at most {MAX_STOCK}"},
                )
    for pk, delta in deltas.items():
        level = levels[pk]
        for name, change in zip(columns, delta, strict=True):
            if change:
                columns[name].append((pk, change))
                setattr(level, name, getattr(level, name) + change)
    changed = [pk for pk, delta in deltas.items() if any(delta)]
    if changed:
        _note_adjusted(levels, deltas, by=by)
        now = timezone.now()
        _update_levels(columns, changed, now)
        for pk in changed:
            levels[pk].updated_at = now


def _update_levels(columns: Mapping[str, list[tuple[int, int]]], pks: Sequence[int], now) -> None:
    """`UPDATE stocklevel SET x = x + CASE id WHEN .. THEN .. END, ... WHERE id IN (..)`, written by hand: the
    statement runs for every allocation and shipment, and the ORM's Case/When costs more to build and compile
    than the write itself."""
    connection = connections[router.db_for_write(StockLevel)]
    qn = connection.ops.quote_name
    meta = StockLevel._meta
    pk_column = qn(meta.pk.column)
    sets, params = [], []
    for name, changes in columns.items():
        if not changes:
            continue
        column = qn(meta.get_field(name).column)
        if len(pks) == 1:
            sets.append(f"{column} = {column} + %s")
            params.append(changes[0][1])
        else:
            sets.append(f"{column} = {column} + CASE {pk_column}{' WHEN %s THEN %s' * len(changes)} ELSE 0 END")
            params.extend(value for change in changes for value in change)
    updated_at = meta.get_field("updated_at")
    sets.append(f"{qn(updated_at.column)} = %s")
    params.append(updated_at.get_db_prep_value(now, connection))
    params.extend(pks)
    sql = f"UPDATE {qn(meta.db_table)} SET {', '.join(sets)} WHERE {pk_column} IN ({', '.join(['%s'] * len(pks))})"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _note_adjusted(levels: Mapping[int, StockLevel], deltas: Mapping[int, tuple[int, int, int]], *, by: Actor) -> None:
    """One `inventory_item.adjusted` event per item whose levels move (stateset.events), keeping on the item how
    far its availability moved, for `stock.low` (inventory.apps.stock_low), and the levels moved, which render
    it (inventory.selectors.render_moved_items; None for a level read without its item's other levels)."""
    items = {}
    for pk, (on_hand, allocated, _) in deltas.items():
        level = levels[pk]
        item = items.setdefault(level.item.pk, level.item)
        item.__dict__["_available_moved"] = item.__dict__.get("_available_moved", 0) + on_hand - allocated
        item.__dict__.setdefault("_levels_moved", []).append(level if "_read_beside" in level.__dict__ else None)
    for item in items.values():
        events.emit(item, "adjust", by=by)


def _movement(
    level: StockLevel,
    quantity: int,
    *,
    reason: str,
    source: Source | None,
    by: Actor,
    note: str = "",
    reason_text: str = "",
    metadata: dict[str, Any] | None = None,
) -> StockMovement:
    """An unsaved ledger row for a change of `quantity` just applied to `level`."""
    source = source or Source(type="")
    return StockMovement(
        item_id=level.item_id,
        location_id=level.location_id,
        quantity=quantity,
        on_hand_after=level.on_hand,
        reason=reason,
        reason_text=reason_text[:200],
        source_type=source.type,
        source_id=source.id,
        source_number=source.number,
        note=note,
        metadata=metadata or {},
        created_by=by.user,
        actor=by.label[:255],
    )


def _positive(quantity: int, name: str = "quantity") -> int:
    if not isinstance(quantity, int) or quantity <= 0:
        raise ValidationFailed(f"'{name}' must be a positive integer.", errors={name: "must be a positive integer"})
    return quantity


def _require(by: Actor, perm: str, what: str) -> None:
    if not by.has_perm(perm):
        raise PermissionDenied(f"Your role lacks the permission '{perm}' needed to {what}.")


def stock_lock(pairs: Iterable[tuple[InventoryItem, Location]]) -> None:
    """Create and lock every level a multi-line document is about to change, in primary-key order, before
    calling the stock functions line by line (they lock again, which is then a no-op). This keeps the one
    lock order of this module when a purchase order or cycle count touches several levels."""
    _lock_levels((item.pk, location.pk) for item, location in pairs)


# ---- stock on hand -----------------------------------------------------------------------------------------


def stock_adjust(
    *,
    inventory_item: InventoryItem,
    quantity: int,
    by: Actor,
    location: Location | None = None,
    reason: str = "",
    note: str = "",
    metadata: dict[str, Any] | None = None,
) -> StockMovement:
    """Change on hand by a signed, non-zero `quantity` (ledger kind `adjustment`, the caller's `reason`
    kept as text). A result below zero, or below what is allocated, is InsufficientStock. Needs
    `inventory.adjust_inventoryitem`."""
    _require(by, "inventory.adjust_inventoryitem", "adjust stock")
    if not isinstance(quantity, int) or quantity == 0:
        raise ValidationFailed("'quantity' must be a non-zero integer.", errors={"quantity": "non-zero integer"})
    location = location or default_location()
    with transaction.atomic():
        level = _lock_levels([(inventory_item.pk, location.pk)])[(inventory_item.pk, location.pk)]
        if level.on_hand + quantity < level.allocated:
            available = level.on_hand - level.allocated
            raise InsufficientStock(
                [Shortage(inventory_item.sku, location.code, -quantity, available)], action="adjust"
            )
        _apply(level, on_hand=quantity, by=by)
        movement = _movement(
            level,
            quantity,
            reason=MovementReason.ADJUSTMENT,
            source=Source("adjustment"),
            by=by,
            note=note,
            reason_text=reason,
            metadata=metadata,
        )
        movement.save()
    return movement


def stock_set_counted(
    *, inventory_item: InventoryItem, location: Location, delta: int, source: Source, by: Actor, note: str = ""
) -> StockMovement | None:
    """Apply a counted variance (ledger `cycle_count`) to the current on hand. A count that would leave the
    level below what is allocated is InsufficientStock: release the allocations or recount first."""
    if delta == 0:
        return None
    with transaction.atomic():
        level = _lock_levels([(inventory_item.pk, location.pk)])[(inventory_item.pk, location.pk)]
        if level.on_hand + delta < level.allocated:
            raise InsufficientStock(
                [Shortage(inventory_item.sku, location.code, -delta, level.on_hand - level.allocated)],
                action="post the count",
            )
        _apply(level, on_hand=delta, by=by)
        movement = _movement(level, delta, reason=MovementReason.CYCLE_COUNT, source=source, by=by, note=note)
        movement.save()
    return movement


def stock_transfer(
    *,
    inventory_item: InventoryItem,
    from_location: Location,
    to_location: Location,
    quantity: int,
    by: Actor,
    note: str = "",
) -> list[StockMovement]:
    """Move available stock between locations: two `transfer` movements, or nothing. Needs
    `inventory.transfer_inventoryitem`."""
    _require(by, "inventory.transfer_inventoryitem", "transfer stock")
    _positive(quantity)
    if from_location.pk == to_location.pk:
        raise ValidationFailed("'from_location' and 'to_location' must differ.", errors={"to_location": "same"})
    with transaction.atomic():
        levels = _lock_levels([(inventory_item.pk, from_location.pk), (inventory_item.pk, to_location.pk)])
        source_level = levels[(inventory_item.pk, from_location.pk)]
        target_level = levels[(inventory_item.pk, to_location.pk)]
        if source_level.available < quantity:
            raise InsufficientStock(
                [Shortage(inventory_item.sku, from_location.code, quantity, source_level.available)], action="transfer"
            )
        _apply(source_level, on_hand=-quantity, by=by)
        _apply(target_level, on_hand=quantity, by=by)
        source = Source("transfer", None, f"{from_location.code}->{to_location.code}")
        movements = [
            _movement(source_level, -quantity, reason=MovementReason.TRANSFER, source=source, by=by, note=note),
            _movement(target_level, quantity, reason=MovementReason.TRANSFER, source=source, by=by, note=note),
        ]
        return StockMovement.objects.bulk_create(movements)


def stock_receive(
    *,
    inventory_item: InventoryItem,
    location: Location,
    quantity: int,
    source: Source,
    by: Actor,
    reason: str = MovementReason.RECEIPT,
    from_incoming: bool = False,
    note: str = "",
) -> StockMovement:
    """Put `quantity` on hand (a receipt, a return restock, production output). With `from_incoming` the
    quantity also leaves `incoming` (a purchase order or packing list arrival)."""
    _positive(quantity)
    with transaction.atomic():
        level = _lock_levels([(inventory_item.pk, location.pk)])[(inventory_item.pk, location.pk)]
        if from_incoming and level.incoming < quantity:
            raise DomainError(
                f"{inventory_item.sku} at {location.code} has {level.incoming} incoming, fewer than {quantity}.",
                code="incoming_mismatch",
            )
        _apply(level, on_hand=quantity, incoming=-quantity if from_incoming else 0, by=by)
        movement = _movement(level, quantity, reason=reason, source=source, by=by, note=note)
        movement.save()
    return movement


def stock_incoming(*, inventory_item: InventoryItem, location: Location, delta: int, by: Actor) -> StockLevel:
    """Raise (an order sent to a supplier) or lower (cancelled, closed short) the expected quantity."""
    with transaction.atomic():
        level = _lock_levels([(inventory_item.pk, location.pk)])[(inventory_item.pk, location.pk)]
        if level.incoming + delta < 0:
            raise DomainError(
                f"{inventory_item.sku} at {location.code} has {level.incoming} incoming; cannot remove {-delta}.",
                code="incoming_mismatch",
            )
        _apply(level, incoming=delta, by=by)
    return level


def stock_issue(*, requests: Sequence[StockRequest], reason: str, source: Source, by: Actor) -> list[StockMovement]:
    """Take available stock off hand without an allocation (build to stock consumes this way). All lines or
    none: any shortage raises InsufficientStock listing every short line."""
    with transaction.atomic():
        levels = _lock_levels((r.item.pk, r.location.pk) for r in requests)
        wanted = _sum_by_level(requests)
        _check_available(levels, wanted, action="consume")
        movements = []
        for key, quantity in wanted.items():
            level = levels[key]
            _apply(level, on_hand=-quantity, by=by)
            movements.append(_movement(level, -quantity, reason=reason, source=source, by=by))
        return StockMovement.objects.bulk_create(movements)


# ---- allocations -------------------------------------------------------------------------------------------


def _sum_by_level(requests: Iterable[StockRequest]) -> dict[tuple[int, int], int]:
    wanted: dict[tuple[int, int], int] = defaultdict(int)
    for request in requests:
        wanted[(request.item.pk, request.location.pk)] += _positive(request.quantity)
    return wanted


def _check_available(levels: dict[tuple[int, int], StockLevel], wanted: dict[tuple[int, int], int], *, action: str):
    shortages = [
        Shortage(levels[key].item.sku, levels[key].location.code, quantity, levels[key].available)
        for key, quantity in sorted(
            wanted.items(), key=lambda kv: (levels[kv[0]].item.sku, levels[kv[0]].location.code)
        )
        if levels[key].available < quantity
    ]
    if shortages:
        raise InsufficientStock(shortages, action=action)


def stock_allocate(*, requests: Sequence[StockRequest], by: Actor, new_lines: bool = False) -> list[Allocation]:
    """Hold stock for document lines: every request or none. Any shortage raises InsufficientStock naming
    every short SKU and location. A line allocated again at the same level grows its open allocation;
    `new_lines=True` says the lines were created in this transaction, so none can hold one yet.

    Statements: the levels locked (one), their `allocated` raised (one), the allocations inserted (one).
    """
    if not requests:
        return []
    if any(r.line is None for r in requests):
        raise TypeError("every allocation request needs the document line it is for")
    # The block joins the caller's transaction (no savepoint round trips). A shortage is found before any
    # write and raised after the block, so a caller that catches it keeps a usable transaction.
    with transaction.atomic(savepoint=False):
        levels = _lock_levels((r.item.pk, r.location.pk) for r in requests)
        try:
            _check_available(levels, _sum_by_level(requests), action="allocate")
        except InsufficientStock as exc:
            shortage = exc
        else:
            shortage = None
            result = _allocate_locked(requests, levels, new_lines=new_lines, by=by)
    if shortage is not None:
        raise shortage
    return result


def stock_allocate_any(*, requests: Sequence[StockRequest], by: Actor, new_lines: bool = False) -> list[Allocation]:
    """Allocate each request at its own location first, then, for what is short there, at the other active
    locations, the one with the most available first (ties by code): the fewest parcels. All or nothing:
    what no location can cover is InsufficientStock naming each short SKU (at "any location").

    Locks every existing level of the items at the active locations (and creates the requested ones), in
    primary-key order, in one statement (two when a requested level is new), before reading availability.
    """
    if not requests:
        return []
    if any(r.line is None for r in requests):
        raise TypeError("every allocation request needs the document line it is for")
    shortage = None
    with transaction.atomic(savepoint=False):
        locations = {loc.pk: loc for loc in Location.objects.filter(active=True)}
        locations.update({r.location.pk: r.location for r in requests})
        pairs = {(r.item.pk, loc) for r in requests for loc in locations}
        levels = {(lvl.item_id, lvl.location_id): lvl for lvl in _select_levels(pairs)}
        wanted_here = {(r.item.pk, r.location.pk) for r in requests}
        if wanted_here - set(levels):
            levels.update(_lock_levels(wanted_here - set(levels)))
        available = {key: level.available for key, level in levels.items()}
        planned: list[StockRequest] = []
        short: list[Shortage] = []
        for request in requests:
            _positive(request.quantity)
            left = request.quantity
            home = (request.item.pk, request.location.pk)
            others = sorted(
                (key for key in available if key[0] == request.item.pk and key != home),
                key=lambda key: (-available[key], locations[key[1]].code),
            )
            for key in (home, *others):
                take = min(max(available.get(key, 0), 0), left)
                if take > 0:
                    planned.append(StockRequest(request.item, locations[key[1]], take, request.line))
                    available[key] -= take
                    left -= take
            if left:
                short.append(Shortage(request.item.sku, "any location", request.quantity, request.quantity - left))
        if short:
            shortage = InsufficientStock(short, action="allocate")
        else:
            result = _allocate_locked(planned, levels, new_lines=new_lines, by=by)
    if shortage is not None:
        raise shortage
    return result


def _allocate_locked(
    requests: Sequence[StockRequest], levels: dict[tuple[int, int], StockLevel], *, new_lines: bool, by: Actor
) -> list[Allocation]:
    """Allocate with the levels locked and the stock checked (the second half of stock_allocate)."""
    per_line: dict[tuple[LineRef, int], int] = defaultdict(int)
    for r in requests:
        per_line[(r.line, levels[(r.item.pk, r.location.pk)].pk)] += r.quantity
    by_level_pk = {level.pk: level for level in levels.values()}
    existing = {}
    if not new_lines:
        existing = {
            (a.document_type, a.line_id, a.level_id): a
            for a in Allocation.objects.select_for_update().filter(
                status=AllocationStatus.OPEN,
                level_id__in=by_level_pk,
                document_type__in={line.document_type for line, _ in per_line},
                line_id__in={line.line_id for line, _ in per_line},
            )
        }
    deltas: dict[int, int] = defaultdict(int)
    result, new = [], []
    for (line, level_pk), quantity in per_line.items():
        deltas[level_pk] += quantity
        current = existing.get((line.document_type, line.line_id, level_pk))
        if current is not None:
            Allocation.objects.filter(pk=current.pk).update(quantity=F("quantity") + quantity)
            current.quantity += quantity
        else:
            current = Allocation(
                level_id=level_pk,
                document_type=line.document_type,
                document_id=line.document_id,
                line_id=line.line_id,
                quantity=quantity,
            )
            new.append(current)
        result.append(current)
    _apply_many(by_level_pk, {pk: (0, quantity, 0) for pk, quantity in deltas.items()}, by=by)
    Allocation.objects.bulk_create(new)
    return result


def _lock_open_allocations(lines: Iterable[LineRef], *, location_id: int | None = None) -> list[Allocation]:
    """The open allocations of these lines (at one location, when given), with their levels locked in
    primary-key order in the same statement (`FOR UPDATE OF` the level only; the caller holds its document's
    lock, which serialises changes to the document's own allocations). Ordered by level, then allocation."""
    by_type: dict[str, set[int]] = defaultdict(set)
    for line in lines:
        by_type[line.document_type].add(line.line_id)
    if not by_type:
        return []
    groups = tuple((t, tuple(sorted(ids))) for t, ids in sorted(by_type.items()))
    allocations = _open_allocations_locked(groups, *(() if location_id is None else (location_id,)))
    for allocation in allocations:
        _read_beside(allocation.level, allocation.item_levels)
    return allocations


def _open_allocations_queryset(
    groups: Sequence[tuple[str, Sequence[int]]], location_id: int | None = None
) -> QuerySet[Allocation]:
    match = Q()
    for document_type, line_ids in groups:
        match |= Q(document_type=document_type, line_id__in=line_ids)
    if location_id is not None:
        match &= Q(level__location_id=location_id)
    return (
        Allocation.objects.filter(match, status=AllocationStatus.OPEN)
        .select_related("level__item", "level__location")
        .annotate(item_levels=levels_beside("level__item_id"))
        .select_for_update(of=("level",))
        .order_by("level_id", "pk")
    )


# Compiled once per shape (document types, lines per type, with or without a location): every ship and cancel
# runs it.
_open_allocations_locked = Compiled(_open_allocations_queryset)


def _levels_of(allocations: Iterable[Allocation]) -> dict[int, StockLevel]:
    """One StockLevel object per level (several allocations of one level share it)."""
    levels: dict[int, StockLevel] = {}
    for allocation in allocations:
        allocation.level = levels.setdefault(allocation.level_id, allocation.level)
    return levels


def stock_release(
    *, lines: Sequence[LineRef], by: Actor, quantity: int | None = None, location: Location | None = None
) -> int:
    """Give back what the lines hold (cancel, remove_item), at one `location` when given. With `quantity`,
    release only that much (from one line), oldest allocation first. Returns the quantity released."""
    with transaction.atomic(savepoint=False):
        location_id = location.pk if location is not None else None
        allocations = sorted(_lock_open_allocations(lines, location_id=location_id), key=lambda a: a.pk)
        levels = _levels_of(allocations)
        remaining = quantity
        released = 0
        takes: list[tuple[Allocation, int]] = []
        for allocation in allocations:
            take = allocation.quantity if remaining is None else min(allocation.quantity, remaining)
            if take <= 0:
                continue
            takes.append((allocation, take))
            released += take
            if remaining is not None:
                remaining -= take
        if not remaining:  # else nothing is written, and the refusal is raised outside the block
            deltas: dict[int, int] = defaultdict(int)
            for allocation, take in takes:
                deltas[allocation.level_id] -= take
            _reduce_many(takes, AllocationStatus.RELEASED)
            _apply_many(levels, {pk: (0, delta, 0) for pk, delta in deltas.items()}, by=by)
    if remaining:
        raise DomainError(f"Only {released} of {quantity} units were allocated to release.", code="allocation_short")
    return released


def _reduce(allocation: Allocation, quantity: int, closed_status: str) -> None:
    _reduce_many([(allocation, quantity)], closed_status)


def _reduce_many(takes: Sequence[tuple[Allocation, int]], closed_status: str) -> None:
    """Take quantities off allocations; one that reaches zero is closed with `closed_status`. Allocations
    taken whole are written in one statement; a partial take is its own."""
    whole = [allocation for allocation, take in takes if take == allocation.quantity]
    if whole:
        Allocation.objects.filter(pk__in=[a.pk for a in whole]).update(quantity=0, status=closed_status)
    partial = [(allocation, take) for allocation, take in takes if take != allocation.quantity]
    if partial:  # one statement for every partial take (a shipment of several lines takes part of each)
        whens = [When(pk=allocation.pk, then=Value(take)) for allocation, take in partial]
        Allocation.objects.filter(pk__in=[a.pk for a, _ in partial]).update(
            quantity=F("quantity") - Case(*whens, default=Value(0))
        )
    for allocation, take in takes:
        allocation.quantity -= take
        if allocation.quantity == 0:
            allocation.status = closed_status


def stock_consume(
    *, lines: Sequence[LineRef], source: Source, by: Actor, reason: str = MovementReason.SHIPMENT, note: str = ""
) -> list[StockMovement]:
    """Take everything the lines hold off hand (ship, start production): on hand and allocated fall together,
    one movement per level.

    Statements: the allocations read with their levels locked (one), the allocations closed (one), the levels
    written (one), the ledger rows inserted (one).
    """
    with transaction.atomic(savepoint=False):
        allocations = _lock_open_allocations(lines)
        levels = _levels_of(allocations)
        per_level: dict[int, int] = defaultdict(int)
        for allocation in allocations:
            per_level[allocation.level_id] += allocation.quantity
        _reduce_many([(allocation, allocation.quantity) for allocation in allocations], AllocationStatus.CONSUMED)
        _apply_many(levels, {pk: (-quantity, -quantity, 0) for pk, quantity in per_level.items()}, by=by)
        movements = [
            _movement(levels[pk], -per_level[pk], reason=reason, source=source, by=by, note=note)
            for pk in sorted(per_level)
        ]
        return StockMovement.objects.bulk_create(movements)


def stock_consume_at(
    *,
    takes: Mapping[LineRef, int],
    location: Location,
    source: Source,
    by: Actor,
    reason: str = MovementReason.SHIPMENT,
    note: str = "",
) -> list[StockMovement]:
    """Take exactly `takes[line]` units of what each line holds at `location` off hand (one shipment): on
    hand and allocated fall together, oldest allocation first, one movement per level. A line holding fewer
    units there raises `allocation_short` and nothing is written (raised after the block).

    Statements: the allocations read with their levels locked (one), the allocations reduced (one or two),
    the levels written (one), the ledger rows inserted (one).
    """
    wanted = {line: quantity for line, quantity in takes.items() if quantity}
    short: list[str] = []
    with transaction.atomic(savepoint=False):
        allocations = sorted(_lock_open_allocations(wanted, location_id=location.pk), key=lambda a: a.pk)
        levels = _levels_of(allocations)
        remaining = {(line.document_type, line.line_id): quantity for line, quantity in wanted.items()}
        reductions: list[tuple[Allocation, int]] = []
        per_level: dict[int, int] = defaultdict(int)
        for allocation in allocations:
            key = (allocation.document_type, allocation.line_id)
            take = min(allocation.quantity, remaining.get(key, 0))
            if take > 0:
                reductions.append((allocation, take))
                per_level[allocation.level_id] += take
                remaining[key] -= take
        short = [f"line {line_id}: {left} more" for (_, line_id), left in sorted(remaining.items()) if left > 0]
        if not short:
            _reduce_many(reductions, AllocationStatus.CONSUMED)
            _apply_many(levels, {pk: (-quantity, -quantity, 0) for pk, quantity in per_level.items()}, by=by)
            movements = [
                _movement(levels[pk], -per_level[pk], reason=reason, source=source, by=by, note=note)
                for pk in sorted(per_level)
            ]
            movements = StockMovement.objects.bulk_create(movements)
    if short:
        raise DomainError(
            f"The lines hold too few units at {location.code} to ship ({'; '.join(short)}); nothing was shipped.",
            code="allocation_short",
        )
    return movements


def allocation_transfer(*, from_line: LineRef, to_line: LineRef, quantity: int, by: Actor) -> int:
    """Move `quantity` of what one line holds to another line (split, merge). Level totals do not change."""
    _positive(quantity)
    with transaction.atomic():
        allocations = sorted(_lock_open_allocations([from_line]), key=lambda a: a.pk)
        held = sum(a.quantity for a in allocations)
        if held < quantity:
            raise DomainError(f"The line holds {held}, fewer than {quantity}.", code="allocation_short")
        remaining = quantity
        for allocation in allocations:
            take = min(allocation.quantity, remaining)
            if take <= 0:
                break
            _reduce(allocation, take, AllocationStatus.RELEASED)
            target = (
                Allocation.objects.select_for_update()
                .filter(
                    document_type=to_line.document_type,
                    line_id=to_line.line_id,
                    level_id=allocation.level_id,
                    status=AllocationStatus.OPEN,
                )
                .first()
            )
            if target is not None:
                Allocation.objects.filter(pk=target.pk).update(quantity=F("quantity") + take)
            else:
                Allocation.objects.create(
                    level_id=allocation.level_id,
                    document_type=to_line.document_type,
                    document_id=to_line.document_id,
                    line_id=to_line.line_id,
                    quantity=take,
                )
            remaining -= take
        return quantity
