"""The inventory back office obeys the API's rules: saves, buttons and actions run through the services; the
ledger and allocations are read-only for everyone; changelists cost a fixed number of queries."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_fsm_log.models import StateLog

from inventory import selectors, services
from inventory.models import CycleCount, InventoryItem, PackingList, PurchaseOrder, StockMovement
from inventory.services import counting, purchasing
from tests.factories import (
    SYSTEM,
    level,
    make_cycle_count,
    make_item,
    make_location,
    make_packing_list,
    make_purchase_order,
    make_user,
)
from tests.helpers import change_form_data, messages_of

pytestmark = pytest.mark.django_db


def run_action(client, model: str, action: str, objs):
    return client.post(
        f"/admin/inventory/{model}/",
        {"action": action, "_selected_action": [o.pk for o in objs]},
        follow=True,
    )


# ---- the ledger is read-only ------------------------------------------------------------------------------


def test_the_ledger_is_read_only_even_for_a_superuser(admin_client):
    item = make_item(on_hand=3)
    movement = StockMovement.objects.get(item=item)
    assert admin_client.get("/admin/inventory/stockmovement/").status_code == 200
    assert admin_client.get("/admin/inventory/stockmovement/add/").status_code == 403
    page = admin_client.get(f"/admin/inventory/stockmovement/{movement.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content  # a view page, no save button
    assert (
        admin_client.post(f"/admin/inventory/stockmovement/{movement.pk}/change/", {"quantity": 9}).status_code == 403
    )
    assert (
        admin_client.post(f"/admin/inventory/stockmovement/{movement.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert StockMovement.objects.get(pk=movement.pk).quantity == 3
    listing = admin_client.get("/admin/inventory/stockmovement/?reason__exact=receipt")
    assert listing.status_code == 200 and b"delete_selected" not in listing.content
    assert admin_client.get("/admin/inventory/allocation/add/").status_code == 403


# ---- purchase orders ---------------------------------------------------------------------------------------


def test_receive_admin_action_receives_everything_outstanding(admin_client):
    a, b = make_item(), make_item()
    po = make_purchase_order([(a, 5), (b, 2)], status="ordered")
    purchasing.purchase_order_receive(purchase_order=po, lines=[{"sku": a.sku, "quantity": 1}], by=SYSTEM)
    draft = make_purchase_order([(a, 1)])
    response = run_action(admin_client, "purchaseorder", "receive_outstanding", [po, draft])
    texts = messages_of(response)
    assert any("Received: 1 done" in t for t in texts)
    assert any(draft.purchase_order_number in t and "'draft'" in t for t in texts)  # refused, with the reason
    assert PurchaseOrder.objects.get(pk=po.pk).status == "received"
    assert (level(a), level(b)) == ((5, 0, 0), (2, 0, 0))
    assert PurchaseOrder.objects.get(pk=draft.pk).status == "draft"
    log = StateLog.objects.for_(po).latest("pk")
    assert (log.transition, log.by.username) == ("receive", "root")
    assert "in the admin" in log.description
    assert selectors.ledger_mismatches() == []


def test_admin_actions_need_the_named_permission():
    item = make_item()
    po = make_purchase_order([(item, 5)], status="approved")
    client = Client()
    client.force_login(make_user("inventory.view_purchaseorder", "inventory.change_purchaseorder"))
    response = run_action(client, "purchaseorder", "send_orders", [po])
    assert any("inventory.send_purchaseorder" in t for t in messages_of(response))
    assert PurchaseOrder.objects.get(pk=po.pk).status == "approved" and level(item) == (0, 0, 0)


def test_the_approve_button_and_send_action(admin_client):
    item = make_item()
    po = make_purchase_order([(item, 4)], status="submitted")
    url = f"/admin/inventory/purchaseorder/{po.pk}/change/"
    page = admin_client.get(url)
    content = page.content.decode()
    assert 'value="approve"' in content and 'value="send"' not in content  # send moves stock: an action
    admin_client.post(url, {**change_form_data(page), "_fsm_transition_to": "approve"}, follow=True)
    assert PurchaseOrder.objects.get(pk=po.pk).status == "approved"
    run_action(admin_client, "purchaseorder", "send_orders", [po])
    assert level(item) == (0, 0, 4)


def test_the_reject_button_asks_for_a_reason(admin_client):
    po = make_purchase_order([(make_item(), 4)], status="submitted")
    url = f"/admin/inventory/purchaseorder/{po.pk}/change/"
    page = admin_client.get(url)
    response = admin_client.post(url, {**change_form_data(page), "_fsm_transition_to": "reject"}, follow=True)
    form_url = f"/admin/inventory/purchaseorder/{po.pk}/transition/reject/"
    assert response.redirect_chain[-1][0].endswith(form_url)
    assert admin_client.post(form_url, {"reason": ""}).status_code == 200  # the form again, nothing changed
    assert PurchaseOrder.objects.get(pk=po.pk).status == "submitted"
    admin_client.post(form_url, {"reason": "vendor price too high"})
    po = PurchaseOrder.objects.get(pk=po.pk)
    assert (po.status, po.rejection_reason) == ("rejected", "vendor price too high")
    log = StateLog.objects.for_(po).get(transition="reject")
    assert log.by.username == "root" and "vendor price too high" in log.description


def test_the_finance_button_records_the_financer_and_keeps_the_status(admin_client):
    draft = make_purchase_order([(make_item(), 1)])
    assert (
        'value="finance"' not in admin_client.get(f"/admin/inventory/purchaseorder/{draft.pk}/change/").content.decode()
    )
    po = make_purchase_order([(make_item(), 4)], status="approved")
    form_url = f"/admin/inventory/purchaseorder/{po.pk}/transition/finance/"
    assert 'value="finance"' in admin_client.get(f"/admin/inventory/purchaseorder/{po.pk}/change/").content.decode()
    assert admin_client.post(form_url, {"financer": ""}).status_code == 200
    assert PurchaseOrder.objects.get(pk=po.pk).financed is False
    admin_client.post(form_url, {"financer": "Acme Capital"})
    po = PurchaseOrder.objects.get(pk=po.pk)
    assert (po.status, po.financed, po.financer) == ("approved", True, "Acme Capital")
    assert StateLog.objects.for_(po).get(transition="finance").by.username == "root"


def test_reject_and_finance_buttons_need_their_named_permissions():
    submitted = make_purchase_order([(make_item(), 1)], status="submitted")
    approved = make_purchase_order([(make_item(), 1)], status="approved")
    client = Client()
    client.force_login(make_user("inventory.view_purchaseorder", "inventory.change_purchaseorder"))
    for po, name, data in ((submitted, "reject", {"reason": "no"}), (approved, "finance", {"financer": "X"})):
        page = client.get(f"/admin/inventory/purchaseorder/{po.pk}/change/").content.decode()
        assert f'value="{name}"' not in page
        client.post(f"/admin/inventory/purchaseorder/{po.pk}/transition/{name}/", data)
    assert PurchaseOrder.objects.get(pk=submitted.pk).status == "submitted"
    assert PurchaseOrder.objects.get(pk=approved.pk).financed is False


def test_purchase_order_added_in_the_admin_goes_through_the_service(admin_client):
    item = make_item(unit_cost="1.50")
    page = admin_client.get("/admin/inventory/purchaseorder/add/")
    data = change_form_data(page)
    data.update(
        {
            "vendor": "Acme",
            "lines-TOTAL_FORMS": "1",
            "lines-0-item": item.pk,
            "lines-0-quantity_ordered": "4",
            "lines-0-unit_cost": "1.50",
        }
    )
    response = admin_client.post("/admin/inventory/purchaseorder/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    po = PurchaseOrder.objects.get()
    assert (po.vendor, po.status, str(po.total), po.purchase_order_number) == (
        "Acme",
        "draft",
        "6.00",
        f"PO-{po.pk:06d}",
    )
    assert po.lines.get().quantity_ordered == 4


def test_a_sent_orders_lines_are_read_only_in_the_admin(admin_client):
    item = make_item()
    po = make_purchase_order([(item, 4)], status="ordered")
    page = admin_client.get(f"/admin/inventory/purchaseorder/{po.pk}/change/")
    assert b'name="lines-0-quantity_ordered"' not in page.content


# ---- packing lists and items -------------------------------------------------------------------------------


def test_arrive_and_receive_admin_actions(admin_client):
    a, b = make_item(), make_item()
    pl = make_packing_list([(a, 3), (b, 2)], submit=True)
    row_a = pl.items.get(item=a)
    run_action(admin_client, "packinglistitem", "arrive_items", [row_a])
    assert level(a) == (3, 0, 0)
    response = run_action(admin_client, "packinglistitem", "arrive_items", [row_a])
    assert any("already arrived" in t for t in messages_of(response))
    assert level(a) == (3, 0, 0)
    run_action(admin_client, "packinglist", "receive_lists", [pl])
    assert PackingList.objects.get(pk=pl.pk).status == "received"
    assert level(b) == (2, 0, 0)
    assert selectors.ledger_mismatches() == []


# ---- cycle counts -------------------------------------------------------------------------------------------


def test_cycle_count_admin_actions(admin_client):
    item = make_item(on_hand=10)
    cc = make_cycle_count([item])
    run_action(admin_client, "cyclecount", "start_counts", [cc])
    counting.cycle_count_count(cycle_count=cc, lines=[{"sku": item.sku, "quantity_counted": 7}], by=SYSTEM)
    run_action(admin_client, "cyclecount", "complete_counts", [cc])
    run_action(admin_client, "cyclecount", "reconcile_counts", [cc])
    assert CycleCount.objects.get(pk=cc.pk).status == "reconciled"
    assert level(item) == (7, 0, 0)
    response = run_action(admin_client, "cyclecount", "reconcile_counts", [cc])
    assert any("'reconciled'" in t for t in messages_of(response))
    assert level(item) == (7, 0, 0) and StockMovement.objects.filter(reason="cycle_count").count() == 1
    assert selectors.ledger_mismatches() == []


def test_counting_in_the_admin_goes_through_the_count_service(admin_client):
    item = make_item(on_hand=10)
    cc = make_cycle_count([item], start=True)
    url = f"/admin/inventory/cyclecount/{cc.pk}/change/"
    data = change_form_data(admin_client.get(url))
    data["lines-0-quantity_counted"] = "9"
    assert admin_client.post(url, data).status_code == 302
    line = cc.lines.get()
    assert (line.quantity_counted, line.status, line.variance_quantity) == (9, "counted", -1)
    assert StateLog.objects.for_(cc).latest("pk").transition == "count"


# ---- items ---------------------------------------------------------------------------------------------------


def test_item_admin_low_stock_filter_and_delete_refusal(admin_client):
    low = make_item("LOW-1", on_hand=1, reorder_point=5)
    make_item("HIGH-1", on_hand=10, reorder_point=5)
    page = admin_client.get("/admin/inventory/inventoryitem/?low_stock=yes")
    assert b"LOW-1" in page.content and b"HIGH-1" not in page.content
    # its ledger rows protect it: the admin names them instead of deleting (back to its page, with the reason)
    response = admin_client.post(f"/admin/inventory/inventoryitem/{low.pk}/delete/", {"post": "yes"}, follow=True)
    assert b"LOW-1 cannot be deleted: it is in use by 1 stock movement" in response.content
    assert InventoryItem.objects.filter(pk=low.pk).exists()
    fresh = make_item("FRESH-1")
    admin_client.post(f"/admin/inventory/inventoryitem/{fresh.pk}/delete/", {"post": "yes"})
    assert not InventoryItem.objects.filter(pk=fresh.pk).exists()


@pytest.mark.parametrize(
    ("url", "make_one"),
    [
        ("/admin/inventory/inventoryitem/", lambda: make_item(on_hand=2)),
        ("/admin/inventory/stockmovement/", lambda: make_item(on_hand=2)),
        ("/admin/inventory/purchaseorder/", lambda: make_purchase_order([(make_item(), 1)])),
        ("/admin/inventory/packinglist/", lambda: make_packing_list([(make_item(), 1)])),
        ("/admin/inventory/packinglistitem/", lambda: make_packing_list([(make_item(), 1)])),
        ("/admin/inventory/cyclecount/", lambda: make_cycle_count([make_item()])),
        ("/admin/inventory/location/", lambda: None),
        ("/admin/inventory/allocation/", lambda: None),
    ],
)
def test_changelists_cost_a_fixed_number_of_queries(admin_client, url, make_one):
    make_one()
    admin_client.get(url)
    with CaptureQueriesContext(connection) as small:
        assert admin_client.get(url).status_code == 200
    for _ in range(15):
        make_one()
    with CaptureQueriesContext(connection) as large:
        assert admin_client.get(url).status_code == 200
    assert len(small) == len(large)


def test_change_pages_render(admin_client):
    item = make_item(on_hand=2)
    po = make_purchase_order([(item, 1)], status="ordered")
    pl = make_packing_list([(item, 1)], purchase_order=po)
    cc = make_cycle_count([item])
    for url in (
        f"/admin/inventory/inventoryitem/{item.pk}/change/",
        f"/admin/inventory/purchaseorder/{po.pk}/change/",
        f"/admin/inventory/packinglist/{pl.pk}/change/",
        f"/admin/inventory/cyclecount/{cc.pk}/change/",
        "/admin/inventory/purchaseorder/add/",
        "/admin/inventory/packinglist/add/",
        "/admin/inventory/cyclecount/add/",
        "/admin/inventory/inventoryitem/add/",
    ):
        assert admin_client.get(url).status_code == 200, url


# ---- operations that need input: the API's adjust, transfer, receive and skip, in the admin -----------------


def operation_url(obj, name: str) -> str:
    return f"/admin/inventory/{obj._meta.model_name}/{obj.pk}/operation/{name}/"


def page_of(client, obj) -> str:
    return client.get(f"/admin/inventory/{obj._meta.model_name}/{obj.pk}/change/").content.decode()


def ledger_of(item) -> list[tuple]:
    return list(
        StockMovement.objects.filter(item=item)
        .order_by("pk")
        .values_list("location__code", "quantity", "on_hand_after", "reason", "reason_text", "note", "actor")
    )


def allocate(item, quantity: int) -> None:
    """Hold `quantity` of `item` at MAIN for a (made-up) order line, as an order's approval would."""
    line = services.LineRef("order", 1, item.pk)
    request = services.StockRequest(item, services.default_location(), quantity, line)
    services.stock_allocate(requests=[request], by=SYSTEM)


