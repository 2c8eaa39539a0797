"""Factory functions for tests: plain functions with keyword arguments, writing through services where a
service exists, so that fixtures obey the same rules as the product."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from crm import services as crm_services
from stateset import services as access_services
from stateset.actors import Actor

SYSTEM = Actor.system("tests")
_seq = itertools.count(1)


def unique(prefix: str = "x") -> str:
    return f"{prefix}{next(_seq)}"


def make_user(*perms: str, superuser: bool = False, username: str | None = None):
    """A user holding exactly `perms` ("crm.view_customer", ...), or a superuser."""
    User = get_user_model()
    user = User.objects.create_user(
        username=username or unique("user"), password="pw", is_staff=True, is_superuser=superuser
    )
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return get_user_model().objects.get(pk=user.pk)  # fresh, without a stale permission cache


def make_key(user=None, *, name: str = "test", expires_at=None):
    user = user or make_user(superuser=True)
    key, raw = access_services.api_key_create(user=user, name=name, expires_at=expires_at, by=SYSTEM)
    return key, raw


def api_client(user=None, *, scheme: str = "Token") -> APIClient:
    """An API client authenticated by a fresh key of `user` (a superuser when not given)."""
    _, raw = make_key(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {raw}")
    return client


def make_customer(**fields):
    fields.setdefault("email", f"{unique('c')}@example.com")
    fields.setdefault("first_name", "Test")
    fields.setdefault("last_name", "Customer")
    return crm_services.customer_create(by=SYSTEM, **fields)


# ---- inventory ---------------------------------------------------------------------------------------------


def make_location(code: str | None = None, **fields):
    from inventory import services as inv

    return inv.location_create(by=SYSTEM, code=code or unique("LOC"), **fields)


def make_item(sku: str | None = None, *, on_hand: int = 0, location=None, **fields):
    """An inventory item, with `on_hand` received at `location` (MAIN by default) through the ledger."""
    from inventory import services as inv

    item = inv.item_create(by=SYSTEM, sku=sku or unique("SKU-"), **fields)
    if on_hand:
        inv.stock_receive(
            inventory_item=item,
            location=location or inv.default_location(),
            quantity=on_hand,
            source=inv.Source("seed"),
            by=SYSTEM,
        )
    return item


def level(item, location=None):
    """(on_hand, allocated, incoming) of an item at a location (MAIN by default), read fresh."""
    from inventory import services as inv
    from inventory.models import StockLevel

    location = location or inv.default_location()
    row = StockLevel.objects.filter(item=item, location=location).first()
    return (row.on_hand, row.allocated, row.incoming) if row else (0, 0, 0)


PO_PATHS = {
    "draft": [],
    "submitted": ["purchase_order_submit"],
    "approved": ["purchase_order_submit", "purchase_order_approve"],
    "ordered": ["purchase_order_submit", "purchase_order_approve", "purchase_order_send"],
}


def make_purchase_order(lines, status: str = "draft", **fields):
    """A purchase order of `lines` [(item or SKU, quantity ordered[, unit cost]), ...], brought to `status`
    (draft, submitted, approved, ordered) through the services."""
    from inventory.services import purchasing

    specs = []
    for line in lines:
        item, quantity, *cost = line
        spec = {"sku": item if isinstance(item, str) else item.sku, "quantity_ordered": quantity}
        if cost:
            spec["unit_cost"] = cost[0]
        specs.append(spec)
    po = purchasing.purchase_order_create(by=SYSTEM, lines=specs, **fields)
    for name in PO_PATHS[status]:
        po = getattr(purchasing, name)(purchase_order=po, by=SYSTEM)
    return po


def make_packing_list(items, *, submit: bool = False, **fields):
    """A packing list of `items` [(item or SKU, quantity), ...], submitted when asked."""
    from inventory.services import purchasing

    specs = [{"sku": i if isinstance(i, str) else i.sku, "quantity": q} for i, q in items]
    pl = purchasing.packing_list_create(by=SYSTEM, items=specs, **fields)
    if submit:
        pl = purchasing.packing_list_submit(packing_list=pl, by=SYSTEM)
    return pl


def make_cycle_count(parts, *, start: bool = False, **fields):
    """A cycle count of `parts` (items or SKUs) at its location (MAIN by default), started when asked."""
    from inventory.services import counting

    specs = [{"part": p if isinstance(p, str) else p.sku} for p in parts]
    cc = counting.cycle_count_create(by=SYSTEM, lines=specs, **fields)
    if start:
        cc = counting.cycle_count_start(cycle_count=cc, by=SYSTEM)
    return cc


# The services that walk a lead or a case from its first status to the one asked for.
LEAD_PATHS = {
    "new": [],
    "engaged": ["lead_engage"],
    "accepted": ["lead_engage", "lead_accept"],
    "rejected": ["lead_reject"],
    "converted": ["lead_engage", "lead_accept", "lead_convert"],
}
CASE_PATHS = {
    "open": [],
    "escalated": ["case_escalate"],
    "resolved": ["case_resolve"],
    "closed": ["case_close"],
}


def make_lead(status: str = "new", **fields):
    """A lead brought to `status` through the services (a converted one creates or links its customer)."""
    fields.setdefault("email", f"{unique('lead')}@example.com")
    fields.setdefault("first_name", "Lee")
    fields.setdefault("last_name", "Prospect")
    lead = crm_services.lead_create(by=SYSTEM, **fields)
    for name in LEAD_PATHS[status]:
        lead = getattr(crm_services, name)(lead=lead, by=SYSTEM)
    return lead


def make_case(status: str = "open", **fields):
    """A case brought to `status` through the services."""
    fields.setdefault("case_name", unique("Case "))
    case = crm_services.case_create(by=SYSTEM, **fields)
    for name in CASE_PATHS[status]:
        case = getattr(crm_services, name)(case=case, by=SYSTEM)
    return case


# ---- manufacturing -----------------------------------------------------------------------------------------


def make_bom(part, lines, *, activate: bool = True, **fields):
    """A BOM making `part` (an item or SKU) from `lines` [(item or SKU, quantity per unit), ...], active
    unless `activate=False`."""
    from manufacturing import services as mfg

    def sku(value):
        return value if isinstance(value, str) else value.sku

    bom = mfg.bom_create(
        by=SYSTEM,
        part=sku(part),
        line_items=[{"part_number": sku(item), "quantity": quantity} for item, quantity in lines],
        **fields,
    )
    if activate:
        bom = mfg.bom_activate(bill_of_materials=bom, by=SYSTEM)
    return bom


def make_work_order(bom, quantity: int = 1, **fields):
    from manufacturing import services as mfg

    return mfg.work_order_create(by=SYSTEM, bill_of_materials=bom, quantity=quantity, **fields)


# ---- orders ------------------------------------------------------------------------------------------------


def make_order(*lines, customer=None, status: str = "pending", by=SYSTEM, **fields):
    """An order of `lines` [(item or SKU, quantity[, unit price]), ...] (unit price 10.00 by default), for
    `customer` (a new one by default), brought to `status` through the services: pending, processing,
    on_hold, shipped, delivered, cancelled, returned (every unit), refunded (in full), exchanged, merged
    (into a new order of the same customer)."""
    from decimal import Decimal

    from orders import services as orders

    specs = []
    for line in lines:
        item, quantity, *price = line
        sku = item if isinstance(item, str) else item.sku
        specs.append({"sku": sku, "quantity": quantity, "unit_price": Decimal(str(price[0] if price else "10.00"))})
    if customer is None and "customer_email" not in fields:
        customer = make_customer()
    order = orders.order_create(by=by, customer=customer, order_line_items=specs, **fields)
    if status in ("processing",):
        order = orders.order_process(order=order, by=by)
    elif status == "on_hold":
        order = orders.order_hold(order=order, by=by, reason="test hold")
    elif status in ("shipped", "delivered", "returned", "refunded", "exchanged"):
        order = orders.order_ship(order=order, by=by, tracking_number="T1", carrier="UPS")
        if status == "delivered":
            order = orders.order_deliver(order=order, by=by)
        elif status == "returned":
            quantities = {line.pk: line.quantity for line in order.order_line_items.all()}
            order = orders.order_lines_add_returned(order=order, quantities=quantities, by=by)
        elif status == "refunded":
            order = orders.order_refund(order=order, by=by, amount=order.total)
        elif status == "exchanged":
            order = orders.order_mark_exchanged(order=order, by=by)
    elif status == "cancelled":
        order = orders.order_cancel(order=order, by=by)
    elif status == "merged":
        target = orders.order_create(by=by, customer=order.customer, order_line_items=specs[:1])
        orders.order_merge(order=target, order_ids=[order.pk], by=by)
        order = type(order).objects.get(pk=order.pk)
    elif status != "pending":
        raise ValueError(f"unknown order status {status}")
    return order


def make_promotion(code: str | None = None, *, type: str = "percentage", value="10", **fields):
    from decimal import Decimal

    from orders import services as orders

    return orders.promotion_create(
        by=SYSTEM, code=code or unique("PROMO"), type=type, value=Decimal(str(value)), **fields
    )
