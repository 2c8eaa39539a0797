"""The order page's operations (stateset.admin.Operation) are the API's actions with their input: ship with a
tracking number, add and remove items, discounts, promotions and tags. Each runs the API's service: run on
one of two twin orders through the API and on the other through the admin, it changes exactly the same
(status, lines, totals, allocations, stock, ledger, history); a refusal shows the API's message and changes
nothing; each is offered only in the statuses the contract allows and to staff holding its permission."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django_fsm_log.models import StateLog

from inventory.models import Allocation, StockLevel, StockMovement
from inventory.selectors import ledger_mismatches
from orders import services
from orders.models import Order, OrderDiscount, OrderTag, Promotion, Shipment
from tests.factories import SYSTEM, api_client, level
from tests.helpers import change_url, messages_of, op_url, staff_client
from tests.orders.support import ALL, SOURCES, create, fresh, lines_of, order_in, snapshot, stock

pytestmark = pytest.mark.django_db

D = Decimal
OPERATIONS = {op.name: op for op in admin.site._registry[Order].operations}
NEW = ("ship", "add_item", "remove_item", "add_discount", "remove_discount", "apply_promotion", "remove_promotion")
NEW += ("tag", "untag")


def offered(client, order) -> set[str]:
    """The operations whose button is on the order's page."""
    content = client.get(change_url(order)).content.decode()
    return set(
        re.findall(rf'href="/admin/orders/order/{order.pk}/operation/(\w+)/" class="[^"]*\boperation\b', content)
    )


def transition_permission(name: str) -> str:
    meta = next(iter(getattr(Order, name)._django_fsm.transitions.values()))
    return meta.permission or ""


# ---- what an action changes, comparable between two twin orders ---------------------------------------------


def effect(order: Order) -> dict:
    """Everything of `order` an action may change, without ids or timestamps (which differ between twins)."""
    order = fresh(order)
    lines = lines_of(order)
    sku_of = {line.pk: line.sku for line in lines}
    return {
        "order": (
            order.status,
            order.held_from_status,
            order.subtotal,
            order.discount_total,
            order.promotion_discount,
            order.shipping_total,
            order.tax_total,
            order.total,
            order.amount_refunded,
            order.promotion.code if order.promotion_id else None,
            order.tracking_number,
            order.carrier,
            bool(order.shipped_at),
        ),
        "lines": [
            (
                x.sku,
                x.product_name,
                x.quantity,
                x.unit_price,
                x.original_price,
                x.discount_total,
                x.total,
                x.quantity_shipped,
                x.status,
                x.requires_inventory,
                x.item_id,
            )
            for x in lines
        ],
        "discounts": [
            (d.type, d.value, d.description, d.amount, sku_of.get(d.line_id))
            for d in OrderDiscount.objects.filter(order=order).order_by("pk")
        ],
        "tags": sorted(OrderTag.objects.filter(order=order).values_list("tag_name", "tag_value")),
        "shipments": list(Shipment.objects.filter(order=order).values_list("tracking_number", "carrier")),
        "allocations": sorted(
            (sku_of.get(a.line_id, "a removed line"), a.level.item.sku, a.level.location.code, a.quantity, a.status)
            for a in Allocation.objects.filter(document_type="order", document_id=order.pk).select_related(
                "level__item", "level__location"
            )
        ),
        "ledger": sorted(
            (m.item.sku, m.location.code, m.quantity, m.reason)
            for m in StockMovement.objects.filter(source_type="order", source_id=order.pk).select_related(
                "item", "location"
            )
        ),
        "history": list(StateLog.objects.for_(order).order_by("pk").values_list("transition", "source_state", "state")),
    }


def shared() -> dict:
    """What twins share: the stock levels and the promotions' use counts."""
    return {
        "levels": {
            (lvl.item.sku, lvl.location.code): (lvl.on_hand, lvl.allocated, lvl.incoming)
            for lvl in StockLevel.objects.select_related("item", "location")
        },
        "promotions": dict(Promotion.objects.values_list("code", "times_used")),
    }