def test_adjust_form_changes_on_hand_through_stock_adjust(admin_client):
    item = make_item(on_hand=10)
    assert operation_url(item, "adjust") in page_of(admin_client, item)
    assert admin_client.get(operation_url(item, "adjust")).status_code == 200
    data = {"location": "MAIN", "quantity": "-3", "reason": "damaged", "note": "dropped by the forklift"}
    response = admin_client.post(operation_url(item, "adjust"), data, follow=True)
    assert f"Adjusted {item.sku} at MAIN by -3: 7 on hand." in messages_of(response)
    assert level(item) == (7, 0, 0)
    # a blank location is MAIN, as in the API
    admin_client.post(operation_url(item, "adjust"), {"location": "", "quantity": "2", "reason": "found"})
    assert level(item) == (9, 0, 0)
    assert ledger_of(item)[1:] == [
        ("MAIN", -3, 7, "adjustment", "damaged", "dropped by the forklift", "root in the admin"),
        ("MAIN", 2, 9, "adjustment", "found", "", "root in the admin"),
    ]
    assert StockMovement.objects.filter(item=item).latest("pk").created_by.username == "root"
    assert selectors.ledger_mismatches() == []


def test_adjust_form_shows_the_services_refusal_and_changes_nothing(admin_client):
    item = make_item(on_hand=10)
    allocate(item, 4)
    before = ledger_of(item)
    response = admin_client.post(operation_url(item, "adjust"), {"location": "MAIN", "quantity": "-7"})
    assert response.status_code == 200  # the form again
    assert messages_of(response) == [f"Insufficient stock to adjust: {item.sku} at MAIN (requested 7, available 6)."]
    response = admin_client.post(operation_url(item, "adjust"), {"location": "MAIN", "quantity": "0"})
    assert messages_of(response) == ["'quantity' must be a non-zero integer."]
    assert level(item) == (10, 4, 0) and ledger_of(item) == before
    assert selectors.ledger_mismatches() == []


