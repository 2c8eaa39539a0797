"""Named reads for inventory: the item list with its totals, ledger pages, and the consistency check."""

from __future__ import annotations

from django.db.models import F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
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
