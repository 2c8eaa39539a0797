"""Demo orders for `make run` (seed_demo): promotions, orders in every status, a wholesale order or two.

Everything goes through `orders.services`, so the demo data obeys the same rules (stock, totals, audit).
Runs after crm.demo and inventory.demo; the items it needs are created here if inventory.demo did not.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from tqdm import tqdm

from crm.models import Customer
from crm.services import customer_get_or_create
from inventory import services as inv
from inventory.models import InventoryItem, StockLevel
from orders import services
from orders.models import Order, Promotion

SOURCE = "demo"
ITEMS = {
    "WIDGET-RED": ("Red widget", Decimal("19.99")),
    "WIDGET-BLUE": ("Blue widget", Decimal("21.50")),
    "GADGET": ("Gadget", Decimal("49.00")),
}
GIFT_WRAP = {"sku": "GIFT-WRAP", "quantity": 1, "unit_price": Decimal("3.50"), "requires_inventory": False}
NEEDED = 100  # units available per item before the demo orders take theirs


def _ensure_stock(by) -> None:
    location = inv.default_location()
    for sku, (description, _) in ITEMS.items():
        item = InventoryItem.objects.filter(sku=sku).first()
        if item is None:
            item = inv.item_create(by=by, sku=sku, description=description)
        level = StockLevel.objects.filter(item=item, location=location).first()
        available = level.available if level else 0
        if available < NEEDED:
            inv.stock_receive(
                inventory_item=item,
                location=location,
                quantity=NEEDED - available,
                source=inv.Source("demo", None, "orders demo"),
                by=by,
            )


def _customers(by) -> list[Customer]:
    found = list(Customer.objects.filter(email__endswith="@demo.stateset.test").order_by("pk")[:6])
    while len(found) < 6:
        customer, _ = customer_get_or_create(by=by, email=f"shopper{len(found)}@demo.stateset.test")
        found.append(customer)
    return found


def _line(sku: str, quantity: int) -> dict:
    return {"sku": sku, "quantity": quantity, "unit_price": ITEMS[sku][1]}


def _promotions(by) -> dict[str, Promotion]:
    now = timezone.now()
    specs = [
        {"code": "WELCOME10", "name": "10% off", "type": "percentage", "value": Decimal("10")},
        {"code": "FIVEOFF", "name": "5 off above 20", "type": "fixed", "value": Decimal("5"), "min_order_amount": 20},
        {"code": "FREESHIP", "name": "Free shipping", "type": "free_shipping", "value": Decimal("0")},
        {"code": "LAUNCH", "name": "Launch week (over)", "type": "percentage", "value": Decimal("20"),
         "starts_at": now - timedelta(days=60), "ends_at": now - timedelta(days=53)},
        {"code": "FIRST100", "name": "First hundred", "type": "fixed", "value": Decimal("10"), "usage_limit": 100},
    ]  # fmt: skip
    return {spec["code"]: services.promotion_create(by=by, **spec) for spec in specs}


def seed(*, by, progress: bool = True) -> str:
    if Order.objects.filter(source=SOURCE).exists():
        return "demo orders already present"
    _ensure_stock(by)
    promos = _promotions(by)
    ann, bob, cy, dee, eve, fay = _customers(by)

    def create(customer, *lines, **fields):
        return services.order_create(
            by=by,
            customer=customer,
            order_line_items=list(lines),
            source=SOURCE,
            shipping_amount=Decimal("5.00"),
            **fields,
        )

    def pending():
        order = create(ann, _line("WIDGET-RED", 2), _line("GADGET", 1), GIFT_WRAP)
        services.order_apply_promotion(order=order, by=by, code="WELCOME10")
        services.order_tag(order=order, by=by, tags=["gift", ("channel", "web")])

    def processing():
        order = create(bob, _line("WIDGET-BLUE", 3), shipping_address={"line1": "1 Main St", "city": "Austin"})
        services.order_add_discount(order=order, by=by, type="fixed", value=Decimal("4.00"), description="Goodwill")
        services.order_process(order=order, by=by)

    def on_hold():
        order = create(cy, _line("GADGET", 2))
        services.order_hold(order=order, by=by, reason="Address to confirm with the customer")

    def shipped():
        order = create(dee, _line("WIDGET-RED", 1), _line("WIDGET-BLUE", 1))
        services.order_apply_promotion(order=order, by=by, code="FREESHIP")
        services.order_ship(order=order, by=by, tracking_number="1Z999AA10123456784", carrier="UPS")

    def partially_shipped():
        # Two parcels: one shipped today, the rest pending (packed tomorrow).
        order = create(fay, _line("WIDGET-RED", 2), _line("GADGET", 1))
        red, gadget = order.order_line_items.order_by("pk")
        first = services.shipment_create(
            by=by, order=order, shipment_line_items=[{"order_item_id": red.pk, "quantity": 1}], carrier="UPS"
        )
        services.shipment_ship(shipment=first, by=by, tracking_number="1Z999AA10123456790")
        services.shipment_create(
            by=by,
            order=order,
            shipment_line_items=[{"order_item_id": red.pk, "quantity": 1}, {"order_item_id": gadget.pk, "quantity": 1}],
            carrier="UPS",
        )

    def delivered():
        order = create(eve, _line("GADGET", 1))
        order = services.order_ship(order=order, by=by, tracking_number="9400100000000000000000", carrier="USPS")
        services.order_deliver(order=order, by=by)

    def cancelled():
        order = create(fay, _line("WIDGET-BLUE", 2))
        services.order_cancel(order=order, by=by, reason="Customer changed their mind")

    def returned():
        order = create(ann, _line("WIDGET-RED", 1))
        order = services.order_ship(order=order, by=by, carrier="UPS", tracking_number="1Z999AA10123456785")
        line = order.order_line_items.get()
        services.order_lines_add_returned(order=order, quantities={line.pk: 1}, by=by, reason="Wrong colour")

    def refunded():
        order = create(bob, _line("WIDGET-BLUE", 1))
        order = services.order_ship(order=order, by=by, carrier="FedEx", tracking_number="7489")
        order = services.order_deliver(order=order, by=by)
        services.order_refund(order=order, by=by, amount=order.total, reason="Arrived damaged")

    def exchanged():
        order = create(cy, _line("WIDGET-RED", 1))
        order = services.order_ship(order=order, by=by, carrier="UPS", tracking_number="1Z999AA10123456786")
        blue = [{"sku": "WIDGET-BLUE", "quantity": 1}]
        services.order_create_replacement(original=order, items=blue, by=by, unit_price_zero=True, reason="Blue")
        services.order_mark_exchanged(order=order, by=by, reason="Swapped for blue")

    def merged():
        first = create(dee, _line("WIDGET-RED", 1))
        second = create(dee, _line("WIDGET-RED", 1), _line("GADGET", 1))
        services.order_merge(order=first, order_ids=[second.pk], by=by, reason="Ship together")

    def split():
        order = create(eve, _line("WIDGET-BLUE", 2), _line("GADGET", 2))
        services.order_apply_promotion(order=order, by=by, code="FIRST100")
        line = order.order_line_items.order_by("pk").last()
        services.order_split(order=order, splits=[[(line.pk, 1)]], by=by, reason="Gadget ships later")

    def wholesale():
        draft = services.wholesale_order_create(
            by=by,
            customer=fay,
            name="Spring restock",
            payment_terms="net_30",
            order_line_items=[{"sku": "WIDGET-RED", "quantity": 10, "unit_price": Decimal("12.00")}],
        )
        approved = services.wholesale_order_create(
            by=by,
            customer=ann,
            name="Store opening",
            payment_terms="net_60",
            order_line_items=[
                {"sku": "GADGET", "quantity": 5, "unit_price": Decimal("30.00")},
                {"sku": "WIDGET-BLUE", "quantity": 5, "unit_price": Decimal("13.00")},
            ],
        )
        approved = services.wholesale_order_submit(wholesale_order=approved, by=by)
        services.wholesale_order_approve(wholesale_order=approved, by=by)
        services.wholesale_order_submit(wholesale_order=draft, by=by)

    steps = [
        pending,
        processing,
        on_hold,
        shipped,
        partially_shipped,
        delivered,
        cancelled,
        returned,
        refunded,
        exchanged,
        merged,
    ]
    steps += [split, wholesale]
    for step in tqdm(steps, desc="orders", disable=not progress):
        step()
    return f"{Order.objects.count()} orders, {len(promos)} promotions, 2 wholesale orders"