def test_transfer_form_moves_available_stock_through_stock_transfer(admin_client):
    item = make_item(on_hand=10)
    shelf = make_location("SHELF-1")
    assert operation_url(item, "transfer") in page_of(admin_client, item)
    data = {"from_location": "MAIN", "to_location": "SHELF-1", "quantity": "4", "note": "restock the shelf"}
    response = admin_client.post(operation_url(item, "transfer"), data, follow=True)
    assert f"Transferred 4 × {item.sku} from MAIN to SHELF-1." in messages_of(response)
    assert (level(item), level(item, shelf)) == ((6, 0, 0), (4, 0, 0))
    assert ledger_of(item)[1:] == [
        ("MAIN", -4, 6, "transfer", "", "restock the shelf", "root in the admin"),
        ("SHELF-1", 4, 4, "transfer", "", "restock the shelf", "root in the admin"),
    ]
    assert selectors.ledger_mismatches() == []


def test_transfer_form_shows_the_services_refusal_and_changes_nothing(admin_client):
    item = make_item(on_hand=10)
    make_location("SHELF-1")
    allocate(item, 4)
    before = ledger_of(item)
    url = operation_url(item, "transfer")
    response = admin_client.post(url, {"from_location": "MAIN", "to_location": "SHELF-1", "quantity": "7"})
    assert messages_of(response) == [f"Insufficient stock to transfer: {item.sku} at MAIN (requested 7, available 6)."]
    response = admin_client.post(url, {"from_location": "MAIN", "to_location": "MAIN", "quantity": "1"})
    assert messages_of(response) == ["'from_location' and 'to_location' must differ."]
    assert level(item) == (10, 4, 0) and ledger_of(item) == before


