"""The orders back office obeys the API's rules: buttons only for hold, release, process and deliver; ship,
cancel, merge and split through the services (same permissions, same audit rows); fixed-cost changelists."""

import re
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_fsm import ConcurrentTransition
from django_fsm_log.models import StateLog

from orders import services
from orders.models import Order, Promotion
from tests.factories import SYSTEM, api_client, level, make_customer, make_user
from tests.helpers import change_form_data, change_url, messages_of, staff_client
from tests.orders.support import create, fresh, lines_of, order_in, snapshot, stock

pytestmark = pytest.mark.django_db


def press(client, order, transition: str):
    page = client.get(change_url(order))
    assert page.status_code == 200
    return client.post(change_url(order), {**change_form_data(page), "_fsm_transition_to": transition}, follow=True)


def run_action(client, action: str, objs, model="order"):
    return client.post(
        f"/admin/orders/{model}/", {"action": action, "_selected_action": [o.pk for o in objs]}, follow=True
    )


@pytest.mark.parametrize(
    ("status", "buttons"),
    [
        ("pending", {"hold", "process"}),
        ("processing", {"hold"}),
        ("on_hold", {"release"}),
        ("shipped", {"deliver"}),
        ("cancelled", set()),
    ],
)
def test_buttons_only_for_the_simple_transitions(admin_client, status, buttons):
    stock()
    order = order_in(status)
    content = admin_client.get(change_url(order)).content.decode()
    assert set(re.findall(r'name="_fsm_transition_to"\s+value="(\w+)"', content)) == buttons


def test_process_button_runs_the_transition_with_the_admin_as_the_door(admin_client):
    stock()
    order = order_in("pending")
    response = press(admin_client, order, "process")
    assert "Process: done." in messages_of(response)
    assert fresh(order).status == "processing"
    log = StateLog.objects.for_(order).get(transition="process")
    assert "in the admin" in log.description


def test_hold_button_asks_for_a_reason(admin_client):
    stock()
    order = order_in("processing")
    response = press(admin_client, order, "hold")
    assert response.redirect_chain[-1][0].endswith(f"/{order.pk}/transition/hold/")
    form_url = f"/admin/orders/order/{order.pk}/transition/hold/"
    assert admin_client.post(form_url, {"hold_reason": ""}).status_code == 200  # the form again
    assert fresh(order).status == "processing"
    admin_client.post(form_url, {"hold_reason": "card declined"})
    order = fresh(order)
    assert (order.status, order.held_from_status, order.hold_reason) == ("on_hold", "processing", "card declined")
    assert StateLog.objects.for_(order).get(transition="hold").description.endswith("card declined")
    press(admin_client, order, "release")
    assert fresh(order).status == "processing"


def test_ship_and_cancel_actions_call_the_services(admin_client):
    a, b = stock(10)
    to_ship, to_cancel, shipped = order_in("pending"), order_in("on_hold"), order_in("shipped")
    response = run_action(admin_client, "ship_orders", [to_ship, shipped])
    assert "Shipped: 1 done." in messages_of(response)
    assert any("Cannot ship" in m for m in messages_of(response))
    assert fresh(to_ship).status == "shipped"
    run_action(admin_client, "cancel_orders", [to_cancel])
    assert fresh(to_cancel).status == "cancelled"
    assert (level(a), level(b)) == ((6, 0, 0), (8, 0, 0))


def test_admin_actions_need_the_named_permission():
    stock()
    order = order_in("pending")
    before = snapshot(order)
    clerk = staff_client("orders.view_order", "orders.change_order")
    response = run_action(clerk, "ship_orders", [order])
    assert any("orders.ship_order" in m for m in messages_of(response))
    assert snapshot(order) == before


def test_merge_action_merges_into_the_first(admin_client):
    stock()
    customer = make_customer()
    first, second = create(customer=customer), create(customer=customer)
    response = run_action(admin_client, "merge_orders", [second, first])
    assert f"Merged 1 order(s) into {first.order_number}." in messages_of(response)
    assert (fresh(second).status, fresh(second).merged_into_id) == ("merged", first.pk)
    stranger = create()
    response = run_action(admin_client, "merge_orders", [first, stranger])
    assert any("cannot merge" in m for m in messages_of(response))
    assert fresh(stranger).status == "pending"


def test_split_form(admin_client):
    stock()
    order = order_in("pending")
    a = lines_of(order)[0]
    url = f"/admin/orders/order/{order.pk}/operation/split/"
    assert b"Split a line off" in admin_client.get(change_url(order)).content
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"line": a.pk, "quantity": 5}, follow=True)
    assert any("Cannot" in m or "more than" in m for m in messages_of(response))
    response = admin_client.post(url, {"line": a.pk, "quantity": 1}, follow=True)
    child = Order.objects.get(split_from=order)
    assert f"Split into {child.order_number}." in messages_of(response)
    assert [(x.sku, x.quantity) for x in lines_of(child)] == [("A", 1)]


def test_header_edits_go_through_the_update_service(admin_client):
    stock()
    order = order_in("pending")
    page = admin_client.get(change_url(order))
    admin_client.post(change_url(order), {**change_form_data(page), "notes": "fragile", "shipping_amount": "3.00"})
    order = fresh(order)
    assert (order.notes, str(order.total)) == ("fragile", "28.00")
    assert StateLog.objects.for_(order).filter(transition="update").exists()
    shipped = order_in("shipped")
    page = admin_client.get(change_url(shipped))
    assert "notes" not in page.context["adminform"].form.fields  # read-only once shipped