def delta(before: dict, after: dict) -> dict:
    levels = {
        key: tuple(a - b for a, b in zip(after["levels"][key], before["levels"].get(key, (0, 0, 0)), strict=True))
        for key in after["levels"]
    }
    uses = {code: n - before["promotions"].get(code, 0) for code, n in after["promotions"].items()}
    return {"levels": {k: v for k, v in levels.items() if any(v)}, "promotions": {k: v for k, v in uses.items() if v}}


@pytest.fixture
def promotions(db):
    services.promotion_create(by=SYSTEM, code="SAVE5", type="fixed", value=D("5.00"))
    services.promotion_create(by=SYSTEM, code="TENOFF", type="percentage", value=D("10"))
    services.promotion_create(by=SYSTEM, code="OLD", type="fixed", value=D("1.00"), active=False)
    services.promotion_create(by=SYSTEM, code="BIGSPEND", type="fixed", value=D("1.00"), min_order_amount=D("100"))


def _discount(order):
    services.order_add_discount(order=order, by=SYSTEM, type="fixed", value=D("4.00"), description="sorry")


def _promote(order):
    services.order_apply_promotion(order=order, by=SYSTEM, code="TENOFF")


def _tags(order):
    services.order_tag(order=order, by=SYSTEM, tags=[("vip", "gold"), ("rush", "")])


def _line(order, sku: str):
    return next(x for x in lines_of(order) if x.sku == sku)


@dataclass
class Case:
    """One operation from one status: the admin form's data and the API's body, both for a given order."""

    op: str
    status: str
    form: Callable[[Order], dict[str, Any]]
    body: Callable[[Order], dict[str, Any]]
    prepare: Callable[[Order], None] | None = None
    expect: dict[str, Any] = field(default_factory=dict)  # facts of the admin's order afterwards


