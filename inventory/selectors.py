"""Named reads for inventory: the item list with its totals, ledger pages, and the consistency check."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import (
    Aggregate,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
)
from django.db.models.functions import Coalesce

from inventory.models import (
    Allocation,
    CycleCount,
    CycleCountLineItem,
    InventoryItem,
    Location,
    PackingList,
    PackingListItem,
    PurchaseOrder,
    PurchaseOrderLineItem,
    StockLevel,
    StockMovement,
)
from inventory.states import AllocationStatus


def _level_sum(field: str):
    total = (
        StockLevel.objects.filter(item=OuterRef("pk"))
        .order_by()
        .values("item")
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))


def item_list() -> QuerySet[InventoryItem]:
    """Items with their totals over all locations (`warehouse` = on hand, `available` = on hand - allocated)
    and their per-location levels; a fixed number of queries for any page."""
    return (
        InventoryItem.objects.annotate(
            warehouse_total=_level_sum("on_hand"),
            allocated_total=_level_sum("allocated"),
            incoming_total=_level_sum("incoming"),
        )
        .annotate(available_total=F("warehouse_total") - F("allocated_total"))
        .prefetch_related(
            Prefetch("levels", queryset=StockLevel.objects.select_related("location").order_by("location__code"))
        )
    )


class _JSONRows(Aggregate):
    """The group's rows as one JSON array of arrays, as text: `JSON_GROUP_ARRAY(JSON_ARRAY(...))` on SQLite,
    `JSON_AGG(JSON_BUILD_ARRAY(...))::text` on PostgreSQL."""

    function = "JSON_GROUP_ARRAY"
    template = "%(function)s(JSON_ARRAY(%(expressions)s))"
    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra):
        template = "%(function)s(JSON_BUILD_ARRAY(%(expressions)s))::text"
        return self.as_sql(compiler, connection, function="JSON_AGG", template=template, **extra)


LEVEL_ROW = ("id", "location_id", "location__code", "on_hand", "allocated", "incoming")


def levels_beside(item_ref: str) -> Subquery:
    """Every level of the item that `item_ref` names in the outer query, as JSON text (`LEVEL_ROW` per level).
    The stock locks read it in their own statement (a subquery locks nothing), so an `inventory_item` event
    renders the moved item without reading it again (`render_moved_items`)."""
    rows = (
        StockLevel.objects.filter(item_id=OuterRef(item_ref))
        .order_by()
        .values("item_id")
        .annotate(rows=_JSONRows(*LEVEL_ROW))
        .values("rows")
    )
    return Subquery(rows, output_field=TextField())


def render_moved_items(items: Iterable[InventoryItem]) -> None:
    """Ready items whose levels the stock services moved (each holds the levels it moved, as written, and what
    their lock read beside them: inventory.services.stock) for rendering as `item_list()` would, without a
    read: totals and levels from the levels as written (the latest read of a level wins) and the item's
    other levels as read under the lock. An item changed otherwise in the transaction too (one event for it
    lacks the levels) is left to be read again."""
    from stateset.prefetch import as_written, prefetched

    groups: dict[int, list[InventoryItem]] = defaultdict(list)
    for item in items:
        groups[item.pk].append(item)
    for group in groups.values():
        moved = [level for item in group for level in item.__dict__.pop("_levels_moved", None) or [None]]
        if any(level is None for level in moved):
            continue
        moved.sort(key=lambda level: level.__dict__["_read_beside"][0])
        rows = json.loads(moved[-1].__dict__["_read_beside"][1] or "[]")
        written = {level.pk: level for level in moved}  # a later read of a level holds the earlier writes
        item = group[0]
        levels = []
        for pk, location_id, code, on_hand, allocated, incoming in rows:
            level = written.pop(pk, None)
            if level is None:
                level = StockLevel(
                    id=pk,
                    item_id=item.pk,
                    location_id=location_id,
                    on_hand=on_hand,
                    allocated=allocated,
                    incoming=incoming,
                )
                level.location = Location(id=location_id, code=code)
            levels.append(level)
        levels += written.values()
        levels.sort(key=lambda level: level.location.code)
        item.warehouse_total = sum(level.on_hand for level in levels)
        item.allocated_total = sum(level.allocated for level in levels)
        item.incoming_total = sum(level.incoming for level in levels)
        item.available_total = item.warehouse_total - item.allocated_total
        as_written(prefetched(item, levels=levels))


def location_list() -> QuerySet[Location]:
    return Location.objects.all()


def movement_list() -> QuerySet[StockMovement]:
    return StockMovement.objects.select_related("item", "location", "created_by")


def item_movements(item: InventoryItem) -> QuerySet[StockMovement]:
    """One item's ledger, at every location."""
    return movement_list().filter(item=item)