def test_adjust_and_transfer_need_their_named_permissions():
    item = make_item(on_hand=10)
    make_location("SHELF-1")
    clerk = Client()
    clerk.force_login(make_user("inventory.view_inventoryitem", "inventory.change_inventoryitem"))
    page = page_of(clerk, item)
    assert operation_url(item, "adjust") not in page and operation_url(item, "transfer") not in page
    response = clerk.post(operation_url(item, "adjust"), {"location": "MAIN", "quantity": "5"}, follow=True)
    assert messages_of(response) == ["Adjust stock needs the permission inventory.adjust_inventoryitem."]
    data = {"from_location": "MAIN", "to_location": "SHELF-1", "quantity": "5"}
    response = clerk.post(operation_url(item, "transfer"), data, follow=True)
    assert messages_of(response) == ["Transfer needs the permission inventory.transfer_inventoryitem."]
    assert level(item) == (10, 0, 0) and StockMovement.objects.filter(item=item).count() == 1
    # each permission opens its own door only
    adjuster = Client()
    adjuster.force_login(
        make_user("inventory.view_inventoryitem", "inventory.change_inventoryitem", "inventory.adjust_inventoryitem")
    )
    page = page_of(adjuster, item)
    assert operation_url(item, "adjust") in page and operation_url(item, "transfer") not in page