CASES = [
    pytest.param(
        Case(
            "ship",
            "processing",
            lambda o: {"tracking_number": "1Z999", "carrier": "UPS"},
            lambda o: {"tracking_number": "1Z999", "carrier": "UPS"},
            expect={"status": "shipped", "tracking": ("1Z999", "UPS"), "A": (-2, -2, 0), "B": (-1, -1, 0)},
        ),
        id="ship-with-tracking",
    ),
    pytest.param(
        Case(
            "ship",
            "pending",
            lambda o: {"tracking_number": "", "carrier": "", "shipped_at": ""},
            lambda o: {},
            expect={"status": "shipped", "tracking": ("", ""), "A": (-2, -2, 0), "B": (-1, -1, 0)},
        ),
        id="ship-without",
    ),
    pytest.param(
        Case(
            "add_item",
            "on_hold",
            lambda o: {"sku": "A", "quantity": 3, "unit_price": "10.00", "requires_inventory": "on"},
            lambda o: {"sku": "A", "quantity": 3, "unit_price": "10.00"},
            expect={"status": "on_hold", "total": D("55.00"), "A": (0, 3, 0)},
        ),
        id="add_item-grows-a-line",
    ),
    pytest.param(
        Case(
            "add_item",
            "pending",
            lambda o: {"item": _item("B").pk, "quantity": 2, "unit_price": "7.50", "requires_inventory": "on"},
            lambda o: {"sku": "B", "quantity": 2, "unit_price": "7.50"},
            expect={"total": D("40.00"), "B": (0, 2, 0)},
        ),
        id="add_item-by-inventory-item",
    ),
    pytest.param(
        Case(
            "add_item",
            "processing",
            lambda o: {"sku": "GIFT-WRAP", "quantity": 1, "unit_price": "3.25", "product_name": "Gift wrap"},
            lambda o: {
                "sku": "GIFT-WRAP",
                "quantity": 1,
                "unit_price": "3.25",
                "product_name": "Gift wrap",
                "requires_inventory": False,
            },
            expect={"total": D("28.25")},
        ),
        id="add_item-without-inventory",
    ),
    pytest.param(
        Case(
            "add_item",
            "pending",
            lambda o: {"sku": "B", "quantity": 1, "requires_inventory": "on"},
            lambda o: {"sku": "B", "quantity": 1},
            expect={"total": D("30.00"), "B": (0, 1, 0)},
        ),
        id="add_item-at-the-lines-price",
    ),
    pytest.param(
        Case(
            "remove_item",
            "processing",
            lambda o: {"line": _line(o, "A").pk, "quantity": 1},
            lambda o: {"order_item_id": _line(o, "A").pk, "quantity": 1},
            expect={"total": D("15.00"), "A": (0, -1, 0)},
        ),
        id="remove_item-part",
    ),
    pytest.param(
        Case(
            "remove_item",
            "on_hold",
            lambda o: {"line": _line(o, "B").pk, "quantity": ""},
            lambda o: {"order_item_id": _line(o, "B").pk},
            expect={"total": D("20.00"), "B": (0, -1, 0)},
        ),
        id="remove_item-whole-line",
    ),
    pytest.param(
        Case(
            "add_discount",
            "pending",
            lambda o: {"type": "percentage", "value": "10", "description": "loyal", "line": ""},
            lambda o: {"type": "percentage", "value": "10", "description": "loyal"},
            expect={"total": D("22.50")},
        ),
        id="add_discount-order",
    ),
    pytest.param(
        Case(
            "add_discount",
            "on_hold",
            lambda o: {"type": "fixed", "value": "3.00", "line": _line(o, "B").pk},
            lambda o: {"type": "fixed", "value": "3.00", "order_item_id": _line(o, "B").pk},
            expect={"total": D("22.00")},
        ),
        id="add_discount-line",
    ),
    pytest.param(
        Case(
            "remove_discount",
            "processing",
            lambda o: {"discount": OrderDiscount.objects.get(order=o).pk},
            lambda o: {"discount_id": OrderDiscount.objects.get(order=o).pk},
            prepare=_discount,
            expect={"total": D("25.00")},
        ),
        id="remove_discount",
    ),
    pytest.param(
        Case(
            "apply_promotion",
            "pending",
            lambda o: {"code": "save5"},
            lambda o: {"code": "save5"},
            expect={"total": D("20.00"), "uses": {"SAVE5": 1}},
        ),
        id="apply_promotion",
    ),
    pytest.param(
        Case(
            "remove_promotion",
            "on_hold",
            lambda o: {},
            lambda o: {},
            prepare=_promote,
            expect={"total": D("25.00"), "uses": {"TENOFF": -1}},
        ),
        id="remove_promotion",
    ),
    pytest.param(
        Case(
            "tag",
            "delivered",
            lambda o: {"tag_name": "vip", "tag_value": "gold"},
            lambda o: {"tag_name": "vip", "tag_value": "gold"},
            expect={"status": "delivered", "tags": [("vip", "gold")]},
        ),
        id="tag",
    ),
    pytest.param(
        Case(
            "untag",
            "cancelled",
            lambda o: {"tags": ["vip"]},
            lambda o: {"tags": ["vip"]},
            prepare=_tags,
            expect={"status": "cancelled", "tags": [("rush", "")]},
        ),
        id="untag",
    ),
]


def _item(sku: str):
    from inventory.models import InventoryItem

    return InventoryItem.objects.get(sku=sku)


