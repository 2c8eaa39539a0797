"""The returns back office obeys the API's rules: a return added with its lines cannot exceed what the order
shipped and has not had returned; buttons only for approve, reject, cancel, close, reopen (through the
services); refund is an action too, receive only a form (test_admin_operations); warranty claims with
replacements; fixed-cost changelists."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orders import services as order_services
from returns import services
from returns.models import Return, Warranty
from tests.factories import SYSTEM, level, make_user
from tests.helpers import change_form_data, change_url, messages_of
from tests.returns.support import (
    assert_consistent,
    fresh,
    lines_of,
    make_return,
    make_warranty,
    return_lines,
    shipped,
    snapshot,
    stock,
)

pytestmark = pytest.mark.django_db


def add_return(client, order, rows, **fields):
    """Post the add form with `rows` [(order line, quantity, condition)] in the lines inline."""
    page = client.get("/admin/returns/return/add/")
    assert page.status_code == 200
    data = {**change_form_data(page), "order": order.pk, **fields}
    prefix = "return_line_items"
    data[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
    for i, (line, quantity, condition) in enumerate(rows):
        data.update(
            {
                f"{prefix}-{i}-order_line_item": line.pk,
                f"{prefix}-{i}-quantity": quantity,
                f"{prefix}-{i}-condition": condition,
                f"{prefix}-{i}-restock": "on",
            }
        )
    return client.post("/admin/returns/return/add/", data)


def press(client, obj, transition: str):
    page = client.get(change_url(obj))
    assert page.status_code == 200
    return client.post(change_url(obj), {**change_form_data(page), "_fsm_transition_to": transition}, follow=True)


def run_action(client, action: str, objs, model="return"):
    return client.post(
        f"/admin/returns/{model}/", {"action": action, "_selected_action": [o.pk for o in objs]}, follow=True
    )


def test_adding_a_return_with_lines_goes_through_the_service(admin_client):
    stock()
    order = shipped()  # A × 2, B × 1
    a, b = lines_of(order)
    response = add_return(admin_client, order, [(a, 2, "new"), (b, 1, "damaged")], issue="Parcel damaged")
    assert response.status_code == 302, response.context and response.context["errors"]
    ret = Return.objects.get()
    assert (ret.status, ret.issue, ret.location_id, ret.customer_id, ret.amount) == (
        "requested",
        "Parcel damaged",
        order.location_id,
        order.customer_id,
        Decimal("25.00"),
    )
    assert [(x.sku, x.quantity, x.condition) for x in return_lines(ret)] == [("A", 2, "new"), ("B", 1, "damaged")]
    assert [x.quantity_returned for x in lines_of(order)] == [2, 1] and fresh(order).status == "returned"
    assert ret.rma.startswith("RMA-")
    assert_consistent()


def test_adding_more_than_shipped_and_not_returned_is_refused_in_the_form(admin_client):
    stock()
    order = shipped()
    a, _ = lines_of(order)
    make_return(order, {a: 1})
    before = snapshot()
    response = add_return(admin_client, order, [(a, 2, "new")])
    assert response.status_code == 200
    errors = " ".join(str(e) for e in response.context["inline_admin_formsets"][0].formset.non_form_errors())
    assert "1 shipped and not yet returned" in errors
    assert snapshot() == before


def test_editing_lines_inline_follows_the_same_rule(admin_client):
    stock()
    order = shipped(("A", 3, "10.00"))
    (a,) = lines_of(order)
    ret = make_return(order, {a: 1})
    page = admin_client.get(change_url(ret))
    data = change_form_data(page)
    data["return_line_items-0-quantity"] = 4
    response = admin_client.post(change_url(ret), data)
    assert response.status_code == 200
    assert "3 shipped and not yet returned" in " ".join(
        str(e) for e in response.context["inline_admin_formsets"][0].formset.non_form_errors()
    )
    assert lines_of(order)[0].quantity_returned == 1
    data["return_line_items-0-quantity"] = 3
    assert admin_client.post(change_url(ret), data).status_code == 302
    assert (lines_of(order)[0].quantity_returned, fresh(ret).amount) == (3, Decimal("30.00"))
    assert_consistent()


@pytest.mark.parametrize(
    ("status", "buttons"),
    [
        ("requested", {"approve", "reject", "cancel"}),
        ("approved", {"cancel"}),
        ("received", {"close"}),
        ("refunded", {"close"}),
        ("rejected", {"close", "reopen"}),
        ("cancelled", {"close", "reopen"}),
        ("closed", set()),
    ],
)
def test_buttons_only_for_the_transitions_without_stock_or_money(admin_client, status, buttons):
    stock()
    ret = make_return(status=status)
    content = admin_client.get(change_url(ret)).content.decode()
    assert set(re.findall(r'name="_fsm_transition_to"\s+value="(\w+)"', content)) == buttons


def test_buttons_run_the_services(admin_client):
    stock()
    order = shipped(("A", 2, "10.00"))
    ret = make_return(order, {lines_of(order)[0]: 1})
    press(admin_client, ret, "approve")
    assert fresh(ret).status == "approved"
    press(admin_client, ret, "cancel")
    assert (fresh(ret).status, lines_of(order)[0].quantity_returned) == ("cancelled", 0)
    press(admin_client, ret, "reopen")
    assert (fresh(ret).status, lines_of(order)[0].quantity_returned) == ("requested", 1)
    redirect = press(admin_client, ret, "reject")
    assert redirect.redirect_chain[-1][0].endswith("/transition/reject/")
    form = admin_client.post(f"/admin/returns/return/{ret.pk}/transition/reject/", {"reason": "worn"}, follow=True)
    assert form.status_code == 200
    assert (fresh(ret).status, fresh(ret).rejection_reason, lines_of(order)[0].quantity_returned) == (
        "rejected",
        "worn",
        0,
    )


def test_buttons_need_the_named_permission(client: Client):
    stock()
    ret = make_return()
    client.force_login(make_user("returns.view_return", "returns.change_return"))
    content = client.get(change_url(ret)).content.decode()
    assert set(re.findall(r'name="_fsm_transition_to"\s+value="(\w+)"', content)) == {"cancel"}
    response = press(client, ret, "approve")
    assert fresh(ret).status == "requested"
    assert any("returns.approve_return" in m or "not allowed" in m for m in messages_of(response))


def test_there_is_no_bulk_receive_and_the_refund_action_refunds_the_default(admin_client):
    """Receiving records each line's condition: only the Receive form asks it, so no action receives in bulk
    (it restocked damaged goods as their requested condition said)."""
    a, _ = stock(10)
    first = make_return(status="approved")
    before = snapshot(first)
    page = admin_client.get("/admin/returns/return/")
    assert b'value="receive_returns"' not in page.content and b'value="refund_returns"' in page.content
    response = run_action(admin_client, "receive_returns", [first])
    assert fresh(first).status == "approved" and snapshot(first) == before
    assert not any("Received" in m for m in messages_of(response))
    services.return_receive(return_=first, by=SYSTEM)
    assert level(a) == (8 + 2, 0, 0)  # shipped 2, restocked 2 (new, as recorded)
    second = make_return(status="requested")
    order_services.order_refund(order=second.order, by=SYSTEM, amount=Decimal("20.00"))
    run_action(admin_client, "refund_returns", [first])
    assert (fresh(first).status, fresh(first).total_refunded) == ("refunded", Decimal("20.00"))
    assert fresh(first.order).amount_refunded == Decimal("20.00")
    assert_consistent()


def test_a_refused_refund_action_is_a_message_and_changes_nothing(admin_client):
    stock()
    order = shipped()
    order_services.order_refund(order=order, by=SYSTEM, amount=Decimal("20.00"))
    ret = make_return(order, status="received")
    before = snapshot(ret)
    response = run_action(admin_client, "refund_returns", [ret])
    assert any("exceeds the balance" in m for m in messages_of(response))
    assert snapshot(ret) == before


def test_deleting_through_the_admin_uses_the_service(admin_client):
    stock()
    order = shipped(("A", 3, "10.00"))
    ret = make_return(order, {lines_of(order)[0]: 1})
    assert admin_client.post(f"/admin/returns/return/{ret.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Return.objects.exists() and lines_of(order)[0].quantity_returned == 0
    received = make_return(order, {lines_of(order)[0]: 1}, status="received")
    assert admin_client.get(f"/admin/returns/return/{received.pk}/delete/").status_code == 403


def test_a_save_the_service_refuses_is_one_message_and_changes_nothing(admin_client, monkeypatch):
    """A refusal the form could not foresee (a concurrent change) rolls the whole save back - header, lines and
    the admin's log entry - and shows the service's message alone, never next to "changed successfully"."""
    from django.contrib.admin.models import LogEntry

    from returns.admin import ReturnAdmin
    from stateset.errors import DomainError

    stock()
    order = shipped(("A", 3, "10.00"))
    ret = make_return(order, {lines_of(order)[0]: 1}, description="before")
    page = admin_client.get(change_url(ret))

    def refuse(**kwargs):
        raise DomainError("Return changed meanwhile; reload it.")

    monkeypatch.setattr(ReturnAdmin, "update_service", staticmethod(refuse))
    data = {**change_form_data(page), "description": "after"}
    response = admin_client.post(change_url(ret), data, follow=True)
    assert messages_of(response) == ["Return changed meanwhile; reload it."]
    assert Return.objects.get(pk=ret.pk).description == "before"
    assert not LogEntry.objects.exists()


def test_warranty_admin_add_approve_with_replacement_deny_and_cancel(admin_client):
    a, _ = stock(10)
    order = shipped(("A", 1, "10.00"))
    page = admin_client.get("/admin/returns/warranty/add/")
    data = {
        **change_form_data(page),
        "order": order.pk,
        "serial_number": "SN-1",
        "warranty_line_items-TOTAL_FORMS": "1",
        "warranty_line_items-0-sku": "A",
        "warranty_line_items-0-quantity": "1",
        "warranty_line_items-0-price": "0",
        "warranty_line_items-0-amount": "0",
    }
    assert admin_client.post("/admin/returns/warranty/add/", data).status_code == 302
    claim = Warranty.objects.get()
    assert (claim.order_id, claim.customer_id, claim.warranty_line_items.count()) == (order.pk, order.customer_id, 1)
    content = admin_client.get(change_url(claim)).content.decode()
    assert set(re.findall(r'name="_fsm_transition_to"\s+value="(\w+)"', content)) == {"deny"}
    run_action(admin_client, "approve_with_replacement", [claim], model="warranty")
    claim = fresh(claim)
    assert (claim.status, claim.replacement_order_created, level(a)) == ("approved", True, (9, 1, 0))
    run_action(admin_client, "cancel_claims", [claim], model="warranty")
    assert (fresh(claim).status, fresh(claim.replacement_order).status, level(a)) == (
        "cancelled",
        "cancelled",
        (9, 0, 0),
    )
    press(admin_client, claim, "reopen")
    admin_client.post(f"/admin/returns/warranty/{claim.pk}/transition/deny/", {"reason": "misuse"})
    assert (fresh(claim).status, fresh(claim).denial_reason) == ("denied", "misuse")
    assert_consistent()


@pytest.mark.parametrize("model", ["return", "warranty"])
def test_changelists_cost_a_fixed_number_of_queries(admin_client, model):
    stock(200)

    def one():
        order = shipped()
        return make_return(order) if model == "return" else make_warranty(order)

    one()
    url = f"/admin/returns/{model}/"
    admin_client.get(url)
    with CaptureQueriesContext(connection) as small:
        assert admin_client.get(url).status_code == 200
    for _ in range(10):
        one()
    with CaptureQueriesContext(connection) as large:
        assert admin_client.get(url).status_code == 200
    assert len(small) == len(large)
