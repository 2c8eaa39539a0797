"""A document's page as a workspace (issue #19): the header card in words, every allowed action in one place,
no Save where nothing can change, a timeline in words; refusals named before they happen; staff words."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from inventory.models import InventoryItem, StockMovement
from orders.models import Order
from tests.factories import make_item, make_purchase_order, make_user
from tests.helpers import change_form_data, change_url, messages_of
from tests.orders.support import fresh, order_in, stock

pytestmark = pytest.mark.django_db


def press(client, obj, transition: str, **data):
    page = client.get(change_url(obj))
    return client.post(
        change_url(obj), {**change_form_data(page), "_fsm_transition_to": transition, **data}, follow=True
    )


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_card_says_the_status_in_words_and_the_timeline_tells_the_hold(admin_client):
    stock()
    order = order_in("pending")
    admin_client.post(f"/admin/orders/order/{order.pk}/transition/hold/", {"hold_reason": "address to confirm"})
    page = admin_client.get(change_url(order))
    assert 'data-status="on_hold">On hold</span>' in page.content.decode()
    assert "On hold because address to confirm" in text(page)
    assert "on_hold" not in text(page)
    response = press(admin_client, order, "release")
    assert messages_of(response) == ["Release: done."]
    assert (fresh(order).status, fresh(order).hold_reason) == ("pending", "")
    timeline = text(response).split("Timeline", 1)[1]
    assert "root in the admin put it on hold (Pending → On hold) : address to confirm" in timeline
    assert "released it (On hold → Pending)" in timeline


def test_every_allowed_action_is_in_one_place_and_cancel_among_them(admin_client):
    stock()
    pending, shipped = order_in("pending"), order_in("shipped")
    page = admin_client.get(change_url(pending)).content.decode()
    actions = page.split('id="ws-actions"', 1)[1].split("</section>", 1)[0]
    assert f"/admin/orders/order/{pending.pk}/operation/cancel/" in actions
    assert 'value="hold"' in actions and 'value="process"' in actions
    assert "Ship…" in actions
    assert 'name="_save"' in page  # a pending order's details can change
    page = admin_client.get(change_url(shipped)).content.decode()
    assert "/operation/cancel/" not in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page  # nothing to save on a shipped order
    assert "Refund…" in page


def test_cancel_from_the_page_releases_the_stock_and_keeps_the_reason(admin_client):
    a, _ = stock(10)
    order = order_in("pending")
    response = admin_client.post(
        f"/admin/orders/order/{order.pk}/operation/cancel/", {"reason": "changed mind"}, follow=True
    )
    assert messages_of(response) == [f"Cancelled {order.order_number}: its stock allocations are released."]
    assert (fresh(order).status, fresh(order).cancel_reason) == ("cancelled", "changed mind")
    assert "Cancelled because changed mind" in text(response)


def test_an_empty_section_is_hidden_and_related_documents_are_linked(admin_client):
    stock()
    order = order_in("pending")
    page = admin_client.get(change_url(order)).content.decode()
    assert 'id="ws-shipments"' not in page and 'id="ws-refunds"' not in page and 'id="ws-related"' not in page
    assert 'id="ws-lines"' in page
    child = Order.objects.create(location=order.location, split_from=order, order_number="ORD-CHILD")
    page = admin_client.get(change_url(order)).content.decode()
    related = page.split('id="ws-related"', 1)[1].split("</section>", 1)[0]
    assert change_url(child) in related and "Split off" in related


def test_inline_rows_carry_no_database_label(admin_client):
    stock()
    order = order_in("shipped")
    page = text(admin_client.get(change_url(order)))
    assert "+00:00" not in page
    assert f"{order.order_number} - " not in page


def test_an_item_with_movements_offers_no_delete_and_names_why(admin_client):
    item = make_item("MOVED", on_hand=5)
    assert StockMovement.objects.filter(item=item).exists()
    page = admin_client.get(change_url(item)).content.decode()
    assert "deletelink" not in page
    response = admin_client.get(reverse("admin:inventory_inventoryitem_delete", args=[item.pk]), follow=True)
    assert messages_of(response) == [
        "MOVED cannot be deleted: it is in use by 1 stock movement. Untick Active to retire it."
    ]
    assert "permission" not in text(response).lower().split("cannot be deleted")[0][-200:]
    assert InventoryItem.objects.filter(pk=item.pk).exists()
    unused = make_item("UNUSED")
    response = admin_client.post(
        reverse("admin:inventory_inventoryitem_delete", args=[unused.pk]), {"post": "yes"}, follow=True
    )
    assert not InventoryItem.objects.filter(pk=unused.pk).exists()


def test_view_site_goes_to_the_api_docs(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert 'href="/v1/docs"' in page
    assert admin.site.site_url == "/v1/docs"
    assert 'rel="icon"' in page  # a favicon, inline


def test_no_help_text_speaks_to_developers():
    for model in apps.get_models():
        for field in model._meta.get_fields():
            help_text = str(getattr(field, "help_text", "") or "")
            assert "§" not in help_text and "reference" not in help_text.lower(), (model, field.name)
            assert "Σ" not in help_text, (model, field.name)


def test_the_packing_slip_and_pick_list_print_an_order_and_a_selection(admin_client):
    stock(7)
    first, second = order_in("pending"), order_in("shipped")
    page = admin_client.get(change_url(first)).content.decode()
    assert f"/admin/orders/order/{first.pk}/print/packing_slip/" in page
    slip = admin_client.get(f"/admin/orders/order/{first.pk}/print/packing_slip/")
    assert slip.status_code == 200
    body = text(slip)
    assert "Packing slip" in body and first.order_number in body and "@media print" in slip.content.decode()
    pick = admin_client.get(f"/admin/orders/order/{first.pk}/print/pick_list/").content.decode()
    rows = re.findall(
        r"<tr><td><span class=\"check\"></span></td><td>(\w+)</td><td>[^<]*</td><td class=\"num\">(\d+)</td>", pick
    )
    assert rows == [("A", "2"), ("B", "1")]  # what to pick, by SKU
    response = admin_client.post(
        "/admin/orders/order/",
        {"action": "print_packing_slip", "_selected_action": [first.pk, second.pk]},
    )
    assert response.status_code == 302 and response["Location"].endswith(f"?ids={first.pk},{second.pk}")
    both = admin_client.get(response["Location"]).content.decode()
    assert both.count('class="sheet paper-packing_slip"') == 2
    assert second.order_number in both and second.tracking_number in both


def test_a_purchase_order_prints_for_the_supplier(admin_client):
    po = make_purchase_order([(make_item("MOTOR"), 5)], status="ordered")
    body = text(admin_client.get(f"/admin/inventory/purchaseorder/{po.pk}/print/purchase_order/"))
    assert "Purchase order" in body and po.display_number in body and "MOTOR" in body


def test_paperwork_needs_the_view_permission(client):
    stock()
    order = order_in("pending")
    client.force_login(make_user())  # staff, without any permission on orders
    assert client.get(f"/admin/orders/order/{order.pk}/print/packing_slip/").status_code == 403
    client.force_login(make_user("orders.view_order"))
    assert client.get(f"/admin/orders/order/{order.pk}/print/packing_slip/").status_code == 200


def test_saved_views_staff_work_from(admin_client):
    stock()
    pending, processing, held, shipped = (order_in(s) for s in ("pending", "processing", "on_hold", "shipped"))
    Order.objects.filter(pk=processing.pk).update(delivery_date=date.today() + timedelta(days=3))

    def listed(query: str) -> set[int]:
        response = admin_client.get(f"/admin/orders/order/?{query}")
        return {row.pk for row in response.context["cl"].result_list}

    assert listed("view=to_ship") == {pending.pk, processing.pk}
    assert listed("view=to_ship_today") == {pending.pk}  # the other is due in three days
    assert listed("view=on_hold") == {held.pk}
    Order.objects.filter(pk=shipped.pk).update(tracking_number="1Z999TRACK")
    assert listed("q=1Z999TRACK") == {shipped.pk}  # by tracking number
    assert listed("q=A") >= {pending.pk}  # a SKU on a line


def test_an_item_page_shows_stock_per_location_and_its_recent_movements(admin_client):
    item = make_item("GLANCE", on_hand=7, reorder_point=10)
    page = admin_client.get(change_url(item)).content.decode()
    assert "Recent movements" in page and 'class="recent-movements"' in page
    assert "<td class='num'>+7</td><td class='num'>7</td>" in page
    assert "field-on_hand" in page  # the stock per location (the levels inline)
    listing = admin_client.get("/admin/inventory/inventoryitem/").content.decode()
    assert 'class="low-stock"' in listing  # 7 available, reorder point 10
