from django.apps import AppConfig


def stock_low(item, data) -> list[str]:
    """`stock.low` when a change takes the item's availability from above its reorder point to at or below it
    (the stock services note on the item how far it moved: inventory.services.stock._note_adjusted)."""
    moved = item.__dict__.pop("_available_moved", 0)
    available, point = data.get("available"), item.reorder_point
    if available is None or not moved:
        return []
    return ["stock.low"] if available - moved > point >= available else []


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self):
        # Publish every change of these models as events, rendered as the API renders them (stateset.events).
        from inventory.api import (
            CycleCountViewSet,
            InventoryItemViewSet,
            LocationViewSet,
            PackingListItemViewSet,
            PackingListViewSet,
            PurchaseOrderViewSet,
        )
        from inventory.models import CycleCount, InventoryItem, Location, PackingList, PackingListItem, PurchaseOrder
        from inventory.selectors import render_moved_items
        from stateset import events

        events.register(InventoryItem, viewset=InventoryItemViewSet, follow=stock_low, from_memory=render_moved_items)
        events.register(Location, viewset=LocationViewSet)
        events.register(PurchaseOrder, viewset=PurchaseOrderViewSet)
        events.register(PackingList, viewset=PackingListViewSet)
        events.register(PackingListItem, viewset=PackingListItemViewSet)
        events.register(CycleCount, viewset=CycleCountViewSet)