@pytest.mark.parametrize("case", CASES)
def test_an_operation_changes_exactly_what_the_api_changes(admin_client, promotions, case: Case):
    stock()
    by_api, by_admin = (order_in(case.status, prepare=case.prepare) for _ in range(2))
    assert effect(by_api) == effect(by_admin)

    before = shared()
    response = api_client().post(f"/v1/orders/{by_api.pk}/{case.op}", case.body(by_api), format="json")
    assert response.status_code == 200, response.json()
    api_delta = delta(before, shared())

    page = admin_client.get(op_url(by_admin, case.op))
    assert page.status_code == 200
    before = shared()
    response = admin_client.post(op_url(by_admin, case.op), case.form(by_admin), follow=True)
    assert response.redirect_chain[-1][0] == change_url(by_admin), response.content.decode()[-3000:]
    admin_delta = delta(before, shared())

    assert effect(by_admin) == effect(by_api)
    assert admin_delta == api_delta
    assert ledger_mismatches() == []
    # The admin is the door on the audit row, and the success message gives the new totals.
    log = StateLog.objects.for_(by_admin).order_by("pk").last()
    assert log.transition == case.op and "in the admin" in log.description
    order = fresh(by_admin)
    [done] = messages_of(response)
    assert order.display_number in done
    # What the contract says the action does, on the admin's order.
    expect = case.expect
    assert order.status == expect.get("status", case.status)
    if "total" in expect:
        assert order.total == expect["total"] and f"total {expect['total']}" in done
    if "tracking" in expect:
        assert (order.tracking_number, order.carrier) == expect["tracking"]
        assert list(Shipment.objects.filter(order=order).values_list("tracking_number", "carrier")) == [
            expect["tracking"]
        ]
    for sku in ("A", "B"):
        assert admin_delta["levels"].get((sku, "MAIN"), (0, 0, 0)) == expect.get(sku, (0, 0, 0)), sku
    assert admin_delta["promotions"] == expect.get("uses", {})
    if "tags" in expect:
        assert effect(order)["tags"] == expect["tags"]


def test_ship_records_the_tracking_number_and_consumes_the_stock(admin_client):
    a, b = stock(10)
    order = order_in("pending")
    page = admin_client.get(change_url(order))
    assert op_url(order, "ship").encode() in page.content
    response = admin_client.post(op_url(order, "ship"), {"tracking_number": "1Z42", "carrier": "DHL"}, follow=True)
    assert messages_of(response) == [f"Shipped {order.order_number} DHL 1Z42: its stock is consumed."]
    order = fresh(order)
    assert (order.status, order.tracking_number, order.carrier) == ("shipped", "1Z42", "DHL")
    assert [(x.quantity_shipped, x.status) for x in lines_of(order)] == [(2, "shipped"), (1, "shipped")]
    assert (level(a), level(b)) == ((8, 0, 0), (9, 0, 0))
    assert sorted(
        StockMovement.objects.filter(source_type="order", source_id=order.pk).values_list("quantity", "reason")
    ) == [(-2, "shipment"), (-1, "shipment")]
    log = StateLog.objects.for_(order).get(transition="ship")
    assert (log.source_state, log.state) == ("pending", "shipped") and "DHL 1Z42" in log.description
    assert ledger_mismatches() == []
    # The bulk action stays, for orders that need no tracking number.
    other = order_in("pending")
    response = admin_client.post(
        "/admin/orders/order/", {"action": "ship_orders", "_selected_action": [other.pk]}, follow=True
    )
    assert "Shipped: 1 done." in messages_of(response)
    assert fresh(other).status == "shipped" and (level(a), level(b)) == ((6, 0, 0), (8, 0, 0))


def test_add_item_then_remove_it_gives_the_stock_back(admin_client):
    a, _ = stock(10)
    order = order_in("pending")
    response = admin_client.post(
        op_url(order, "add_item"),
        {"sku": "A", "quantity": 4, "unit_price": "9.99", "requires_inventory": "on", "product_name": "Widget"},
        follow=True,
    )
    assert messages_of(response) == [
        f"Added 4 x A to {order.order_number}: subtotal 64.96, discounts 0.00, total 64.96."
    ]
    new = lines_of(order)[-1]  # another price: a line of its own
    assert (new.sku, new.quantity, new.unit_price, new.product_name, new.total) == (
        "A",
        4,
        D("9.99"),
        "Widget",
        D("39.96"),
    )
    order = fresh(order)
    assert (order.subtotal, order.total) == (D("64.96"), D("64.96"))
    assert level(a) == (10, 6, 0)
    response = admin_client.post(op_url(order, "remove_item"), {"line": new.pk, "quantity": ""}, follow=True)
    assert messages_of(response) == [
        f"Removed 4 x A from {order.order_number}: subtotal 25.00, discounts 0.00, total 25.00."
    ]
    assert level(a) == (10, 2, 0)
    assert [t for (t,) in StateLog.objects.for_(order).order_by("pk").values_list("transition")] == [
        "create",
        "add_item",
        "remove_item",
    ]
    assert ledger_mismatches() == []


