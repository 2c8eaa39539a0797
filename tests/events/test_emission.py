"""Every change writes its events in its own transaction, exactly once, through the API and the admin alike;
a refused or rolled-back write writes none (issue #17)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import transaction

from crm.models import Customer
from inventory.services import purchasing
from manufacturing import services as mfg
from orders import services as orders
from returns import services as returns
from stateset.models import Event
from tests.factories import (
    SYSTEM,
    make_bom,
    make_case,
    make_customer,
    make_item,
    make_lead,
    make_order,
    make_purchase_order,
    make_work_order,
)
from tests.helpers import change_form_data

pytestmark = pytest.mark.django_db


def since(mark: int) -> list[Event]:
    return list(Event.objects.filter(pk__gt=mark).order_by("pk"))


def last_id() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def types(events: list[Event]) -> Counter:
    return Counter(e.type for e in events)


def assert_once_each(events: list[Event]) -> None:
    """No change published twice: each (type, object) at most once in what one request wrote."""
    keys = Counter((e.type, e.object_type, e.object_id) for e in events)
    assert all(n == 1 for n in keys.values()), keys


# ---- through the API -------------------------------------------------------------------------------------


def _order(status="pending"):
    make_item("A", on_hand=50)
    return make_order(("A", 2), status=status)


def _api_cases():
    """(name, setup returning the request to send, the event types the request must write, exactly)."""

    def order_create(api):
        make_item("A", on_hand=50)
        body = {"customer": make_customer().pk, "order_line_items": [{"sku": "A", "quantity": 1, "unit_price": "9"}]}
        return api.post("/v1/orders", body, format="json")

    def order_action(status, action, body=None):
        def run(api):
            order = _order(status)
            return api.post(f"/v1/orders/{order.pk}/{action}", body or {}, format="json")

        return run

    def order_split(api):
        make_item("B", on_hand=50)
        order = _order()
        orders.order_add_item(order=order, sku="B", quantity=1, unit_price="5", by=SYSTEM)
        line = order.order_line_items.order_by("pk").first()
        return api.post(f"/v1/orders/{order.pk}/split", {"items": [{"order_item_id": line.pk, "quantity": 1}]})

    def order_merge(api):
        order = _order()
        other = make_order(("A", 1), customer=order.customer)
        return api.post(f"/v1/orders/{order.pk}/merge", {"order_ids": [other.pk]}, format="json")

    def return_receive(api):
        from tests.returns.support import make_return

        make_item("A", on_hand=50)
        ret = make_return(make_order(("A", 2), status="delivered"), status="approved")
        return api.post(f"/v1/returns/{ret.pk}/receive", {}, format="json")

    def warranty_approve(api):
        from tests.returns.support import make_warranty

        make_item("A", on_hand=50)
        claim = make_warranty()
        return api.post(f"/v1/warranties/{claim.pk}/approve", {}, format="json")

    def lead_convert(api):
        lead = make_lead("accepted")
        return api.post(f"/v1/leads/{lead.pk}/convert", {}, format="json")

    def case_escalate(api):
        return api.post(f"/v1/cases/{make_case().pk}/escalate", {}, format="json")

    def po_receive(api):
        item = make_item("P", unit_cost="2.00")
        po = make_purchase_order([(item, 3)], status="ordered")
        line = po.lines.get()
        return api.post(f"/v1/purchase_orders/{po.pk}/receive", {"lines": [{"line_id": line.pk, "quantity": 3}]})

    def wo_complete(api):
        make_item("PANEL", on_hand=20)
        part = make_item("HOUSING")
        bom = make_bom(part, [("PANEL", 2)])
        wo = make_work_order(bom, 1)
        mfg.work_order_release(work_order=wo, by=SYSTEM)
        mfg.work_order_start(work_order=wo, by=SYSTEM)
        return api.post(f"/v1/work_orders/{wo.pk}/complete", {"quantity_completed": 1}, format="json")

    def customer_crud(verb):
        def run(api):
            if verb == "create":
                return api.post("/v1/customers", {"email": "new@example.com"}, format="json")
            customer = make_customer()
            if verb == "update":
                return api.patch(f"/v1/customers/{customer.pk}", {"firstName": "Zed"}, format="json")
            return api.delete(f"/v1/customers/{customer.pk}")

        return run

    def item_crud(verb):
        def run(api):
            if verb == "create":
                return api.post("/v1/inventory_items", {"sku": "NEW"}, format="json")
            item = make_item("OLD")
            if verb == "update":
                return api.patch(f"/v1/inventory_items/{item.pk}", {"description": "Bolt"}, format="json")
            return api.delete(f"/v1/inventory_items/{item.pk}")

        return run

    def stock_low(api):
        make_item("A", on_hand=6, reorder_point=5)
        body = {"customer": make_customer().pk, "order_line_items": [{"sku": "A", "quantity": 2, "unit_price": "9"}]}
        return api.post("/v1/orders", body, format="json")

    adjusted = "inventory_item.adjusted"
    return [
        ("order.created", order_create, {"order.created": 1, adjusted: 1}),
        ("order.updated", order_action("pending", "update", {"notes": "x"}), {"order.updated": 1}),
        ("order.held", order_action("pending", "hold", {"reason": "why"}), {"order.held": 1}),
        (
            "order.shipped",
            order_action("pending", "ship", {"carrier": "UPS"}),
            # issue #18: the order ships as one parcel per location, created and shipped with it
            {"order.shipped": 1, "shipment.created": 1, "shipment.shipped": 1, adjusted: 1},
        ),
        ("order.cancelled", order_action("pending", "cancel", {"reason": "r"}), {"order.cancelled": 1, adjusted: 1}),
        ("order.refunded", order_action("shipped", "refund", {"amount": "20.00"}), {"order.refunded": 1}),
        ("order.tagged", order_action("pending", "tag", {"tag_name": "vip"}), {"order.tagged": 1}),
        ("order.split", order_split, {"order.split": 1, "order.created": 1}),
        ("order.merged", order_merge, {"order.merged": 1, "order.merged_into": 1}),
        ("return.received", return_receive, {"return.received": 1, adjusted: 1}),
        ("warranty.approved", warranty_approve, {"warranty.approved": 1}),
        ("lead.converted", lead_convert, {"lead.converted": 1, "customer.created": 1}),
        ("case.escalated", case_escalate, {"case.escalated": 1}),
        ("purchase_order.received", po_receive, {"purchase_order.received": 1, adjusted: 1}),
        ("work_order.completed", wo_complete, {"work_order.completed": 1, adjusted: 1}),  # HOUSING made
        ("customer.created", customer_crud("create"), {"customer.created": 1}),
        ("customer.updated", customer_crud("update"), {"customer.updated": 1}),
        ("customer.deleted", customer_crud("delete"), {"customer.deleted": 1}),
        ("inventory_item.created", item_crud("create"), {"inventory_item.created": 1}),
        ("inventory_item.updated", item_crud("update"), {"inventory_item.updated": 1}),
        ("inventory_item.deleted", item_crud("delete"), {"inventory_item.deleted": 1}),
        ("stock.low", stock_low, {"order.created": 1, adjusted: 1, "stock.low": 1}),
    ]


API_CASES = _api_cases()


@pytest.mark.parametrize("name,run,expected", API_CASES, ids=[c[0] for c in API_CASES])
def test_each_api_change_writes_its_events_exactly_once(api, name, run, expected):
    # The setup runs first; only what the one request wrote counts (`run` sends the request last).
    original = api.generic

    marks = []

    def mark_then_send(*args, **kwargs):
        marks.append(last_id())
        return original(*args, **kwargs)

    api.generic = mark_then_send
    response = run(api)
    assert response.status_code in (200, 201), response.content
    events = since(marks[-1])
    assert types(events) == Counter(expected)
    assert_once_each(events)
    request_id = response["X-Request-ID"]
    for event in events:
        assert event.request_id == request_id
        assert "via API key" in event.actor
        assert event.data["id"] == event.object_id


def test_the_event_carries_the_object_as_the_api_renders_it_and_what_changed(api):
    order = _order()
    response = api.post(f"/v1/orders/{order.pk}/hold", {"reason": "check"}, format="json")
    event = Event.objects.get(type="order.held")
    assert event.data == response.json()["order"]
    assert event.previous_attributes == {"status": "pending", "held_from_status": "", "hold_reason": ""}
    assert (event.object_type, event.object_id) == ("order", order.pk)
    # Per-object numbering: order.created was 1.
    assert list(Event.objects.filter(object_type="order", object_id=order.pk).values_list("sequence", flat=True)) == [
        1,
        2,
    ]


def test_a_delete_carries_the_object_as_it_was(api):
    customer = make_customer(first_name="Gone")
    api.delete(f"/v1/customers/{customer.pk}")
    event = Event.objects.get(type="customer.deleted")
    assert (event.data["id"], event.data["firstName"]) == (customer.pk, "Gone")


# ---- refused and rolled back -------------------------------------------------------------------------------


def test_a_refused_request_writes_no_event(api):
    order = _order("shipped")
    mark = last_id()
    assert api.post(f"/v1/orders/{order.pk}/hold", {"reason": "x"}, format="json").status_code == 422
    assert (
        api.post(
            "/v1/orders",
            {"customer": order.customer_id, "order_line_items": [{"sku": "A", "quantity": 999, "unit_price": "1"}]},
            format="json",
        ).status_code
        == 422
    )  # written, then refused for stock: rolled back
    assert since(mark) == []


def test_a_rolled_back_transaction_leaves_no_event_and_a_released_savepoint_keeps_its_events():
    order = _order()
    mark = last_id()
    with pytest.raises(RuntimeError), transaction.atomic():
        orders.order_hold(order=order, by=SYSTEM, reason="x")
        raise RuntimeError("crash before the commit")
    assert since(mark) == []
    with transaction.atomic():
        try:
            with transaction.atomic():
                orders.order_hold(order=order, by=SYSTEM, reason="x")
                raise RuntimeError("the savepoint rolls back")
        except RuntimeError:
            pass
        orders.order_process(order=order, by=SYSTEM)
    assert [e.type for e in since(mark)] == ["order.processed"]


def test_events_are_immutable():
    make_customer()
    event = Event.objects.get()
    event.type = "customer.tampered"
    with pytest.raises(TypeError):
        event.save()


# ---- through the admin -------------------------------------------------------------------------------------


def test_admin_create_update_transition_and_delete_write_the_same_events(admin_client):
    mark = last_id()
    page = admin_client.get("/admin/crm/customer/add/")
    data = {**change_form_data(page), "email": "adm@example.com", "first_name": "Ad"}
    data.update({"timestamp_0": "2026-01-01", "timestamp_1": "10:00:00"})
    assert admin_client.post("/admin/crm/customer/add/", data).status_code == 302
    customer = Customer.objects.get(email="adm@example.com")
    page = admin_client.get(f"/admin/crm/customer/{customer.pk}/change/")
    data = {**change_form_data(page), "first_name": "Min"}
    data.update({"timestamp_0": "2026-01-01", "timestamp_1": "10:00:00"})
    assert admin_client.post(f"/admin/crm/customer/{customer.pk}/change/", data).status_code == 302
    lead = make_lead("new")
    page = admin_client.get(f"/admin/crm/lead/{lead.pk}/change/")
    admin_client.post(
        f"/admin/crm/lead/{lead.pk}/change/", {**change_form_data(page), "_fsm_transition_to": "engage"}, follow=True
    )
    admin_client.post(f"/admin/crm/customer/{customer.pk}/delete/", {"post": "yes"})
    events = [e for e in since(mark) if e.object_type in ("customer", "lead")]
    assert [e.type for e in events if "in the admin" in e.actor] == [
        "customer.created",
        "customer.updated",
        "lead.engaged",
        "customer.deleted",
    ]
    assert_once_each(events)
    assert events[1].previous_attributes == {"firstName": "Ad"}


def test_service_events_for_documents_and_lines():
    make_item("A", on_hand=50)
    order = make_order(("A", 2), status="delivered")
    mark = last_id()
    ret = returns.return_create(
        by=SYSTEM, order=order, return_line_items=[{"order_line_item": order.order_line_items.get().pk, "quantity": 1}]
    )
    assert types(since(mark)) == Counter({"return.created": 1, "order.items_returned": 1})
    mark = last_id()
    purchasing_item = make_item("PL")
    mark = last_id()
    po = make_purchase_order([(purchasing_item, 2)])
    purchasing.purchase_order_delete(purchase_order=po, by=SYSTEM)
    assert types(since(mark)) == Counter({"purchase_order.created": 1, "purchase_order.deleted": 1})
    assert ret.pk


def test_a_moved_item_is_published_as_the_api_renders_it_at_every_location(api):
    """The stock services render an `inventory_item` event from the levels they locked and wrote, with the item's
    other levels read in the same statement (no read after the move): at every step, across two locations and
    every kind of stock move, the newest event of each item is what GET answers."""
    from inventory import services as inv
    from tests.factories import make_location

    a, b = make_item("A", on_hand=4), make_item("B", on_hand=10)
    east = make_location("EAST")
    inv.stock_receive(inventory_item=a, location=east, quantity=5, source=inv.Source("seed"), by=SYSTEM)
    customer = make_customer()

    def published_as_served(*items):
        for item in items:
            event = Event.objects.filter(object_type="inventory_item", object_id=item.pk).order_by("-pk").first()
            assert event.data == api.get(f"/v1/inventory_items/{item.pk}").json()["inventory_item"], event.type

    def ok(response):
        assert response.status_code in (200, 201), response.content
        return response.json()

    lines = [{"sku": "A", "quantity": 5, "unit_price": "1"}, {"sku": "B", "quantity": 2, "unit_price": "1"}]
    body = {"customer": customer.pk, "order_line_items": lines, "allocation": "any_location"}
    order = ok(api.post("/v1/orders", body, format="json"))["order"]  # A: 4 at MAIN and 1 at EAST
    published_as_served(a, b)
    assert {
        lv["location"]: lv["allocated"]
        for lv in api.get(f"/v1/inventory_items/{a.pk}").json()["inventory_item"]["levels"]
    } == {"EAST": 1, "MAIN": 4}
    line_b = next(line for line in order["order_line_items"] if line["sku"] == "B")
    ok(api.post(f"/v1/orders/{order['id']}/remove_item", {"order_item_id": line_b["id"], "quantity": 1}, format="json"))
    published_as_served(b)
    ok(api.post(f"/v1/orders/{order['id']}/add_item", {"sku": "B", "quantity": 3, "unit_price": "1"}, format="json"))
    published_as_served(b)
    line_a = next(line for line in order["order_line_items"] if line["sku"] == "A")
    body = {"order_item_id": line_a["id"], "location": "EAST", "from_location": "MAIN", "quantity": 1}
    ok(api.post(f"/v1/orders/{order['id']}/reallocate", body, format="json"))  # two statements move A's levels
    published_as_served(a)
    ok(api.post(f"/v1/orders/{order['id']}/ship", {"carrier": "UPS"}, format="json"))  # one parcel per location
    published_as_served(a, b)
    ok(api.post(f"/v1/inventory_items/{a.pk}/adjust", {"quantity": 4, "location": "EAST"}, format="json"))
    published_as_served(a)
    body = {"from_location": "EAST", "to_location": "MAIN", "quantity": 2}
    ok(api.post(f"/v1/inventory_items/{a.pk}/transfer", body, format="json"))
    published_as_served(a)
    other = ok(api.post("/v1/orders", {"customer": customer.pk, "order_line_items": lines[1:]}, format="json"))
    ok(api.post(f"/v1/orders/{other['order']['id']}/cancel", {"reason": "changed mind"}, format="json"))
    published_as_served(b)
    with transaction.atomic():  # one level moved twice: the later read of it holds the earlier write
        inv.stock_adjust(inventory_item=a, location=east, quantity=2, by=SYSTEM, reason="found")
        inv.stock_adjust(inventory_item=a, location=east, quantity=-1, by=SYSTEM, reason="damaged")
    published_as_served(a)
    # An item changed and moved in one transaction is read again for its events: still what GET answers.
    with transaction.atomic():
        inv.item_update(inventory_item=a, by=SYSTEM, description="Bolt")
        inv.stock_adjust(inventory_item=a, location=east, quantity=-1, by=SYSTEM, reason="damaged")
    published_as_served(a)
    assert api.get(f"/v1/inventory_items/{a.pk}").json()["inventory_item"]["description"] == "Bolt"
