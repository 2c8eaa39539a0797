"""A staff user's day in the back office, in a real browser: log in, read the dashboard, hold and release an
order with its buttons, ship one through the changelist action and watch the stock fall, receive a purchase
order; and a read-only user who finds nothing to press."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from inventory.models import PurchaseOrder
from orders.models import Order
from tests.browser.conftest import PASSWORD, log_in
from tests.factories import level, make_item, make_purchase_order, make_user
from tests.orders.support import order_in, stock

pytestmark = pytest.mark.django_db(transaction=True)


def staff(*perms, superuser=False, group: str | None = None):
    user = make_user(*perms, superuser=superuser)
    user.set_password(PASSWORD)
    user.save()
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def messages(page) -> str:
    return page.inner_text("ul.messagelist")


def status_shown(page) -> str:
    """The status in words, as the header card of a document's page shows it."""
    return page.inner_text("#ws-card .status-badge").strip()


def on_hand_shown(page, location: str = "MAIN") -> int:
    row = page.locator("tr", has=page.locator("td.field-location", has_text=location)).first
    return int(row.locator("td.field-on_hand").inner_text().strip())


def test_log_in_and_read_the_dashboard(page, step):
    stock()
    order_in("pending")
    order_in("pending")
    order_in("shipped")
    user = staff(superuser=True)
    page.goto("/admin/")
    assert "/admin/login/" in page.url
    step("login page")
    log_in(page, user.username)
    step("dashboard")
    assert page.locator("svg.chart").count() >= 6
    today = page.locator("#figure-orders_today")
    assert today.get_attribute("data-value") == "3"
    assert today.locator('rect.bar[data-label="Pending"]').get_attribute("data-value") == "2"
    assert today.locator('rect.bar[data-label="Shipped"]').get_attribute("data-value") == "1"
    revenue = page.locator("#figure-revenue_per_day")
    expected = sum(o.total for o in Order.objects.all())
    assert revenue.get_attribute("data-value") == f"{expected:.2f}"
    assert revenue.locator("circle.point").count() == 30
    today.locator('a:has(rect.bar[data-label="Pending"])').click()
    page.wait_for_selector("#result_list")
    step("the changelist behind the bar")
    assert "status__exact=pending" in page.url
    assert page.locator("#result_list tbody tr").count() == 2


def test_hold_and_release_an_order_with_the_buttons(page, step):
    stock()
    order = order_in("pending")
    log_in(page, staff(superuser=True).username)
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    step("order page")
    assert status_shown(page) == "Pending"
    page.click('button[name="_fsm_transition_to"][value="hold"]')
    page.wait_for_selector("#id_hold_reason")
    step("hold asks why")
    page.fill("#id_hold_reason", "address to confirm")
    page.click('input[type="submit"][value="Apply"]')
    page.wait_for_selector("ul.messagelist")
    step("held")
    assert "Hold: done." in messages(page)
    assert status_shown(page) == "On hold"
    assert Order.objects.get(pk=order.pk).hold_reason == "address to confirm"
    page.click('button[name="_fsm_transition_to"][value="release"]')
    page.wait_for_selector("ul.messagelist")
    step("released")
    assert "Release: done." in messages(page)
    assert status_shown(page) == "Pending"
    assert Order.objects.get(pk=order.pk).status == "pending"


def test_ship_an_order_through_its_action_and_see_stock_fall(page, step):
    a, b = stock(10)  # the order takes 2 × A and 1 × B
    order = order_in("pending")
    log_in(page, staff(superuser=True).username)
    page.goto(f"/admin/inventory/inventoryitem/{a.pk}/change/")
    step("item before")
    assert on_hand_shown(page) == 10
    page.goto("/admin/orders/order/")
    page.check(f'input.action-select[value="{order.pk}"]')
    page.select_option('select[name="action"]', "ship_orders")
    step("ship selected")
    page.click('button[name="index"]')
    page.wait_for_selector("ul.messagelist")
    step("shipped")
    assert "Shipped: 1 done." in messages(page)
    assert Order.objects.get(pk=order.pk).status == "shipped"
    page.goto(f"/admin/inventory/inventoryitem/{a.pk}/change/")
    step("item after")
    assert on_hand_shown(page) == 8
    assert level(a) == (8, 0, 0) and level(b) == (9, 0, 0)


