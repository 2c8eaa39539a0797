"""The inventory back office obeys the API's rules: saves, buttons and actions run through the services; the
ledger and allocations are read-only for everyone; changelists cost a fixed number of queries."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_fsm_log.models import StateLog

from inventory import counting, purchasing, selectors
from inventory.models import CycleCount, InventoryItem, PackingList, PurchaseOrder, StockMovement
from tests.factories import (
    SYSTEM,
    level,
    make_cycle_count,
    make_item,
    make_packing_list,
    make_purchase_order,
    make_user,
)

pytestmark = pytest.mark.django_db


def change_form_data(response) -> dict:
    """What the browser posts back from a change form: the form's current values and the inlines'."""
    data = {}

    def add(form, prefix=""):
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[f"{prefix}{name}"] = "on" if value is True else value
            if form.fields[name].show_hidden_initial:  # a field with a callable default: the browser posts both
                data[f"initial-{prefix}{name}"] = data[f"{prefix}{name}"]

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        add(formset.management_form, f"{formset.prefix}-")
        for i, form in enumerate(formset.forms):
            add(form, f"{formset.prefix}-{i}-")
    return data


def run_action(client, model: str, action: str, objs):
    return client.post(
        f"/admin/inventory/{model}/",
        {"action": action, "_selected_action": [o.pk for o in objs]},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


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
    # its ledger rows protect it: the admin names them instead of deleting
    response = admin_client.post(f"/admin/inventory/inventoryitem/{low.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200 and b"Cannot delete inventory item" in response.content
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
