"""An order taken in the back office (a phone order): the add page's header and lines inline make one
`order_create` call, so it creates exactly what `POST /v1/orders` creates; a refusal shows the API's message
on the same form, with everything typed kept, and creates nothing; only staff who may add orders add them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.utils.html import escape
from django_fsm_log.models import StateLog

from crm.models import Customer
from inventory.selectors import ledger_mismatches
from orders.models import Order
from tests.factories import api_client, level, make_customer, make_item, make_location
from tests.helpers import change_form_data, messages_of
from tests.orders.support import lines_of, stock
from tests.orders.test_admin import staff_client
from tests.orders.test_admin_operations import effect, shared

pytestmark = pytest.mark.django_db

D = Decimal
ADD = "/admin/orders/order/add/"


def add_order(client, lines: list[dict], follow: bool = True, **header):
    """Fill the add page as a browser would: the header fields, then one inline row per line."""
    page = client.get(ADD)
    assert page.status_code == 200
    data = change_form_data(page)
    [inline] = page.context["inline_admin_formsets"]
    prefix = inline.formset.prefix
    data = {k: v for k, v in data.items() if not k.startswith(f"{prefix}-")}
    data.update({f"{prefix}-TOTAL_FORMS": len(lines), f"{prefix}-INITIAL_FORMS": 0})
    for i, line in enumerate(lines):
        data.update({f"{prefix}-{i}-{name}": value for name, value in line.items()})
    data.update(header)
    return client.post(ADD, data, follow=follow)


def added(order) -> str:
    link = f'<a href="/admin/orders/order/{order.pk}/change/">{order.order_number}</a>'
    return f"The order “{link}” was added successfully."


def counts() -> tuple[int, ...]:
    return (Order.objects.count(), Customer.objects.count(), StateLog.objects.count(), LogEntry.objects.count())


PHONE_ORDER = {
    "customer_email": "caller@example.com",
    "customer_name": "Ann Caller",
    "shipping_amount": "4.00",
    "notes": "call before delivery",
}
LINES = [
    {"sku": "A", "quantity": 2, "unit_price": "10.00", "requires_inventory": "on"},
    {"sku": "GIFT", "product_name": "Gift wrap", "quantity": 1, "unit_price": "3.00"},  # no stock
]
API_LINES = [
    {"sku": "A", "quantity": 2, "unit_price": "10.00"},
    {"sku": "GIFT", "product_name": "Gift wrap", "quantity": 1, "unit_price": "3.00", "requires_inventory": False},
]


def test_an_order_added_in_the_admin_is_what_the_api_creates(admin_client):
    a, _ = stock(10)
    before = shared()
    created = api_client().post("/v1/orders", {**PHONE_ORDER, "order_line_items": API_LINES}, format="json")
    assert created.status_code == 201, created.json()
    by_api = Order.objects.get(pk=created.json()["order"]["id"])
    api_levels = shared()["levels"]
    assert api_levels[("A", "MAIN")] == (10, 2, 0)

    response = add_order(admin_client, LINES, **PHONE_ORDER)
    by_admin = Order.objects.exclude(pk=by_api.pk).get()
    assert messages_of(response) == [added(by_admin)]
    assert effect(by_admin) == effect(by_api)
    assert level(a) == (10, 4, 0)  # each order holds its 2
    assert shared()["levels"][("B", "MAIN")] == before["levels"][("B", "MAIN")]
    # The header, the lines and the money, as the contract computes them.
    assert (by_admin.status, by_admin.customer.email, by_admin.customer_name) == (
        "pending",
        "caller@example.com",
        "Ann Caller",
    )
    assert by_admin.customer_id == by_api.customer_id  # found by its email, not created twice
    assert (by_admin.location.code, by_admin.currency, by_admin.notes) == ("MAIN", "USD", "call before delivery")
    assert [
        (x.sku, x.product_name, x.quantity, x.unit_price, x.total, x.requires_inventory) for x in lines_of(by_admin)
    ] == [
        ("A", "A", 2, D("10.00"), D("20.00"), True),
        ("GIFT", "Gift wrap", 1, D("3.00"), D("3.00"), False),
    ]
    assert (by_admin.subtotal, by_admin.shipping_total, by_admin.total) == (D("23.00"), D("4.00"), D("27.00"))
    log = StateLog.objects.for_(by_admin).get()
    assert (log.transition, log.state) == ("create", "pending") and "in the admin" in log.description
    assert LogEntry.objects.get(object_id=str(by_admin.pk)).action_flag == ADDITION
    assert ledger_mismatches() == []


def test_an_order_for_a_known_customer_at_another_location(admin_client):
    west = make_location("WEST")
    item = make_item("W-1", on_hand=5, location=west)
    customer = make_customer(email="known@example.com", first_name="Kim", last_name="Known")
    response = add_order(
        admin_client,
        [{"sku": "W-1", "quantity": 5, "unit_price": "2.50", "requires_inventory": "on"}],
        customer=customer.pk,
        location=west.pk,
        order_number="PHONE-1",
    )
    order = Order.objects.get()
    assert messages_of(response) == [added(order)]
    assert (order.order_number, order.customer_id, order.customer_email, order.customer_name) == (
        "PHONE-1",
        customer.pk,
        "known@example.com",
        "Kim Known",
    )
    assert order.total == D("12.50")
    assert level(item, west) == (5, 5, 0)
    assert ledger_mismatches() == []


@pytest.mark.parametrize(
    ("lines", "api_lines"),
    [
        pytest.param(
            [{"sku": "A", "quantity": 999, "unit_price": "10.00", "requires_inventory": "on"}],
            [{"sku": "A", "quantity": 999, "unit_price": "10.00"}],
            id="short-stock",
        ),
        pytest.param(
            [{"sku": "NOPE", "quantity": 1, "unit_price": "1.00", "requires_inventory": "on"}],
            [{"sku": "NOPE", "quantity": 1, "unit_price": "1.00"}],
            id="unknown-sku",
        ),
        pytest.param([], [], id="no-lines"),
    ],
)
def test_a_refused_order_shows_the_apis_message_keeps_the_form_and_creates_nothing(admin_client, lines, api_lines):
    a, b = stock(10)
    if api_lines:
        refused = api_client().post("/v1/orders", {**PHONE_ORDER, "order_line_items": api_lines}, format="json")
        assert refused.status_code in (400, 422)
        message = refused.json()["message"]
    else:  # the API's serializer says it first ("order_line_items: ..."); the service's own words
        message = "An order needs at least one line."
    before = counts()
    response = add_order(admin_client, lines, **PHONE_ORDER)
    assert response.status_code == 200 and not response.redirect_chain  # the same form again
    form = response.context["adminform"].form
    assert form.non_field_errors() == [message]
    assert escape(message) in response.content.decode()
    assert form["customer_email"].value() == "caller@example.com"  # what was typed is kept
    [inline] = response.context["inline_admin_formsets"]
    assert [f["sku"].value() for f in inline.formset.forms][: len(lines)] == [x["sku"] for x in lines]
    assert counts() == before
    assert (level(a), level(b)) == ((10, 0, 0), (10, 0, 0))
    assert ledger_mismatches() == []


def test_a_refused_order_can_be_corrected_and_saved(admin_client):
    stock(10)
    add_order(admin_client, [{"sku": "A", "quantity": 11, "unit_price": "10.00", "requires_inventory": "on"}])
    assert Order.objects.count() == 0
    add_order(admin_client, [{"sku": "A", "quantity": 10, "unit_price": "10.00", "requires_inventory": "on"}])
    assert Order.objects.get().total == D("100.00")


def test_only_staff_who_may_add_orders_add_them():
    stock()
    viewer = staff_client("orders.view_order", "orders.change_order")
    assert b"addlink" not in viewer.get("/admin/orders/order/").content
    assert viewer.get(ADD).status_code == 403
    assert viewer.post(ADD, {"customer_email": "x@example.com"}).status_code == 403
    assert Order.objects.count() == 0
    # Customer service: may add orders, and with them their lines (no permission on lines of their own).
    clerk = staff_client("orders.view_order", "orders.add_order", "orders.change_order", "crm.view_customer")
    assert b"addlink" in clerk.get("/admin/orders/order/").content
    add_order(clerk, [{"sku": "B", "quantity": 3, "unit_price": "5.00", "requires_inventory": "on"}], **PHONE_ORDER)
    order = Order.objects.get()
    assert [(x.sku, x.quantity) for x in lines_of(order)] == [("B", 3)]
