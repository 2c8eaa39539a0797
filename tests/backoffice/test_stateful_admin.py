"""Every stateful model's admin: status read-only, buttons only for no-input transitions and only to users
who may change the document and hold the transition's permission, the buttons run the same services as the
API, service-backed operations as actions or forms, and the history on the object page."""

from __future__ import annotations

import inspect
from decimal import Decimal

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django_fsm_log.admin import StateLogInline
from django_fsm_log.models import StateLog

from crm.models import Lead
from orders.models import Order
from stateset.admin import StatefulAdmin
from tests.backoffice.support import buttons, logged_in
from tests.factories import make_lead, make_purchase_order, make_user
from tests.helpers import change_form_data, change_url, messages_of
from tests.orders.support import order_in, snapshot, stock

pytestmark = pytest.mark.django_db

STATEFUL = [
    pytest.param(model, model_admin, id=model._meta.label)
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda p: p[0]._meta.label)
    if isinstance(model_admin, StatefulAdmin)
]
EXPECTED = {
    "crm.Lead",
    "crm.Case",
    "inventory.PurchaseOrder",
    "inventory.PackingList",
    "inventory.CycleCount",
    "orders.Order",
    "orders.WholesaleOrder",
    "manufacturing.BillOfMaterials",
    "manufacturing.WorkOrder",
    "manufacturing.ManufactureOrder",
}


def test_every_stateful_model_has_a_stateful_admin():
    assert {p.id for p in STATEFUL} >= EXPECTED


def transitions(model):
    """(name, Transition) of every transition declared on `model`'s status field."""
    for name, method in inspect.getmembers(model, callable):
        meta = getattr(method, "_django_fsm", None)
        if meta is not None and meta.field.name == "status":
            yield name, next(iter(meta.transitions.values()))


@pytest.mark.parametrize(("model", "model_admin"), STATEFUL)
def test_status_is_read_only_and_history_is_the_pages_timeline(model, model_admin):
    request = RequestFactory().get("/")
    request.user = make_user(superuser=True)
    obj = model()
    obj.pk = 1
    assert "status" in model_admin.get_readonly_fields(request, obj)
    # the history is the page's timeline, in words (stateset.workspace), not an inline of raw rows
    assert StateLogInline not in model_admin.get_inlines(request, obj)
    assert "timeline" in model_admin.workspace_layout


@pytest.mark.parametrize(("model", "model_admin"), STATEFUL)
def test_buttons_are_only_for_transitions_that_need_no_input(model, model_admin):
    """A button posts nothing but its name: its transition takes no required argument, unless it declares a
    small form for it (the order's hold asks for its reason)."""
    for name, transition in transitions(model):
        if not transition.custom.get("admin"):
            continue
        method = getattr(model, name)
        required = [
            p
            for p in inspect.signature(method).parameters.values()
            if p.name != "self" and p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        ]
        assert not required or transition.custom.get("form"), f"{model.__name__}.{name} needs {required}"


def test_view_only_staff_see_no_buttons_and_cannot_press_them():
    stock()
    order = order_in("processing")
    viewer = logged_in(make_user("orders.view_order"))
    page = viewer.get(change_url(order))
    assert page.status_code == 200
    assert buttons(page) == set()
    assert viewer.post(change_url(order), {"_fsm_transition_to": "hold"}).status_code == 403
    form_url = f"/admin/orders/order/{order.pk}/transition/hold/"
    assert viewer.get(form_url).status_code == 403
    assert viewer.post(form_url, {"hold_reason": "no"}).status_code == 403
    assert Order.objects.get(pk=order.pk).status == "processing"


def test_a_button_needs_the_transitions_permission_too(x1):
    po = make_purchase_order([("X-1", 3)], status="submitted")
    clerk = logged_in(make_user("inventory.view_purchaseorder", "inventory.change_purchaseorder"))
    assert buttons(clerk.get(change_url(po))) == set()  # approve needs inventory.approve_purchaseorder
    approver = logged_in(
        make_user("inventory.view_purchaseorder", "inventory.change_purchaseorder", "inventory.approve_purchaseorder")
    )
    assert buttons(approver.get(change_url(po))) == {"approve", "reject"}  # both need approve_purchaseorder


@pytest.fixture
def x1(db):
    from tests.factories import make_item

    return make_item("X-1")


def test_buttons_run_the_services_the_api_runs(admin_client):
    lead = make_lead("converted")
    customer_id = lead.converted_customer_id
    page = admin_client.get(change_url(lead))
    assert "unconvert" in buttons(page)
    response = admin_client.post(change_url(lead), {**change_form_data(page), "_fsm_transition_to": "unconvert"})
    assert response.status_code == 302
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.status, lead.converted_customer_id) == ("accepted", None)
    log = StateLog.objects.for_(lead).get(transition="unconvert")
    assert f"was customer {customer_id}" in log.description  # lead_unconvert's note, not the bare transition
    assert "in the admin" in log.description


