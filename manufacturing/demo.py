"""Demo production for `make run` (seed_demo): a two-level bill of materials (a floor fan whose BOM includes
a housing sub-assembly with a BOM of its own), a build to stock, work orders in every status, and
manufacture orders (one draft, one submitted). Everything goes through the services; components that
inventory's demo has not created yet are created here. Running it twice changes nothing."""

from __future__ import annotations

from decimal import Decimal

from inventory import services as inv
from inventory.models import InventoryItem
from manufacturing import services as mfg
from manufacturing.models import BillOfMaterials

# SKU: (description, unit cost, units received for the demo's own production)
COMPONENTS = {
    "BOLT-M4": ("M4 bolt", "0.05", 400),
    "PANEL": ("Steel panel", "4.50", 60),
    "MOTOR": ("Brushless motor", "38.00", 20),
    "FRAME": ("Aluminium frame", "22.00", 20),
}
ASSEMBLIES = {
    "HOUSING-ASSY": "Fan housing (sub-assembly)",
    "FAN-UNIT": "Floor fan",
}
MARKER = "Floor fan (demo)"


def _item(sku: str, description: str, unit_cost: str, *, by) -> InventoryItem:
    existing = InventoryItem.objects.filter(sku=sku).first()
    if existing is not None:
        return existing
    return inv.item_create(by=by, sku=sku, description=description, unit_cost=Decimal(unit_cost))


def seed(*, by, progress: bool = True) -> str:
    if BillOfMaterials.objects.filter(name=MARKER).exists():
        return "demo production already present"
    main = inv.default_location()
    for sku, (description, cost, quantity) in COMPONENTS.items():
        item = _item(sku, description, cost, by=by)
        inv.stock_receive(
            inventory_item=item, location=main, quantity=quantity, source=inv.Source("demo", None, "demo"), by=by
        )
    for sku, description in ASSEMBLIES.items():
        _item(sku, description, "0", by=by)

    housing = mfg.bom_create(
        by=by,
        part="HOUSING-ASSY",
        name="Fan housing (demo)",
        description="Frame, two panels, eight bolts.",
        line_items=[
            {"part_number": "FRAME", "quantity": 1},
            {"part_number": "PANEL", "quantity": 2},
            {"part_number": "BOLT-M4", "quantity": 8},
        ],
    )
    housing = mfg.bom_activate(bill_of_materials=housing, by=by)
    fan = mfg.bom_create(
        by=by,
        part="FAN-UNIT",
        name=MARKER,
        description="The housing sub-assembly, a motor, four bolts.",
        line_items=[
            {
                "part_number": "HOUSING-ASSY",
                "quantity": 1,
                "line_type": "Assembly",
                "purchase_supply_type": "Manufacture",
            },
            {"part_number": "MOTOR", "quantity": 1},
            {"part_number": "BOLT-M4", "quantity": 4},
        ],
    )
    fan = mfg.bom_activate(bill_of_materials=fan, by=by)
    mfg.bom_build_to_stock(bill_of_materials=housing, quantity=4, by=by)

    def work_order(bom, quantity, memo):
        return mfg.work_order_create(by=by, bill_of_materials=bom, quantity=quantity, memo=memo, priority="Normal")

    work_order(fan, 2, "Planned, nothing allocated yet")
    released = work_order(housing, 2, "Released: components allocated")
    mfg.work_order_release(work_order=released, by=by)
    running = work_order(fan, 2, "In progress: components consumed")
    mfg.work_order_release(work_order=running, by=by)
    mfg.work_order_start(work_order=running, by=by)
    done = work_order(housing, 3, "Completed")
    mfg.work_order_release(work_order=done, by=by)
    mfg.work_order_start(work_order=done, by=by)
    mfg.work_order_complete(work_order=done, quantity_completed=3, by=by)
    partial = work_order(fan, 3, "In progress, 1 of 3 completed")
    mfg.work_order_release(work_order=partial, by=by)
    mfg.work_order_start(work_order=partial, by=by)
    mfg.work_order_complete(work_order=partial, quantity_completed=1, by=by)
    held = work_order(housing, 1, "On hold after release")
    mfg.work_order_release(work_order=held, by=by)
    mfg.work_order_hold(work_order=held, by=by, reason="waiting for the paint shop")
    cancelled = work_order(fan, 1, "Cancelled before release")
    mfg.work_order_cancel(work_order=cancelled, by=by, reason="customer changed the order")

    mfg.manufacture_order_create(
        by=by,
        memo="Next month's fans (draft)",
        priority="High",
        manufacture_order_line_items=[
            {"bom_number": housing.number, "quantity": 5},
            {"part_number": "FAN-UNIT", "quantity": 5},
        ],
    )
    submitted = mfg.manufacture_order_create(
        by=by,
        memo="This week's fans",
        priority="High",
        manufacture_order_line_items=[{"part_number": "FAN-UNIT", "quantity": 2}],
    )
    mfg.manufacture_order_submit(manufacture_order=submitted, by=by)
    return "2 bills of materials, 8 work orders, 2 manufacture orders"
