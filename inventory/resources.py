"""Inventory items in and out of the back office (django-import-export), written through inventory.services.

Stock is not imported: on hand, allocated and incoming change only through the ledger (adjust, receive,
documents), so an item file carries the item's own fields."""

from inventory import services
from inventory.models import InventoryItem
from stateset.resources import ServiceResource


class InventoryItemResource(ServiceResource):
    """One row per item, found by SKU. A new SKU creates the item (`item_create`), a known one updates the
    columns given (`item_update`)."""

    natural_key = "sku"
    create_service = services.item_create
    update_service = services.item_update
    service_param = "inventory_item"
    service_fields = services.ITEM_FIELDS

    class Meta(ServiceResource.Meta):
        model = InventoryItem
        fields = (
            "id",
            "sku",
            "upc",
            "description",
            "size",
            "color",
            "unit_cost",
            "reorder_point",
            "active",
            "arriving",
            "arrival_date",
            "delivery_date",
            "purchase_order_id",
            "restock_date",
        )
        export_order = fields
