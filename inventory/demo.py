"""Demo stock for `make run` (seed_demo): locations, items with stock (some low), a purchase order in
progress (ordered and partially received) with a packing list on its way, and an open cycle count.

The SKUs are the ones the other apps' demos sell and build with: WIDGET-RED, WIDGET-BLUE, GADGET, GIZMO,
BOLT-M4, NUT-M4, SCREW-M3, PANEL, MOTOR, FRAME, WHEEL, CABLE.
"""

from tqdm import tqdm

from inventory import services
from inventory.models import InventoryItem
from inventory.services import counting, purchasing

LOCATIONS = [("EAST", "East warehouse", "warehouse"), ("STORE-1", "Downtown store", "site")]

# sku, description, unit cost, reorder point, on hand at MAIN, on hand at EAST
ITEMS = [
    ("WIDGET-RED", "Widget, red", "4.50", 20, 120, 30),
    ("WIDGET-BLUE", "Widget, blue", "4.50", 20, 80, 0),
    ("GADGET", "Gadget", "12.00", 10, 45, 10),
    ("GIZMO", "Gizmo", "7.25", 10, 6, 0),  # low
    ("BOLT-M4", "Bolt M4 × 20", "0.05", 1000, 5000, 1000),
    ("NUT-M4", "Nut M4", "0.03", 1000, 4000, 0),
    ("SCREW-M3", "Screw M3 × 8", "0.04", 500, 300, 0),  # low
    ("PANEL", "Side panel", "9.80", 40, 30, 0),  # low: a purchase order is on its way
    ("MOTOR", "Motor 12 V", "24.00", 15, 2, 0),  # low: a purchase order is on its way
    ("FRAME", "Frame, steel", "18.50", 5, 15, 5),
    ("WHEEL", "Wheel 60 mm", "1.20", 50, 200, 0),
    ("CABLE", "Cable 1 m", "0.90", 50, 150, 0),
]


def seed(*, by, progress: bool = True) -> str:
    if InventoryItem.objects.filter(sku="WIDGET-RED").exists():
        return "demo stock already present"
    locations = {"MAIN": services.default_location()}
    for code, name, kind in LOCATIONS:
        locations[code] = services.location_create(by=by, code=code, name=name, kind=kind)
    for sku, description, cost, reorder, main, east in tqdm(ITEMS, desc="inventory", disable=not progress):
        item = services.item_create(by=by, sku=sku, description=description, unit_cost=cost, reorder_point=reorder)
        for code, quantity in (("MAIN", main), ("EAST", east)):
            if quantity:
                services.stock_adjust(
                    inventory_item=item,
                    location=locations[code],
                    quantity=quantity,
                    reason="opening stock",
                    by=by,
                )

    po = purchasing.purchase_order_create(
        by=by,
        vendor="Acme Components",
        purchase_order_name="Motors and panels restock",
        lines=[{"sku": "MOTOR", "quantity_ordered": 20}, {"sku": "PANEL", "quantity_ordered": 60}],
    )
    for step in (purchasing.purchase_order_submit, purchasing.purchase_order_approve, purchasing.purchase_order_send):
        po = step(purchase_order=po, by=by)
    po = purchasing.purchase_order_receive(
        purchase_order=po, lines=[{"sku": "MOTOR", "quantity": 10}], reason="first delivery", by=by
    )
    packing_list = purchasing.packing_list_create(
        by=by,
        purchase_order=po,
        ship_per="Truck",
        tracking_number="1ZDEMO0001",
        invoice_number="ACME-INV-7731",
        items=[{"sku": "PANEL", "quantity": 30}],
    )
    purchasing.packing_list_submit(packing_list=packing_list, by=by)
    counting.cycle_count_create(
        by=by, method="ABC", assigned_user="warehouse", lines=[{"part": "BOLT-M4"}, {"part": "NUT-M4"}]
    )
    return (
        f"{len(ITEMS)} items at {len(locations)} locations, purchase order {po.purchase_order_number} "
        f"({po.status}), packing list {packing_list.number} (submitted), 1 cycle count"
    )