def test_changelists_cost_a_fixed_number_of_queries(admin_client):
    stock(500)
    create()
    admin_client.get("/admin/orders/order/")
    with CaptureQueriesContext(connection) as one:
        assert admin_client.get("/admin/orders/order/").status_code == 200
    for _ in range(15):
        create()
    with CaptureQueriesContext(connection) as many:
        admin_client.get("/admin/orders/order/")
    assert len(one) == len(many)
    services.wholesale_order_create(by=SYSTEM, order_line_items=[{"sku": "A", "quantity": 1, "unit_price": 1}])
    admin_client.get("/admin/orders/wholesaleorder/")
    with CaptureQueriesContext(connection) as one:
        admin_client.get("/admin/orders/wholesaleorder/")
    for _ in range(5):
        services.wholesale_order_create(by=SYSTEM, order_line_items=[{"sku": "A", "quantity": 1, "unit_price": 1}])
    with CaptureQueriesContext(connection) as many:
        admin_client.get("/admin/orders/wholesaleorder/")
    assert len(one) == len(many)


def test_wholesale_and_promotion_admin(admin_client):
    stock()
    order = services.wholesale_order_create(by=SYSTEM, order_line_items=[{"sku": "A", "quantity": 2, "unit_price": 1}])
    order = services.wholesale_order_submit(wholesale_order=order, by=SYSTEM)
    assert admin_client.get(f"/admin/orders/wholesaleorder/{order.pk}/change/").status_code == 200
    run_action(admin_client, "approve_orders", [order], model="wholesaleorder")
    assert order.__class__.objects.get(pk=order.pk).status == "approved"
    page = admin_client.get("/admin/orders/promotion/add/")
    assert page.status_code == 200
    admin_client.post("/admin/orders/promotion/add/", {"code": "ADMIN5", "type": "fixed", "value": "5", "active": "on"})
    assert Promotion.objects.get(code="ADMIN5").times_used == 0


# ---- a refused header save: the service's message alone, nothing saved, nothing logged ------------------------


def _post_header(client, obj, model="order", **changes):
    url = f"/admin/orders/{model}/{obj.pk}/change/"
    page = client.get(url)
    return client.post(url, {**change_form_data(page), **changes}, follow=True)


def test_a_refused_header_save_shows_only_the_services_message(admin_client):
    stock()
    order = order_in("pending")
    too_much = {"shipping_amount": "9999999999.99", "tax_amount": "9999999999.99"}
    refused = api_client().put(f"/v1/orders/{order.pk}", too_much, format="json")
    assert refused.status_code == 400
    before, logged = snapshot(order), LogEntry.objects.count()
    response = _post_header(admin_client, order, notes="fragile", **too_much)
    assert response.redirect_chain[-1][0] == change_url(order)
    assert messages_of(response) == [refused.json()["message"]]  # no "Not saved", no "changed successfully"
    assert snapshot(order) == before
    order = fresh(order)
    assert (order.notes, order.shipping_amount, order.tax_amount) == ("", Decimal("0.00"), Decimal("0.00"))
    assert LogEntry.objects.count() == logged
    # Corrected, it saves, with Django's message alone and one log entry.
    response = _post_header(admin_client, order, notes="fragile", shipping_amount="3.00")
    assert len(messages_of(response)) == 1 and "was changed successfully" in messages_of(response)[0]
    assert (fresh(order).notes, fresh(order).total) == ("fragile", Decimal("28.00"))
    assert LogEntry.objects.filter(object_id=str(order.pk), action_flag=CHANGE).count() == 1


def test_a_header_save_refused_for_a_missing_permission_changes_nothing():
    """Shipping and tax change what the order charges: the service refuses them to a clerk without the
    permission, with the API's message, and the notes posted with them are not saved either."""
    stock()
    order = order_in("pending")
    perms = ("orders.view_order", "orders.change_order")
    refused = api_client(make_user(*perms)).put(f"/v1/orders/{order.pk}", {"shipping_amount": "9.00"}, format="json")
    assert refused.status_code == 403
    before, logged = snapshot(order), LogEntry.objects.count()
    response = _post_header(staff_client(*perms), order, notes="fragile", shipping_amount="9.00")
    assert messages_of(response) == [refused.json()["message"]]
    assert snapshot(order) == before and fresh(order).notes == ""
    assert LogEntry.objects.count() == logged


def test_a_refused_wholesale_header_save_rolls_back_whole(admin_client, monkeypatch):
    """A wholesale order's header save that the service refuses after writing (a lost race) leaves nothing:
    not the fields, not the history row, not the admin's log entry."""
    stock()
    order = services.wholesale_order_create(by=SYSTEM, order_line_items=[{"sku": "A", "quantity": 1, "unit_price": 1}])
    real = services.wholesale_order_update

    def loses_a_race(**kwargs):
        real(**kwargs)
        raise ConcurrentTransition("Wholesale order changed by someone else; reload and try again.")

    monkeypatch.setattr(services, "wholesale_order_update", loses_a_race)
    history, logged = StateLog.objects.count(), LogEntry.objects.count()
    response = _post_header(admin_client, order, model="wholesaleorder", memo="rush")
    assert messages_of(response) == ["Wholesale order changed by someone else; reload and try again."]
    assert type(order).objects.get(pk=order.pk).memo == ""
    assert (StateLog.objects.count(), LogEntry.objects.count()) == (history, logged)