# ---- the refund form on an order's page --------------------------------------------------------------------


def refund_url(order) -> str:
    return f"/admin/orders/order/{order.pk}/operation/refund/"


def test_refund_form_records_a_refund_through_the_service(admin_client):
    stock()
    order = order_in("shipped")
    page = admin_client.get(change_url(order))
    assert refund_url(order).encode() in page.content
    response = admin_client.post(refund_url(order), {"amount": "5.00", "reason": "late"}, follow=True)
    assert any("Refunded 5.00" in m for m in messages_of(response))
    order = Order.objects.get(pk=order.pk)
    assert (order.amount_refunded, order.status) == (Decimal("5.00"), "shipped")
    assert StateLog.objects.for_(order).filter(transition="refund").exists()


def test_refund_form_shows_the_services_refusal_and_changes_nothing(admin_client):
    stock()
    order = order_in("shipped")
    response = admin_client.post(refund_url(order), {"amount": "9999.00"})
    assert response.status_code == 200
    assert any("exceeds" in m or "balance" in m for m in messages_of(response)), messages_of(response)
    assert Order.objects.get(pk=order.pk).amount_refunded == Decimal("0.00")


def test_refund_form_is_offered_only_with_the_refund_permission():
    stock()
    order = order_in("shipped")
    clerk = logged_in(make_user("orders.view_order", "orders.change_order"))
    assert refund_url(order).encode() not in clerk.get(change_url(order)).content
    response = clerk.post(refund_url(order), {"amount": "1.00"}, follow=True)
    assert any("orders.refund_order" in m for m in messages_of(response))
    assert Order.objects.get(pk=order.pk).amount_refunded == Decimal("0.00")
    viewer = logged_in(make_user("orders.view_order"))
    assert viewer.post(refund_url(order), {"amount": "1.00"}).status_code == 302
    assert Order.objects.get(pk=order.pk).amount_refunded == Decimal("0.00")
    finance = logged_in(make_user("orders.view_order", "orders.change_order", "orders.refund_order"))
    assert refund_url(order).encode() in finance.get(change_url(order)).content


# ---- only the buttons can be pressed --------------------------------------------------------------------


@pytest.mark.parametrize(("model", "model_admin"), STATEFUL)
def test_only_transitions_marked_for_the_admin_are_buttons(model, model_admin):
    """`is_button` is what the change page and the transition form check before running anything."""
    for name, meta in transitions(model):
        instance = model()
        assert model_admin.is_button(instance, name) is bool(meta.custom.get("admin")), name


@pytest.mark.parametrize("transition", ["ship", "cancel", "mark_exchanged", "mark_returned", "no_such_thing"])
def test_a_hand_made_post_cannot_run_a_transition_that_is_not_a_button(admin_client, transition):
    """Ship and cancel must go through their services (stock, allocations): posting their names to the change
    page or to the transition form is refused and changes nothing."""
    stock()
    order = order_in("processing")
    before = snapshot(order)
    url = change_url(order)
    page = admin_client.get(url)
    response = admin_client.post(url, {**change_form_data(page), "_fsm_transition_to": transition}, follow=True)
    assert f"'{transition}' is not a button of this order." in messages_of(response)
    form_url = f"/admin/orders/order/{order.pk}/transition/{transition}/"
    response = admin_client.post(form_url, {"reason": "x"}, follow=True)
    assert response.redirect_chain[-1][0] == url
    assert f"'{transition}' is not a button of this order." in messages_of(response)
    assert snapshot(order) == before
    assert not StateLog.objects.for_(order).filter(transition=transition).exists()


def test_a_purchase_order_cannot_be_sent_by_a_button_post(admin_client):
    from tests.factories import level, make_item

    item = make_item()
    po = make_purchase_order([(item, 5)], status="approved")
    page = admin_client.get(change_url(po))
    admin_client.post(change_url(po), {**change_form_data(page), "_fsm_transition_to": "send"})
    assert type(po).objects.get(pk=po.pk).status == "approved"
    assert level(item) == (0, 0, 0)  # incoming unchanged: sending is the send action's job


def test_an_operation_is_offered_and_served_only_while_the_document_allows_it(admin_client):
    stock()
    order = order_in("pending")
    assert refund_url(order).encode() not in admin_client.get(change_url(order)).content
    response = admin_client.post(refund_url(order), {"amount": "1.00"}, follow=True)
    assert "Refund is not possible on" in messages_of(response)[0] and "while it is pending" in messages_of(response)[0]
    response = admin_client.post(f"/admin/orders/order/{order.pk}/operation/nothing/", follow=True)
    assert messages_of(response) == ["There is no operation 'nothing' here."]
    assert Order.objects.get(pk=order.pk).amount_refunded == Decimal("0.00")
