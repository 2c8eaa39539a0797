"""Lists cost a fixed number of queries; the admin runs the same services (actions, buttons, the BOM tree)."""

import itertools

import pytest
from django.contrib import messages
from django.contrib.admin.models import DELETION, LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_fsm_log.models import StateLog

from inventory.models import Allocation
from inventory.selectors import ledger_mismatches
from manufacturing import services as mfg
from manufacturing.models import BillOfMaterials, ManufactureOrder, WorkOrder
from tests.factories import SYSTEM, level, make_bom, make_item, make_user, make_work_order
from tests.helpers import assert_list_queries_constant

pytestmark = pytest.mark.django_db

_n = itertools.count(1)


def test_bom_lists_cost_a_fixed_number_of_queries(api, fan):
    part = make_item("LISTED")

    def make_one():
        return make_bom(part, [(fan.bolt, 1), (fan.panel, 2)], activate=False)

    assert_list_queries_constant(
        api, "/v1/bill_of_materials?part=LISTED&limit=100", "bill_of_materials", make_one, more=20
    )
    bom = BillOfMaterials.objects.filter(part=part).first()
    make_item("WASHER")
    assert_list_queries_constant(
        api,
        f"/v1/bill_of_materials_line_items?bill_of_materials={bom.pk}&part_number=WASHER&limit=100",
        "bill_of_materials_line_items",
        lambda: mfg.bom_line_create(by=SYSTEM, bill_of_materials_number=bom.number, part_number="WASHER", quantity=1),
        more=20,
    )


def test_work_order_lists_cost_a_fixed_number_of_queries(api, fan):
    assert_list_queries_constant(
        api, "/v1/work_orders?limit=100", "work_orders", lambda: make_work_order(fan.bom, 2, memo="x"), more=20
    )
    wo = WorkOrder.objects.first()
    assert_list_queries_constant(
        api,
        f"/v1/work_order_line_items?work_order={wo.pk}&part_number=PANEL&limit=100",
        "work_order_line_items",
        lambda: mfg.work_order_line_create(
            by=SYSTEM, work_order_number=wo.number, part_number="PANEL", unit_quantity=1
        ),
        more=20,
    )


def test_manufacture_order_lists_cost_a_fixed_number_of_queries(api, fan):
    def make_one():
        mo = mfg.manufacture_order_create(
            by=SYSTEM,
            manufacture_order_line_items=[
                {"bom_number": fan.bom.number, "quantity": 1},
                {"part_number": "HOUSING", "quantity": 2},
            ],
        )
        return mfg.manufacture_order_submit(manufacture_order=mo, by=SYSTEM)

    assert_list_queries_constant(api, "/v1/manufacture_orders?limit=100", "manufacture_orders", make_one, more=20)


def test_manufacture_order_line_lists_cost_a_fixed_number_of_queries(api, fan):
    mo = mfg.manufacture_order_create(by=SYSTEM)

    def make_one():
        return mfg.manufacture_order_line_create(
            by=SYSTEM, manufacture_order_number=mo.number, bom_number=fan.bom.number, quantity=1
        )

    assert_list_queries_constant(
        api, "/v1/manufacture_order_line_items?limit=100", "manufacture_order_line_items", make_one, more=20
    )


# ---- admin -------------------------------------------------------------------------------------------------


def test_release_through_the_admin_action(client, fan):
    planner = make_user(
        "manufacturing.view_workorder", "manufacturing.change_workorder", "manufacturing.release_workorder"
    )
    client.force_login(planner)
    ok = make_work_order(fan.housing_bom, 2)
    short = make_work_order(fan.bom, 9)  # 9 MOTOR wanted, 5 on hand; no HOUSING at all
    response = client.post(
        reverse("admin:manufacturing_workorder_changelist"),
        {"action": "release_work_orders", "_selected_action": [ok.pk, short.pk]},
        follow=True,
    )
    assert response.status_code == 200
    texts = [str(m) for m in response.context["messages"]]
    assert any("Released: 1 done." in t for t in texts), texts
    assert any(short.number in t and "insufficient" in t.lower() and "MOTOR" in t for t in texts), texts
    assert [WorkOrder.objects.get(pk=w.pk).status for w in (ok, short)] == ["released", "planned"]
    assert [level(fan.panel), level(fan.bolt), level(fan.motor)] == [(20, 4, 0), (100, 16, 0), (5, 0, 0)]
    log = StateLog.objects.for_(ok).get(transition="release")
    assert (log.transition, log.by, log.description) == ("release", planner, f"[{planner.username} in the admin]")
    assert ledger_mismatches() == []


def test_admin_actions_need_the_named_permission(client, fan):
    clerk = make_user(
        "manufacturing.view_workorder", "manufacturing.change_workorder", "manufacturing.release_workorder"
    )
    client.force_login(clerk)
    response = client.get(reverse("admin:manufacturing_workorder_changelist"))
    actions = {name for name, _ in response.context["action_form"].fields["action"].choices}
    assert actions == {"", "release_work_orders"}


