"""What inventory tests compare before and after a refused request: every level and the whole ledger."""

from inventory.models import StockLevel, StockMovement


def stock_snapshot():
    """Every level's (item, location, on_hand, allocated, incoming) and the number of ledger rows."""
    levels = sorted(StockLevel.objects.values_list("item_id", "location_id", "on_hand", "allocated", "incoming"))
    return levels, StockMovement.objects.count()