def test_the_add_item_form_takes_a_sku_or_an_item_not_two_different_ones(admin_client):
    a, b = stock()
    order = order_in("pending")
    before = snapshot(order)
    response = admin_client.post(op_url(order, "add_item"), {"quantity": 1, "requires_inventory": "on"})
    assert response.status_code == 200 and "Give a SKU or an inventory item." in response.content.decode()
    response = admin_client.post(
        op_url(order, "add_item"), {"sku": "A", "item": b.pk, "quantity": 1, "requires_inventory": "on"}
    )
    assert "is not that of the item chosen (B)" in response.content.decode()
    assert snapshot(order) == before


# ---- refusals: the API's message, nothing changed -----------------------------------------------------------


REFUSALS = [
    pytest.param(
        "add_item",
        {"sku": "A", "quantity": 999, "requires_inventory": "on"},
        {"sku": "A", "quantity": 999},
        id="short-stock",
    ),
    pytest.param(
        "add_item",
        {"sku": "NOPE", "quantity": 1, "unit_price": "1.00", "requires_inventory": "on"},
        {"sku": "NOPE", "quantity": 1, "unit_price": "1.00"},
        id="unknown-sku",
    ),
    pytest.param(
        "add_item",
        {"sku": "C", "quantity": 1, "requires_inventory": ""},
        {"sku": "C", "quantity": 1, "requires_inventory": False},
        id="no-price",
    ),
    pytest.param("apply_promotion", {"code": "OLD"}, {"code": "OLD"}, id="inactive-promotion"),
    pytest.param("apply_promotion", {"code": "BIGSPEND"}, {"code": "BIGSPEND"}, id="below-minimum"),
    pytest.param("apply_promotion", {"code": "NOSUCH"}, {"code": "NOSUCH"}, id="unknown-promotion"),
    pytest.param("remove_promotion", {}, {}, id="no-promotion"),
    pytest.param("untag", {"tags": ["vip"]}, None, id="not-a-tag-of-the-order"),
]


@pytest.mark.parametrize(("op", "form", "body"), REFUSALS)
def test_a_refusal_shows_the_services_message_and_changes_nothing(admin_client, promotions, op, form, body):
    stock(10)
    order = order_in("pending")
    before = snapshot(order)
    expected = None
    if body is not None:
        refused = api_client().post(f"/v1/orders/{order.pk}/{op}", body, format="json")
        assert refused.status_code in (400, 422), refused.json()
        expected = refused.json()["message"]
        assert snapshot(order) == before
    response = admin_client.post(op_url(order, op), form)
    assert response.status_code == 200  # the form again
    shown = messages_of(response)
    if expected is not None:
        assert shown == [expected]
    else:
        assert shown == [] and "Select a valid choice" in response.content.decode()  # the form's own check
    assert snapshot(order) == before
    assert ledger_mismatches() == []


def test_removing_the_last_line_is_refused_with_the_services_message(admin_client):
    stock()
    order = create(lines=(("A", 2, "10.00"),))
    before = snapshot(order)
    response = admin_client.post(op_url(order, "remove_item"), {"line": lines_of(order)[0].pk, "quantity": ""})
    assert messages_of(response) == [
        f"Line {lines_of(order)[0].pk} is the last line of {order.order_number}; cancel the order instead."
    ]
    assert snapshot(order) == before