def test_complete_start_and_cancel_actions(admin_client, fan):
    wo = make_work_order(fan.housing_bom, 2)
    other = make_work_order(fan.housing_bom, 1)
    url = reverse("admin:manufacturing_workorder_changelist")
    for action in ("release_work_orders", "start_work_orders", "complete_work_orders"):
        admin_client.post(url, {"action": action, "_selected_action": [wo.pk]})
    admin_client.post(url, {"action": "cancel_work_orders", "_selected_action": [other.pk]})
    wo.refresh_from_db()
    assert (wo.status, wo.quantity_completed) == ("completed", 2)
    assert WorkOrder.objects.get(pk=other.pk).status == "cancelled"
    assert level(fan.housing) == (2, 0, 0)
    assert ledger_mismatches() == []


def test_bom_page_shows_the_tree_and_its_buttons_run_the_service(admin_client, fan):
    response = admin_client.get(reverse("admin:manufacturing_billofmaterials_change", args=[fan.bom.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="bom-explosion"' in html
    for text in ("HOUSING", "PANEL", "MOTOR", fan.housing_bom.number, 'padding-left:1.5em">PANEL'):
        assert text in html
    buttons = {"obsolete", "revise"}  # the transitions allowed from active that need no input
    assert {b for b in ("activate", "obsolete", "revise", "buildtostock") if f'value="{b}"' in html} == buttons
    # the activate button asks for supersede first, then goes through the service: without supersede, a
    # second active BOM for the part is refused
    draft = make_bom(fan.product, [(fan.motor, 1)], activate=False)
    response = admin_client.post(
        reverse("admin:manufacturing_billofmaterials_change", args=[draft.pk]),
        {
            "number": draft.number,
            "name": "",
            "description": "",
            "groups": "",
            "valid": "on",
            "part": fan.product.pk,
            "line_items-TOTAL_FORMS": "0",
            "line_items-INITIAL_FORMS": "0",
            "django_fsm_log-statelog-content_type-object_id-TOTAL_FORMS": "0",
            "django_fsm_log-statelog-content_type-object_id-INITIAL_FORMS": "0",
            "_fsm_transition_to": "activate",
        },
        follow=True,
    )
    form_url = reverse("admin:manufacturing_billofmaterials_transition", args=[draft.pk, "activate"])
    assert response.redirect_chain == [(form_url, 302)]
    assert b'name="supersede"' in response.content
    response = admin_client.post(form_url, {"reason": ""})
    assert response.status_code == 200
    texts = [str(m) for m in response.context["messages"]]
    assert any("already has an active bill of materials" in t for t in texts), texts
    assert BillOfMaterials.objects.get(pk=draft.pk).status == "draft"


def test_build_to_stock_action_asks_the_quantity(admin_client, fan):
    url = reverse("admin:manufacturing_billofmaterials_changelist")
    form = admin_client.post(url, {"action": "build_to_stock", "_selected_action": [fan.housing_bom.pk]})
    assert form.status_code == 200
    assert b'name="quantity"' in form.content
    done = admin_client.post(
        url, {"action": "build_to_stock", "_selected_action": [fan.housing_bom.pk], "apply": "1", "quantity": "3"}
    )
    assert done.status_code == 302
    assert [level(fan.housing), level(fan.panel), level(fan.bolt)] == [(3, 0, 0), (14, 0, 0), (76, 0, 0)]
    assert ledger_mismatches() == []


def test_admin_creates_a_bom_with_lines_through_the_services(admin_client, fan):
    part = make_item("LAMP")
    response = admin_client.post(
        reverse("admin:manufacturing_billofmaterials_add"),
        {
            "number": "",
            "name": "Lamp",
            "description": "",
            "groups": "",
            "valid": "on",
            "part": part.pk,
            "line_items-TOTAL_FORMS": "2",
            "line_items-INITIAL_FORMS": "0",
            "line_items-0-item": fan.bolt.pk,
            "line_items-0-quantity": "3",
            "line_items-0-line_type": "Component",
            "line_items-0-purchase_supply_type": "Purchase",
            "line_items-0-status": "Active",
            "line_items-1-item": part.pk,
            "line_items-1-quantity": "1",
            "line_items-1-line_type": "Component",
            "line_items-1-purchase_supply_type": "Purchase",
            "line_items-1-status": "Active",
            "django_fsm_log-statelog-content_type-object_id-TOTAL_FORMS": "0",
            "django_fsm_log-statelog-content_type-object_id-INITIAL_FORMS": "0",
        },
    )
    # the second line makes LAMP need itself: the form shows the service's message, nothing is created
    assert response.status_code == 200
    assert "LAMP → LAMP" in response.content.decode()
    assert not BillOfMaterials.objects.filter(part=part).exists()


def test_manufacture_order_submit_action(admin_client, fan):
    mo = mfg.manufacture_order_create(by=SYSTEM, manufacture_order_line_items=[{"part_number": "FAN", "quantity": 1}])
    admin_client.post(
        reverse("admin:manufacturing_manufactureorder_changelist"),
        {"action": "submit_orders", "_selected_action": [mo.pk]},
    )
    assert ManufactureOrder.objects.get(pk=mo.pk).status == "submitted"
    assert WorkOrder.objects.filter(manufacture_order=mo).count() == 1
    page = admin_client.get(reverse("admin:manufacturing_manufactureorder_change", args=[mo.pk]))
    assert page.status_code == 200


def test_changelists_cost_a_fixed_number_of_queries(admin_client, fan):
    for name, make_one in (
        ("workorder", lambda: make_work_order(fan.bom, 1)),
        ("billofmaterials", lambda: make_bom(fan.product, [(fan.bolt, 1)], activate=False)),
        ("manufactureorder", lambda: mfg.manufacture_order_create(by=SYSTEM, yield_location="MAIN")),
    ):
        url = reverse(f"admin:manufacturing_{name}_changelist")
        make_one()
        admin_client.get(url)
        with CaptureQueriesContext(connection) as small:
            admin_client.get(url)
        for _ in range(15):
            make_one()
        with CaptureQueriesContext(connection) as large:
            admin_client.get(url)
        assert len(small) == len(large), name


def _error_messages(response) -> list[str]:
    return [m.message for m in response.context["messages"] if m.level == messages.ERROR]


def test_admin_refuses_to_delete_a_released_work_order_with_the_service_message(admin_client, fan):
    wo = make_work_order(fan.housing_bom, 2)
    mfg.work_order_release(work_order=wo, by=SYSTEM)
    url = reverse("admin:manufacturing_workorder_delete", args=[wo.pk])
    assert admin_client.get(url).status_code == 200  # the confirmation page

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert response.url == reverse("admin:manufacturing_workorder_change", args=[wo.pk])
    page = admin_client.get(response.url)
    assert page.status_code == 200
    assert _error_messages(page) == [
        f"Work order {wo.number} is released; only planned or cancelled ones can be deleted."
    ]
    assert WorkOrder.objects.get(pk=wo.pk).status == "released"
    assert wo.work_order_line_items.count() == 2
    assert [level(fan.panel), level(fan.bolt)] == [(20, 4, 0), (100, 16, 0)]
    assert Allocation.objects.filter(document_type="work_order", document_id=wo.pk, status="open").count() == 2
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()
    # a planned one is deleted as before
    planned = make_work_order(fan.housing_bom, 1)
    response = admin_client.post(
        reverse("admin:manufacturing_workorder_delete", args=[planned.pk]), {"post": "yes"}, follow=True
    )
    assert response.status_code == 200 and _error_messages(response) == []
    assert not WorkOrder.objects.filter(pk=planned.pk).exists()
    assert ledger_mismatches() == []


def test_admin_bulk_delete_is_all_or_nothing_and_shows_the_refusal(admin_client, fan):
    planned = make_work_order(fan.housing_bom, 1)
    released = make_work_order(fan.housing_bom, 2)
    mfg.work_order_release(work_order=released, by=SYSTEM)
    response = admin_client.post(
        reverse("admin:manufacturing_workorder_changelist"),
        {"action": "delete_selected", "_selected_action": [planned.pk, released.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert _error_messages(response) == [
        f"Work order {released.number} is released; only planned or cancelled ones can be deleted."
    ]
    texts = [m.message for m in response.context["messages"]]
    assert not any("Successfully deleted" in t for t in texts), texts
    # the planned one, deleted first, is back: the refusal rolled the whole action back, log entries too
    assert sorted(WorkOrder.objects.values_list("pk", "status")) == [(planned.pk, "planned"), (released.pk, "released")]
    assert [level(fan.panel), level(fan.bolt)] == [(20, 4, 0), (100, 16, 0)]
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()
    assert ledger_mismatches() == []


def test_admin_refused_save_shows_the_service_message_and_saves_nothing(admin_client, fan):
    quantity = 2**30  # 2 PANEL a housing: a line total past the integer column
    response = admin_client.post(
        reverse("admin:manufacturing_workorder_add"),
        {
            "number": "",
            "bill_of_materials": fan.housing_bom.pk,
            "quantity": str(quantity),
            "location": "",
            "work_order_line_items-TOTAL_FORMS": "0",
            "work_order_line_items-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    assert response.status_code == 200
    errors = _error_messages(response)
    assert len(errors) == 1 and errors[0].startswith(f"A work order line needs {2 * quantity} units"), errors
    assert not WorkOrder.objects.exists()
    assert not LogEntry.objects.exists()