def test_the_warehouse_role_adjusts_and_transfers_in_the_admin():
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    call_command("setup_roles", stdout=None)
    item = make_item(on_hand=10)
    make_location("SHELF-1")
    user = make_user()
    user.groups.add(Group.objects.get(name="warehouse"))
    client = Client()
    client.force_login(user)
    page = page_of(client, item)
    assert operation_url(item, "adjust") in page and operation_url(item, "transfer") in page
    client.post(operation_url(item, "adjust"), {"location": "MAIN", "quantity": "-1", "reason": "damaged"})
    client.post(operation_url(item, "transfer"), {"from_location": "MAIN", "to_location": "SHELF-1", "quantity": "2"})
    assert level(item) == (7, 0, 0) and StockMovement.objects.filter(item=item).count() == 4


def test_receive_form_books_a_partial_receipt_through_the_service(admin_client):
    a, b = make_item("RCV-A"), make_item("RCV-B")
    dock = make_location("DOCK")
    po = make_purchase_order([(a, 5), (b, 2)], status="ordered")
    line_a, line_b = po.lines.order_by("pk")
    url = operation_url(po, "receive")
    assert url in page_of(admin_client, po)
    form = admin_client.get(url)
    assert form.status_code == 200 and f'name="line_{line_a.pk}"' in form.content.decode()
    # a partial receipt: 3 of A, none of B (blank), at the order's location
    response = admin_client.post(url, {f"line_{line_a.pk}": "3", f"line_{line_b.pk}": "", "reason": "pallet 1"})
    assert response.status_code == 302
    po = PurchaseOrder.objects.get(pk=po.pk)
    assert po.status == "partially_received"
    assert (level(a), level(b)) == ((3, 0, 2), (0, 0, 2))
    assert list(po.lines.order_by("pk").values_list("quantity_received", flat=True)) == [3, 0]
    log = StateLog.objects.for_(po).latest("pk")
    assert (log.transition, log.state, log.by.username) == ("receive", "partially_received", "root")
    assert "in the admin" in log.description and "pallet 1" in log.description and "RCV-A × 3" in log.description
    # the rest, with B's 0 meaning none... then B at another location: the order is received
    admin_client.post(url, {f"line_{line_a.pk}": "2", f"line_{line_b.pk}": "0"})
    response = admin_client.post(url, {f"line_{line_b.pk}": "2", "location": "DOCK"}, follow=True)
    assert f"Received RCV-B × 2 on {po.display_number} at DOCK; it is now received." in messages_of(response)
    assert PurchaseOrder.objects.get(pk=po.pk).status == "received"
    assert (level(a), level(b), level(b, dock)) == ((5, 0, 0), (0, 0, 0), (2, 0, 0))
    assert StockMovement.objects.filter(source_type="purchase_order", source_id=po.pk, reason="receipt").count() == 3
    assert selectors.ledger_mismatches() == []
    assert url not in page_of(admin_client, po)  # nothing left to receive


