"""An Operation's availability is its FSM transition's (stateset.admin.Operation): it is offered and served
only while the transition is among the object's available ones, source states and conditions as declared on
the model, and it needs the permission the transition declares."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib import admin

from inventory import services as inventory_services
from inventory.models import PurchaseOrder
from orders.models import Order
from stateset.admin import Operation
from stateset.fsm import transition_permission
from tests.factories import SYSTEM, make_item, make_purchase_order
from tests.helpers import change_url, messages_of, op_url

pytestmark = pytest.mark.django_db


def _submit(po, data, by) -> str:
    inventory_services.purchase_order_submit(purchase_order=po, by=by)
    return "Submitted."


SUBMIT = Operation("submit", "Submit…", forms.Form, _submit, transition="submit")


def test_every_operation_names_a_transition_of_its_model_and_needs_its_permission():
    checked = 0
    for model, model_admin in admin.site._registry.items():
        for op in getattr(model_admin, "operations", ()):
            if not op.transition:
                continue
            needed = (op.permission,) if isinstance(op.permission, str) else op.permission
            declared = transition_permission(model, op.transition)
            assert not declared or needed[0] == declared, (model, op.name)
            checked += 1
    assert checked >= 19  # the operations whose availability used to restate their transition's source states


def test_a_misspelt_transition_fails_when_the_operation_is_registered():
    with pytest.raises(AttributeError, match="Order.shipp is not a transition"):
        Operation("ship", "Ship…", forms.Form, _submit, transition="shipp").bound_to(Order)


def test_an_operation_follows_its_transitions_conditions_not_only_its_source_states():
    op = SUBMIT.bound_to(PurchaseOrder)
    po = make_purchase_order([(make_item(), 2)])
    assert op.is_available(po)
    inventory_services.purchase_order_update(purchase_order=po, lines=[], by=SYSTEM)
    po = PurchaseOrder.objects.get(pk=po.pk)
    assert po.status == "draft" and not op.is_available(po)  # a draft, but submit's condition (a line) fails
    assert not op.is_available(make_purchase_order([(make_item(), 2)], status="submitted"))


def test_an_operation_whose_transition_is_not_available_is_not_offered_and_a_post_changes_nothing(
    admin_client, monkeypatch
):
    model_admin = admin.site._registry[PurchaseOrder]
    monkeypatch.setattr(model_admin, "operations", (SUBMIT.bound_to(PurchaseOrder),))
    po = make_purchase_order([(make_item(), 2)])
    assert op_url(po, "submit") in admin_client.get(change_url(po)).content.decode()
    inventory_services.purchase_order_update(purchase_order=po, lines=[], by=SYSTEM)
    assert op_url(po, "submit") not in admin_client.get(change_url(po)).content.decode()
    response = admin_client.post(op_url(po, "submit"), {}, follow=True)
    assert messages_of(response) == [f"Submit is not possible on {po} while it is draft."]
    assert PurchaseOrder.objects.get(pk=po.pk).status == "draft"