def test_receive_a_purchase_order(page, step):
    item = make_item("MOTOR")
    po = make_purchase_order([(item, 5)], status="ordered")
    log_in(page, staff(superuser=True).username)
    page.goto("/admin/inventory/purchaseorder/")
    page.check(f'input.action-select[value="{po.pk}"]')
    page.select_option('select[name="action"]', "receive_outstanding")
    step("receive selected")
    page.click('button[name="index"]')
    page.wait_for_selector("ul.messagelist")
    step("received")
    assert "Received: 1 done." in messages(page)
    assert PurchaseOrder.objects.get(pk=po.pk).status == "received"
    page.goto(f"/admin/inventory/purchaseorder/{po.pk}/change/")
    step("purchase order page")
    assert status_shown(page) == "Received"
    assert "receive" in page.inner_text("#content-main").lower()  # the history inline
    page.goto(f"/admin/inventory/inventoryitem/{item.pk}/change/")
    assert on_hand_shown(page) == 5


def test_a_read_only_user_sees_no_buttons_and_cannot_change_anything(page, step):
    call_command("setup_roles", stdout=StringIO(), stderr=StringIO())
    stock()
    order = order_in("pending")
    viewer = staff(group="read-only")
    log_in(page, viewer.username)
    step("dashboard")
    assert page.locator("svg.chart").count() >= 6  # reading is allowed
    page.goto("/admin/orders/order/")
    step("orders")
    assert page.locator('select[name="action"]').count() == 0
    assert page.locator("a.addlink").count() == 0
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    step("an order")
    assert page.locator('button[name="_fsm_transition_to"]').count() == 0
    assert page.locator('input[name="_save"]').count() == 0
    assert page.locator("a.operation").count() == 0
    assert status_shown(page) == "Pending"
    response = page.goto(f"/admin/orders/order/{order.pk}/transition/hold/")
    step("the hold form, typed in")
    assert response.status == 403
    # A hand-made POST of the button is refused too.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    result = page.request.post(
        f"/admin/orders/order/{order.pk}/change/",
        form={"_fsm_transition_to": "process", "csrfmiddlewaretoken": csrf},
        headers={"Referer": page.url, "X-CSRFToken": csrf},
    )
    assert result.status == 403
    assert Order.objects.get(pk=order.pk).status == "pending"


RAW = ("on_hold", "in_progress", "partially_received", "reference §", "contract §", "return_items")


def assert_in_words(page) -> None:
    """No raw status value, no spec reference, no database label on the page staff read."""
    text = page.inner_text("#content")
    for raw in RAW:
        assert raw not in text, raw
    assert "+00:00" not in text  # a timestamp's __str__ as a row label


def card(page, name: str) -> str:
    return page.inner_text(f"#ws-card .ws-fact-{name} dd").strip()