def test_receive_form_shows_the_services_refusal_and_changes_nothing(admin_client):
    a, b = make_item("OVR-A"), make_item("OVR-B")
    po = make_purchase_order([(a, 5), (b, 2)], status="ordered")
    line_a, line_b = po.lines.order_by("pk")
    url = operation_url(po, "receive")
    logs = StateLog.objects.for_(po).count()
    response = admin_client.post(url, {f"line_{line_a.pk}": "1", f"line_{line_b.pk}": "3"})
    assert response.status_code == 200  # the form again
    assert messages_of(response) == [
        f"Over-receipt on purchase order {po.display_number}: OVR-B receiving 3, outstanding 2."
    ]
    response = admin_client.post(url, {f"line_{line_a.pk}": "", f"line_{line_b.pk}": "0"})
    assert messages_of(response) == ["Name at least one line to receive."]
    po = PurchaseOrder.objects.get(pk=po.pk)
    assert po.status == "ordered" and StateLog.objects.for_(po).count() == logs
    assert (level(a), level(b)) == ((0, 0, 5), (0, 0, 2))
    assert list(po.lines.values_list("quantity_received", flat=True)) == [0, 0]
    assert not StockMovement.objects.filter(reason="receipt").exists()


def test_receive_form_needs_the_named_permission_and_a_receiving_order():
    item = make_item()
    po = make_purchase_order([(item, 5)], status="ordered")
    line = po.lines.get()
    clerk = Client()
    clerk.force_login(make_user("inventory.view_purchaseorder", "inventory.change_purchaseorder"))
    assert operation_url(po, "receive") not in page_of(clerk, po)
    response = clerk.post(operation_url(po, "receive"), {f"line_{line.pk}": "5"}, follow=True)
    assert messages_of(response) == ["Receive needs the permission inventory.receive_purchaseorder."]
    assert PurchaseOrder.objects.get(pk=po.pk).status == "ordered" and level(item) == (0, 0, 5)
    receiver = Client()
    receiver.force_login(
        make_user("inventory.view_purchaseorder", "inventory.change_purchaseorder", "inventory.receive_purchaseorder")
    )
    assert operation_url(po, "receive") in page_of(receiver, po)
    approved = make_purchase_order([(item, 5)], status="approved")
    assert operation_url(approved, "receive") not in page_of(receiver, approved)
    response = receiver.post(operation_url(approved, "receive"), {}, follow=True)
    refusal = messages_of(response)[0]
    assert "Receive is not possible on" in refusal and "while it is approved" in refusal
    assert PurchaseOrder.objects.get(pk=approved.pk).status == "approved"


