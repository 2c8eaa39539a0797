"""Helpers for the back office tests: extra rows of every kind, staff of each role, admin page readers."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from manufacturing import services as manufacturing_services
from orders import services as orders_services
from stateset.models import IdempotencyRecord
from tests.factories import (
    SYSTEM,
    make_bom,
    make_cycle_count,
    make_item,
    make_key,
    make_packing_list,
    make_purchase_order,
    make_user,
    unique,
)


def add_extra_rows() -> None:
    """Rows for the models seed_demo makes one (or none) of: users, keys, stored responses, documents."""
    for _ in range(3):
        make_key(make_user())
        IdempotencyRecord.objects.create(scope="test", key=unique("idem"), fingerprint="f" * 64)
    items = [make_item(on_hand=20) for _ in range(3)]
    for status in ("draft", "submitted", "ordered"):
        make_purchase_order([(items[0], 5), (items[1], 2)], status=status)
    make_packing_list([(items[2], 4)], submit=True)
    make_packing_list([(items[0], 1), (items[1], 1)])
    make_cycle_count(items[:2], start=True)
    make_cycle_count([items[2]])
    bom = make_bom(make_item(), [(items[0], 2), (items[1], 1)])
    make_bom(make_item(), [(items[2], 1)], activate=False)
    manufacturing_services.manufacture_order_create(
        by=SYSTEM, manufacture_order_line_items=[{"bill_of_materials": bom, "quantity": 2}]
    )
    orders_services.wholesale_order_create(
        by=SYSTEM, order_line_items=[{"sku": items[0].sku, "quantity": 2, "unit_price": "5.00"}]
    )
    from stateset import webhooks
    from stateset.models import Event, WebhookDelivery

    for k in range(3):
        endpoint, _ = webhooks.webhook_endpoint_create(url=f"https://93.184.216.34/hook{k}", by=SYSTEM)
        for event in Event.objects.order_by("-pk")[:3]:
            WebhookDelivery.objects.create(
                endpoint=endpoint, event=event, object_key=f"{event.object_type}:{event.object_id}"
            )


def staff_of(role: str, username: str | None = None):
    """A staff user in the group `role` (setup_roles must have run)."""
    user = make_user(username=username or unique(role.replace(" ", "-")))
    user.groups.add(Group.objects.get(name=role))
    return get_user_model().objects.get(pk=user.pk)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


BUTTON = re.compile(r'name="_fsm_transition_to"\s+value="(\w+)"')


def buttons(response) -> set[str]:
    """The transition buttons on an admin change page."""
    return set(BUTTON.findall(response.content.decode()))


def action_names(response) -> set[str]:
    """The actions offered on an admin changelist (empty when there is no action menu)."""
    form = response.context.get("action_form") if response.context else None
    if form is None:
        return set()
    return {value for value, _ in form.fields["action"].choices if value}