def test_the_order_page_is_a_workspace_from_the_phone_call_to_the_refund(page, step):
    """At 1366 × 768: take an order by phone, hold and release it, ship it with tracking, refund part; the
    header card says the status in words and the balance, every action sits in one place, and the page has
    no horizontal scroll."""
    a, _ = stock(10)
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, staff(superuser=True).username)
    page.goto("/admin/orders/order/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    page.goto("/admin/orders/order/add/")
    page.fill("#id_customer_email", "ada@example.test")
    page.fill("#id_customer_name", "Ada Lovelace")
    page.fill("#id_order_line_items-0-sku", "A")
    page.fill("#id_order_line_items-0-quantity", "3")
    page.fill("#id_order_line_items-0-unit_price", "20.00")
    step("a phone order")
    page.click('input[name="_continue"]')
    page.wait_for_selector("#ws-card")
    order = Order.objects.get()
    step("the order page")
    assert status_shown(page) == "Pending"
    assert card(page, "card_customer") == "Ada Lovelace"
    assert card(page, "total") == "USD 60.00" and card(page, "card_balance") == "USD 60.00"
    actions = page.locator("#ws-actions")
    for label in ("Hold", "Process", "Ship…", "Cancel order…", "Refund…"):
        assert actions.get_by_text(label, exact=True).count() == (0 if label == "Refund…" else 1), label
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    assert_in_words(page)

    page.click('#ws-actions button[value="hold"]')
    page.fill("#id_hold_reason", "address to confirm")
    page.click('input[type="submit"][value="Apply"]')
    page.wait_for_selector("ul.messagelist")
    step("held")
    assert status_shown(page) == "On hold"
    assert card(page, "card_hold") == "address to confirm"
    assert_in_words(page)
    page.click('#ws-actions button[value="release"]')
    page.wait_for_selector("ul.messagelist")
    step("released")
    assert status_shown(page) == "Pending"
    assert page.locator("#ws-card .ws-fact-card_hold").count() == 0  # the reason went with the hold
    assert Order.objects.get(pk=order.pk).hold_reason == ""
    assert "put it on hold" in page.inner_text("#ws-timeline") and "address to confirm" in page.inner_text(
        "#ws-timeline"
    )

    page.click("#ws-actions a.operation:text-is('Ship…')")
    page.fill("#id_tracking_number", "1Z999AA1")
    page.fill("#id_carrier", "UPS")
    step("ship asks for the tracking")
    page.click('input[type="submit"]')
    page.wait_for_selector("ul.messagelist")
    step("shipped")
    assert status_shown(page) == "Shipped"
    assert "UPS 1Z999AA1" in card(page, "card_shipment")
    assert page.locator('input[name="_save"]').count() == 0  # nothing on a shipped order can be edited
    assert page.locator("#ws-actions").get_by_text("Cancel order…").count() == 0
    assert level(a) == (7, 0, 0)

    page.click("#ws-actions a.operation:text-is('Refund…')")
    page.fill("#id_amount", "15.00")
    page.click('input[type="submit"]')
    page.wait_for_selector("ul.messagelist")
    step("refunded in part")
    assert status_shown(page) == "Shipped"
    assert card(page, "amount_refunded") == "USD 15.00" and card(page, "card_balance") == "USD 45.00"
    timeline = page.inner_text("#ws-timeline")
    assert "shipped it (Pending → Shipped)" in timeline and "refunded" in timeline
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    assert_in_words(page)


def test_a_cancelled_order_shows_no_save_and_names_why(page, step):
    stock()
    order = order_in("pending")
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, staff(superuser=True).username)
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    page.click("#ws-actions a.operation:text-is('Cancel order…')")
    page.fill("#id_reason", "customer called")
    step("cancel asks why")
    page.click('input[type="submit"]')
    page.wait_for_selector("ul.messagelist")
    step("cancelled")
    assert status_shown(page) == "Cancelled"
    assert card(page, "card_cancel") == "customer called"
    assert page.locator('input[name="_save"]').count() == 0
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    assert_in_words(page)


def test_print_the_packing_slip_of_a_shipped_order(page, step):
    stock()
    order = order_in("shipped")
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, staff(superuser=True).username)
    page.goto(f"/admin/orders/order/{order.pk}/change/")
    href = page.locator("#ws-actions a.paperwork", has_text="Packing slip").get_attribute("href")
    page.goto(href)
    step("the packing slip")
    sheet = page.locator("article.paper-packing_slip")
    assert sheet.count() == 1 and order.order_number in sheet.inner_text()
    assert "Packing slip" in sheet.inner_text()
    assert page.locator("table.lines tbody tr").count() == 2
    pdf = page.pdf()  # what "Save as PDF" gives: the print CSS lays it out on A4
    assert pdf.startswith(b"%PDF")


def test_receive_a_return_line_by_line(page, step):
    from tests.returns.support import make_return, shipped
    from tests.returns.support import stock as return_stock

    a, b = return_stock(10)
    order = shipped(("A", 2, "10.00"), ("B", 1, "5.00"))
    lines = list(order.order_line_items.order_by("pk"))
    ret = make_return(order, {lines[0]: 2, lines[1]: 1}, status="approved")
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, staff(superuser=True).username)
    page.goto(f"/admin/returns/return/{ret.pk}/change/")
    step("an approved return")
    assert status_shown(page) == "Approved"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    assert_in_words(page)
    page.click("#ws-actions a.operation:text-is('Receive…')")
    return_lines = list(ret.return_line_items.order_by("pk"))
    page.fill(f"#id_line_{return_lines[0].pk}_quantity_received", "2")
    page.select_option(f"#id_line_{return_lines[0].pk}_condition", "new")
    page.fill(f"#id_line_{return_lines[1].pk}_quantity_received", "1")
    page.select_option(f"#id_line_{return_lines[1].pk}_condition", "damaged")
    step("each line as it arrived")
    page.click('input[type="submit"]')
    page.wait_for_selector("ul.messagelist")
    step("received")
    assert status_shown(page) == "Received"
    assert "received" in page.inner_text("#ws-timeline").lower()
    assert_in_words(page)
    page.goto(f"/admin/inventory/inventoryitem/{a.pk}/change/")
    step("the new units are back on the shelf")
    assert on_hand_shown(page) == 8 + 2
    page.goto(f"/admin/inventory/inventoryitem/{b.pk}/change/")
    assert on_hand_shown(page) == 9  # the damaged one stays off the shelf