def purchase_order_list() -> QuerySet[PurchaseOrder]:
    return PurchaseOrder.objects.select_related("location").prefetch_related(
        Prefetch("lines", queryset=PurchaseOrderLineItem.objects.select_related("item").order_by("pk"))
    )


def packing_list_list() -> QuerySet[PackingList]:
    return PackingList.objects.select_related("location", "purchase_order").prefetch_related(
        Prefetch("items", queryset=PackingListItem.objects.select_related("item").order_by("pk"))
    )


def packing_list_item_list() -> QuerySet[PackingListItem]:
    return PackingListItem.objects.select_related("item", "packing_list")


def cycle_count_list() -> QuerySet[CycleCount]:
    return CycleCount.objects.select_related("location").prefetch_related(
        Prefetch("lines", queryset=CycleCountLineItem.objects.select_related("item", "location").order_by("pk"))
    )


def cycle_count_discrepancies(cycle_count: CycleCount) -> QuerySet[CycleCountLineItem]:
    """The lines whose count differs from the snapshot (a non-zero variance)."""
    return (
        CycleCountLineItem.objects.filter(cycle_count=cycle_count, variance_quantity__isnull=False)
        .exclude(variance_quantity=0)
        .select_related("item", "location")
        .order_by("pk")
    )


def level_for(item: InventoryItem, location: Location) -> StockLevel | None:
    return StockLevel.objects.filter(item=item, location=location).first()


def ledger_mismatches() -> list[dict]:
    """Levels whose on hand differs from the sum of their movements, or whose allocated differs from the sum
    of their open allocations. Empty when the ledger explains every quantity."""
    movement_sum = (
        StockMovement.objects.filter(item=OuterRef("item"), location=OuterRef("location"))
        .order_by()
        .values("item")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    open_sum = (
        Allocation.objects.filter(level=OuterRef("pk"), status=AllocationStatus.OPEN)
        .order_by()
        .values("level")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    levels = (
        StockLevel.objects.annotate(
            ledger=Coalesce(Subquery(movement_sum, output_field=IntegerField()), Value(0)),
            held=Coalesce(Subquery(open_sum, output_field=IntegerField()), Value(0)),
        )
        .filter(~Q(on_hand=F("ledger")) | ~Q(allocated=F("held")))
        .select_related("item", "location")
        .order_by("pk")
    )
    return [
        {
            "sku": level.item.sku,
            "location": level.location.code,
            "on_hand": level.on_hand,
            "ledger": level.ledger,
            "allocated": level.allocated,
            "open_allocations": level.held,
        }
        for level in levels
    ]


def allocations_held(document_type: str, line_ids) -> dict[tuple[int, int], int]:
    """What each line of a document holds, per location: {(line_id, location_id): open quantity} (one query).
    A read only: the caller holds its document's lock, which serialises changes to its allocations."""
    rows = (
        Allocation.objects.filter(document_type=document_type, line_id__in=list(line_ids), status=AllocationStatus.OPEN)
        .values("line_id", "level__location_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    return {(row["line_id"], row["level__location_id"]): row["total"] for row in rows}