def test_a_line_that_cannot_be_counted_is_skipped_with_its_explanation(admin_client):
    a, b = make_item("CNT-A", on_hand=10), make_item("CNT-B", on_hand=5)
    cc = make_cycle_count([a, b], start=True)
    url = f"/admin/inventory/cyclecount/{cc.pk}/change/"
    page = admin_client.get(url)
    assert 'name="lines-0-skip"' in page.content.decode()
    data = change_form_data(page)
    data.update(
        {"lines-0-skip": "on", "lines-0-explanation": "bin blocked by a pallet", "lines-1-quantity_counted": "4"}
    )
    assert admin_client.post(url, data).status_code == 302
    line_a, line_b = cc.lines.order_by("pk")
    assert (line_a.status, line_a.quantity_counted, line_a.explanation) == ("skipped", None, "bin blocked by a pallet")
    assert (line_b.status, line_b.quantity_counted, line_b.variance_quantity) == ("counted", 4, -1)
    log = StateLog.objects.for_(cc).latest("pk")
    assert log.transition == "count" and "CNT-A skipped" in log.description and log.by.username == "root"
    assert change_form_data(admin_client.get(url))["lines-0-skip"] == "on"  # shown as skipped
    # the skipped line no longer blocks complete; reconcile posts only the counted variance
    run_action(admin_client, "cyclecount", "complete_counts", [cc])
    run_action(admin_client, "cyclecount", "reconcile_counts", [cc])
    assert CycleCount.objects.get(pk=cc.pk).status == "reconciled"
    assert (level(a), level(b)) == ((10, 0, 0), (4, 0, 0))
    assert selectors.ledger_mismatches() == []


def test_a_skipped_line_can_be_counted_after_all(admin_client):
    item = make_item(on_hand=10)
    cc = make_cycle_count([item], start=True)
    counting.cycle_count_count(cycle_count=cc, lines=[{"sku": item.sku, "skip": True, "explanation": "x"}], by=SYSTEM)
    url = f"/admin/inventory/cyclecount/{cc.pk}/change/"
    data = change_form_data(admin_client.get(url))
    assert data["lines-0-skip"] == "on"
    del data["lines-0-skip"]
    data["lines-0-quantity_counted"] = "10"
    assert admin_client.post(url, data).status_code == 302
    line = cc.lines.get()
    assert (line.status, line.quantity_counted, line.variance_quantity) == ("counted", 10, 0)