def test_a_second_promotion_is_refused(admin_client, promotions):
    stock()
    order = order_in("pending", prepare=_promote)
    before = snapshot(order)
    response = admin_client.post(op_url(order, "apply_promotion"), {"code": "SAVE5"})
    assert messages_of(response) == [f"{order.order_number} already has a promotion; remove it first."]
    assert snapshot(order) == before


# ---- offered in the contract's statuses, to the staff holding the permission -----------------------------------


def test_each_operation_carries_the_permission_its_transition_declares():
    for name in NEW:
        assert OPERATIONS[name].permission == transition_permission(name), name
    assert OPERATIONS["ship"].permission == "orders.ship_order"
    for name in ("add_discount", "remove_discount", "apply_promotion", "remove_promotion"):
        assert OPERATIONS[name].permission == "orders.discount_order", name


@pytest.mark.parametrize("status", ALL)
def test_the_buttons_follow_the_statuses_each_action_is_allowed_from(admin_client, status):
    stock()
    order = order_in(status)
    expected = {name for name in (*NEW, "split", "refund", "cancel", "cancel_remaining") if status in SOURCES[name]}
    if status in ("pending", "processing", "partially_shipped"):  # issue #18: a parcel of some units
        expected.add("ship_some")
    assert offered(admin_client, order) == expected


def test_an_operation_posted_in_a_status_it_is_not_allowed_from_changes_nothing(admin_client):
    stock()
    order = order_in("shipped")
    before = snapshot(order)
    response = admin_client.post(op_url(order, "add_item"), {"sku": "A", "quantity": 1}, follow=True)
    assert messages_of(response) == [f"Add item is not possible on {order.order_number} while it is shipped."]
    response = admin_client.post(op_url(order, "ship"), {"tracking_number": "X"}, follow=True)
    assert messages_of(response) == [f"Ship is not possible on {order.order_number} while it is shipped."]
    assert snapshot(order) == before


POSTS = {
    "ship": lambda o: {"tracking_number": "1Z", "carrier": "UPS"},
    "add_item": lambda o: {"sku": "A", "quantity": 1, "requires_inventory": "on"},
    "remove_item": lambda o: {"line": lines_of(o)[0].pk, "quantity": 1},
    "add_discount": lambda o: {"type": "fixed", "value": "1.00"},
    "remove_discount": lambda o: {"discount": OrderDiscount.objects.get(order=o).pk},
    "apply_promotion": lambda o: {"code": "SAVE5"},
    "remove_promotion": lambda o: {},
    "tag": lambda o: {"tag_name": "vip"},
    "untag": lambda o: {"tags": ["vip"]},
}


def _something_to_remove(name: str):
    def prepare(order):
        _discount(order)
        _tags(order)
        if name == "remove_promotion":
            _promote(order)

    return prepare


@pytest.mark.parametrize("name", NEW)
def test_without_the_permission_no_button_and_a_post_changes_nothing(promotions, name):
    stock()
    order = order_in("pending", prepare=_something_to_remove(name))
    permission = OPERATIONS[name].permission
    before = snapshot(order)
    url = op_url(order, name)
    if permission:  # change_order alone is not enough
        clerk = staff_client("orders.view_order", "orders.change_order")
        assert name not in offered(clerk, order)
        response = clerk.post(url, POSTS[name](order), follow=True)
        assert messages_of(response) == [f"{OPERATIONS[name].label.rstrip('…')} needs the permission {permission}."]
        assert snapshot(order) == before
    viewer = staff_client("orders.view_order")  # may read the order, not change it
    assert name not in offered(viewer, order)
    assert viewer.post(url, POSTS[name](order)).status_code == 302
    assert snapshot(order) == before
    allowed = staff_client("orders.view_order", "orders.change_order", *([permission] if permission else []))
    assert name in offered(allowed, order)
    response = allowed.post(url, POSTS[name](order), follow=True)
    assert response.redirect_chain[-1][0] == change_url(order), messages_of(response)
    assert snapshot(order) != before