def test_receive_a_purchase_order_from_its_page_in_two_deliveries(page, step):
    item = make_item("MOTOR")
    po = make_purchase_order([(item, 5)], status="ordered")
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, staff(superuser=True).username)
    page.goto(f"/admin/inventory/purchaseorder/{po.pk}/change/")
    step("an ordered purchase order")
    assert status_shown(page) == "Ordered"
    assert page.locator("#ws-actions a.paperwork", has_text="Purchase order for the supplier").count() == 1
    line = po.lines.get()
    for quantity, status in (("3", "Partially received"), ("2", "Received")):
        page.click("#ws-actions a.operation:text-is('Receive…')")
        page.fill(f"#id_line_{line.pk}", quantity)
        page.click('input[type="submit"]')
        page.wait_for_selector("ul.messagelist")
        step(f"received {quantity}")
        assert status_shown(page) == status
        assert_in_words(page)
    assert page.locator("#ws-actions a.operation:text-is('Receive…')").count() == 0
    page.goto(f"/admin/inventory/inventoryitem/{item.pk}/change/")
    step("the item, stocked")
    assert on_hand_shown(page) == 5


def test_complete_a_work_order(page, step):
    from manufacturing import services as mfg
    from tests.factories import SYSTEM, make_bom, make_work_order

    bolt = make_item("BOLT", on_hand=100)
    fan = make_item("FAN")
    wo = make_work_order(make_bom(fan, [(bolt, 4)]), 3)
    mfg.work_order_release(work_order=wo, by=SYSTEM)
    mfg.work_order_start(work_order=wo, by=SYSTEM)
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, staff(superuser=True).username)
    page.goto(f"/admin/manufacturing/workorder/{wo.pk}/change/")
    step("a work order in progress")
    assert status_shown(page) == "In progress"
    assert_in_words(page)
    page.click("#ws-actions a.operation:text-is('Complete…')")
    page.fill("#id_quantity_completed", "3")
    page.click('input[type="submit"]')
    page.wait_for_selector("ul.messagelist")
    step("completed")
    assert status_shown(page) == "Completed"
    assert page.locator("#ws-actions a.operation:text-is('Complete…')").count() == 0
    assert card(page, "quantity_completed") == "3"
    assert_in_words(page)
    page.goto(f"/admin/inventory/inventoryitem/{fan.pk}/change/")
    assert on_hand_shown(page) == 3


def test_every_changelist_fits_1366_px_with_its_key_columns(page, step):
    """The demo data in every changelist, at 1366 × 768: no horizontal scroll, the table inside its box, and
    no raw status value."""
    from django.contrib import admin

    call_command("seed_demo", "--quiet", "--no-history", stdout=StringIO(), stderr=StringIO())
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, staff(superuser=True).username)
    wide = []
    for model in sorted(admin.site._registry, key=lambda m: m._meta.label):
        page.goto(f"/admin/{model._meta.app_label}/{model._meta.model_name}/")
        table, box = page.evaluate(
            "(() => { const t = document.querySelector('#result_list');"
            " const c = document.querySelector('#changelist .results');"
            " return t && c ? [t.scrollWidth, c.clientWidth] : [0, 0] })()"
        )
        if page.evaluate("document.documentElement.scrollWidth") > 1366 or table > box:
            wide.append((model._meta.label, table, box))
        if model._meta.label == "orders.Order":
            step("orders")
            assert_in_words(page)
    assert wide == []