def test_skipping_without_an_explanation_shows_the_services_refusal_and_changes_nothing(admin_client):
    a, b = make_item("SKP-A", on_hand=10), make_item("SKP-B", on_hand=5)
    cc = make_cycle_count([a, b], start=True)
    url = f"/admin/inventory/cyclecount/{cc.pk}/change/"
    data = change_form_data(admin_client.get(url))
    data.update({"lines-0-skip": "on", "lines-1-quantity_counted": "4"})
    logs = StateLog.objects.for_(cc).count()
    response = admin_client.post(url, data, follow=True)
    assert "Skipping SKP-A needs an 'explanation'." in messages_of(response)
    assert list(cc.lines.order_by("pk").values_list("status", "quantity_counted")) == [
        ("pending", None),
        ("pending", None),
    ]
    assert StateLog.objects.for_(cc).count() == logs
    response = run_action(admin_client, "cyclecount", "complete_counts", [cc])
    assert any("still has lines to count" in t for t in messages_of(response))
    assert CycleCount.objects.get(pk=cc.pk).status == "in_progress"


def test_only_staff_who_may_change_the_count_can_skip_a_line():
    item = make_item(on_hand=10)
    cc = make_cycle_count([item], start=True)
    url = f"/admin/inventory/cyclecount/{cc.pk}/change/"
    viewer = Client()
    viewer.force_login(make_user("inventory.view_cyclecount", "inventory.view_cyclecountlineitem"))
    page = viewer.get(url)
    assert page.status_code == 200 and 'name="lines-0-skip"' not in page.content.decode()
    data = {"lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "1", "lines-0-id": cc.lines.get().pk}
    data.update({"lines-0-cycle_count": cc.pk, "lines-0-skip": "on", "lines-0-explanation": "no"})
    assert viewer.post(url, data).status_code == 403
    assert cc.lines.get().status == "pending" and StateLog.objects.for_(cc).latest("pk").transition == "start"
    # a counter (the warehouse role's count permissions) may
    counter = Client()
    counter.force_login(
        make_user(
            "inventory.view_cyclecount",
            "inventory.change_cyclecount",
            "inventory.view_cyclecountlineitem",
            "inventory.change_cyclecountlineitem",
        )
    )
    page = counter.get(url)
    assert 'name="lines-0-skip"' in page.content.decode()
    data = {**change_form_data(page), "lines-0-skip": "on", "lines-0-explanation": "shelf unreachable"}
    assert counter.post(url, data).status_code == 302
    assert cc.lines.get().status == "skipped"
    log = StateLog.objects.for_(cc).latest("pk")
    assert log.transition == "count" and "in the admin" in log.description


# ---- stock by location (issue #19) ------------------------------------------------------------------------


def test_stock_by_location_lists_every_level_filters_low_stock_and_changes_nothing(admin_client):
    from inventory.models import StockLevel

    east = make_location("EAST")
    make_item("LOW-1", on_hand=2, reorder_point=5)
    make_item("PLENTY-1", on_hand=50)
    make_item("EASTONLY-1", on_hand=9, location=east)
    page = admin_client.get("/admin/inventory/stocklevel/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "LOW-1" in text and "PLENTY-1" in text and "EASTONLY-1" in text
    low_only = admin_client.get("/admin/inventory/stocklevel/?stock=low").content.decode()
    assert "LOW-1" in low_only and "PLENTY-1" not in low_only  # 2 available, reorder point 5
    at_east = admin_client.get(f"/admin/inventory/stocklevel/?location__id__exact={east.pk}").content.decode()
    assert "EASTONLY-1" in at_east and "PLENTY-1" not in at_east
    before = list(StockLevel.objects.order_by("pk").values_list("on_hand", "allocated"))
    some = StockLevel.objects.first()
    assert admin_client.get("/admin/inventory/stocklevel/add/").status_code == 403
    assert admin_client.post(f"/admin/inventory/stocklevel/{some.pk}/change/", {"on_hand": 99}).status_code == 403
    assert list(StockLevel.objects.order_by("pk").values_list("on_hand", "allocated")) == before
