"""setup_roles and the five roles: idempotent groups with exactly the table's permissions, and a member of
each role can do its job and is refused the others' (API 403, admin refusal), with nothing changed."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from backoffice import roles
from crm.models import Customer
from inventory.models import PurchaseOrder
from orders.models import Order
from tests.backoffice.support import action_names, buttons, logged_in, staff_of
from tests.factories import api_client, level, make_bom, make_item, make_lead, make_purchase_order
from tests.helpers import messages_of
from tests.orders.support import order_in, stock

pytestmark = pytest.mark.django_db


def perms_of(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def run_setup_roles() -> str:
    out = StringIO()
    call_command("setup_roles", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_setup_roles_creates_the_groups_with_exactly_the_tables_permissions():
    output = run_setup_roles()
    assert set(Group.objects.values_list("name", flat=True)) == set(roles.ROLE_NAMES)
    for name in roles.ROLES:
        expected = {f"{app}.{codename}" for app, codename in roles.role_permissions(name)}
        assert perms_of(Group.objects.get(name=name)) == expected, name
        assert f"{name}: created" in output
    assert perms_of(Group.objects.get(name="warehouse")) >= {"orders.ship_order", "inventory.receive_purchaseorder"}


def test_every_permission_of_the_table_exists():
    existing = {(p.content_type.app_label, p.codename) for p in Permission.objects.select_related("content_type")}
    for name in roles.ROLES:
        assert set(roles.role_permissions(name)) <= existing, name


def test_read_only_holds_every_view_permission_and_nothing_else():
    run_setup_roles()
    held = perms_of(Group.objects.get(name=roles.READ_ONLY))
    assert held and all(p.split(".")[1].startswith("view_") for p in held)
    assert {"orders.view_order", "crm.view_customer", "returns.view_return", "manufacturing.view_workorder"} <= held
    assert not any(p.startswith(("auth.", "stateset.")) for p in held)


def test_setup_roles_is_idempotent_and_resets_each_group():
    run_setup_roles()
    before = {g.name: perms_of(g) for g in Group.objects.all()}
    warehouse = Group.objects.get(name="warehouse")
    warehouse.permissions.add(Permission.objects.get(codename="refund_order"))
    warehouse.permissions.remove(Permission.objects.get(codename="ship_order"))
    output = run_setup_roles()
    assert "warehouse: reset, " in output and "(+1 -1)" in output
    assert {g.name: perms_of(g) for g in Group.objects.all()} == before
    assert "(+0 -0)" in run_setup_roles().split("\n")[0]


# ---- each role at work: the API ----------------------------------------------------------------------------


def _ship():
    stock()
    order = order_in("pending")
    return f"/v1/orders/{order.pk}/ship", {}, lambda: Order.objects.get(pk=order.pk).status


def _cancel():
    stock()
    order = order_in("pending")
    return f"/v1/orders/{order.pk}/cancel", {}, lambda: Order.objects.get(pk=order.pk).status


def _refund():
    stock()
    order = order_in("shipped")
    return f"/v1/orders/{order.pk}/refund", {"amount": "1.00"}, lambda: Order.objects.get(pk=order.pk).amount_refunded


def _receive_po():
    po = make_purchase_order([(make_item("PO-A"), 4)], status="ordered")
    return f"/v1/purchase_orders/{po.pk}/receive", {}, lambda: PurchaseOrder.objects.get(pk=po.pk).status


def _approve_po():
    po = make_purchase_order([(make_item("PO-B"), 4)], status="submitted")
    return f"/v1/purchase_orders/{po.pk}/approve", {}, lambda: PurchaseOrder.objects.get(pk=po.pk).status


def _convert_lead():
    lead = make_lead("accepted")
    return f"/v1/leads/{lead.pk}/convert", {}, lambda: type(lead).objects.get(pk=lead.pk).status


def _build_to_stock():
    part = make_item("STOOL")
    bom = make_bom(part, [(make_item("LEG", on_hand=10), 3)])
    return f"/v1/bill_of_materials/{bom.pk}/buildtostock", {"quantity": 1}, lambda: level(part)


def _adjust():
    item = make_item("ADJ", on_hand=5)
    return f"/v1/inventory_items/{item.pk}/adjust", {"quantity": 2, "reason": "found"}, lambda: level(item)


def _create_customer():
    return "/v1/customers", {"email": "new.customer@example.com"}, lambda: Customer.objects.count()


JOBS = {
    "ship an order": (_ship, "warehouse"),
    "cancel an order": (_cancel, "customer service"),
    "refund an order": (_refund, "finance"),
    "receive a purchase order": (_receive_po, "warehouse"),
    "approve a purchase order": (_approve_po, "finance"),
    "convert a lead": (_convert_lead, "customer service"),
    "build to stock": (_build_to_stock, "manufacturing"),
    "adjust stock": (_adjust, "warehouse"),
    "create a customer": (_create_customer, "customer service"),
}


@pytest.mark.parametrize("role", roles.ROLE_NAMES)
@pytest.mark.parametrize("job", JOBS)
def test_each_role_does_its_job_through_the_api_and_is_refused_the_others(role, job):
    run_setup_roles()
    prepare, allowed_role = JOBS[job]
    url, body, state = prepare()
    before = state()
    response = api_client(staff_of(role)).post(url, body, format="json")
    if role == allowed_role:
        assert response.status_code in (200, 201), response.content
        assert state() != before
    else:
        assert response.status_code == 403, response.content
        assert response.json()["type"] == "permission_error"
        assert state() == before


def test_read_only_reads_everything_through_the_api():
    run_setup_roles()
    stock()
    order_in("pending")
    client = api_client(staff_of(roles.READ_ONLY))
    for url in ("/v1/orders", "/v1/customers", "/v1/inventory_items", "/v1/work_orders", "/v1/returns", "/v1/cases"):
        assert client.get(url).status_code == 200, url


# ---- each role at work: the admin --------------------------------------------------------------------------


def run_action(client, model_path: str, action: str, objs):
    return client.post(
        f"/admin/{model_path}/", {"action": action, "_selected_action": [o.pk for o in objs]}, follow=True
    )


def test_warehouse_ships_in_the_admin_and_customer_service_is_refused():
    run_setup_roles()
    a, _ = stock(10)
    first, second = order_in("pending"), order_in("pending")
    agent = logged_in(staff_of("customer service"))
    response = run_action(agent, "orders/order", "ship_orders", [first])
    assert any("orders.ship_order" in m for m in messages_of(response))
    assert Order.objects.get(pk=first.pk).status == "pending"
    warehouse = logged_in(staff_of("warehouse"))
    response = run_action(warehouse, "orders/order", "ship_orders", [first, second])
    assert "Shipped: 2 done." in messages_of(response)
    assert level(a) == (6, 0, 0)
    response = run_action(warehouse, "orders/order", "cancel_orders", [order_in("pending")])
    assert any("orders.cancel_order" in m for m in messages_of(response))


def test_manufacturing_sees_build_to_stock_and_warehouse_does_not():
    run_setup_roles()
    make_bom(make_item("P1"), [(make_item("C1", on_hand=5), 1)])
    assert "build_to_stock" in action_names(
        logged_in(staff_of("manufacturing")).get("/admin/manufacturing/billofmaterials/")
    )
    page = logged_in(staff_of("warehouse")).get("/admin/manufacturing/billofmaterials/")
    assert page.status_code == 403  # not even a view permission there


CHANGELISTS = [
    "orders/order",
    "orders/wholesaleorder",
    "orders/promotion",
    "crm/customer",
    "crm/lead",
    "crm/case",
    "inventory/inventoryitem",
    "inventory/purchaseorder",
    "inventory/packinglist",
    "inventory/packinglistitem",
    "inventory/cyclecount",
    "inventory/location",
    "manufacturing/billofmaterials",
    "manufacturing/workorder",
    "manufacturing/manufactureorder",
    "returns/return",
    "returns/warranty",
]


def test_read_only_sees_no_buttons_and_no_actions_and_cannot_change_anything():
    run_setup_roles()
    stock()
    order = order_in("pending")
    po = make_purchase_order([(make_item("RO-1"), 2)], status="submitted")
    lead = make_lead("new")
    viewer = logged_in(staff_of(roles.READ_ONLY))
    for path in CHANGELISTS:
        page = viewer.get(f"/admin/{path}/")
        assert page.status_code == 200, path
        assert action_names(page) == set(), path
        assert b"addlink" not in page.content and b"import_link" not in page.content, path
        assert b"export_link" in page.content, path  # reading includes taking the rows away as a file
    for obj in (order, po, lead):
        url = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"
        page = viewer.get(url)
        assert page.status_code == 200
        assert buttons(page) == set(), url
        assert b'name="_save"' not in page.content and b'class="operation"' not in page.content
        assert viewer.post(url, {"_fsm_transition_to": "process"}).status_code == 403
    assert viewer.get("/admin/orders/order/add/").status_code == 403
    assert viewer.get(f"/admin/orders/order/{order.pk}/transition/hold/").status_code == 403
    assert viewer.post(f"/admin/orders/order/{order.pk}/operation/split/", {}).status_code == 302
    assert viewer.get("/admin/crm/customer/import/").status_code == 403
    response = run_action(viewer, "orders/order", "ship_orders", [order])
    assert Order.objects.get(pk=order.pk).status == "pending"
    assert response.status_code == 200 and not any("done" in m for m in messages_of(response))
    assert (PurchaseOrder.objects.get(pk=po.pk).status, type(lead).objects.get(pk=lead.pk).status) == (
        "submitted",
        "new",
    )
