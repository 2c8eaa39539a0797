"""The admin gives what the API's actions take: a work order's partial complete with scrap and its cancel
with a reason (operations: a form on the document's page), a BOM's activate with supersede and the hold of a
work order or manufacture order with a reason (their buttons ask for it in a small form), a manufacture
order's cancel with a reason (an operation). Each runs the API's service: the same statuses, quantities,
stock, ledger rows and history rows; a refusal shows the service's message and changes nothing; the named
permission (or, where the action names none, the change permission) decides who sees and runs it."""

import pytest
from django.contrib import messages
from django.test import Client
from django.urls import reverse
from django_fsm_log.models import StateLog

from inventory.models import Allocation, StockMovement
from inventory.selectors import ledger_mismatches
from manufacturing import services as mfg
from manufacturing.errors import ActiveBomExists, OverCompletion
from manufacturing.models import BillOfMaterials, ManufactureOrder, WorkOrder
from stateset.actors import Actor
from stateset.errors import InvalidStateTransition, PermissionDenied, ValidationFailed
from tests.factories import SYSTEM, level, make_user, make_work_order
from tests.helpers import change_form_data, change_url, op_url

pytestmark = pytest.mark.django_db

WO_STAFF = ("manufacturing.view_workorder", "manufacturing.change_workorder")
BOM_STAFF = ("manufacturing.view_billofmaterials", "manufacturing.change_billofmaterials")
MO_STAFF = ("manufacturing.view_manufactureorder", "manufacturing.change_manufactureorder")


def staff(*perms: str):
    user = make_user(*perms)
    client = Client()
    client.force_login(user)
    return user, client


def form_url(obj, transition: str) -> str:
    """The small form a button opens."""
    return reverse(f"admin:manufacturing_{obj._meta.model_name}_transition", args=[obj.pk, transition])


def press(client, obj, transition: str):
    """Press a button on the object's page (the browser posts the change form back with it)."""
    data = change_form_data(client.get(change_url(obj)))
    return client.post(change_url(obj), {**data, "_fsm_transition_to": transition})


def texts(response, level=None) -> list[str]:
    return [m.message for m in response.context["messages"] if level is None or m.level == level]


def buttons(response) -> set[str]:
    html = response.content.decode()
    return {n for n in ("activate", "obsolete", "revise", "hold", "resume") if f'value="{n}"' in html}


def history(obj) -> list[tuple[str, str, str]]:
    """The history rows' (transition, from, to), oldest first."""
    return list(StateLog.objects.for_(obj).order_by("pk").values_list("transition", "source_state", "state"))


def rows(obj, transition: str) -> list[tuple[str, str, object, str]]:
    return list(
        StateLog.objects.for_(obj)
        .filter(transition=transition)
        .order_by("pk")
        .values_list("source_state", "state", "by", "description")
    )


def ledger(wo: WorkOrder) -> list[tuple[str, str, int]]:
    """The work order's ledger rows: (reason, SKU, quantity), oldest first."""
    movements = StockMovement.objects.filter(source_type="work_order", source_id=wo.pk).order_by("pk")
    return [(m.reason, m.item.sku, m.quantity) for m in movements.select_related("item")]


def started(bom, quantity: int) -> WorkOrder:
    wo = make_work_order(bom, quantity)
    mfg.work_order_release(work_order=wo, by=SYSTEM)
    return mfg.work_order_start(work_order=wo, by=SYSTEM)


def wo_state(wo: WorkOrder) -> tuple:
    wo = WorkOrder.objects.get(pk=wo.pk)
    return wo.status, wo.quantity_completed, wo.quantity_scrapped, wo.held_from_status


# ---- work order: complete… ---------------------------------------------------------------------------------


def test_complete_form_counts_good_and_scrapped_units_like_the_api(api, fan):
    user, client = staff(*WO_STAFF, "manufacturing.complete_workorder")
    wo, twin = started(fan.housing_bom, 5), started(fan.housing_bom, 5)  # 2 PANEL + 8 BOLT each, consumed
    assert [level(fan.housing), level(fan.panel), level(fan.bolt)] == [(0, 0, 0), (0, 0, 0), (20, 0, 0)]
    page = client.get(change_url(wo))
    assert op_url(wo, "complete") in page.content.decode()
    form = client.get(op_url(wo, "complete"))
    assert form.status_code == 200
    assert 'name="quantity_completed" value="5"' in form.content.decode()  # what remains, to start with

    response = client.post(
        op_url(wo, "complete"),
        {"quantity_completed": "2", "quantity_scrapped": "1", "reason": "first shift"},
        follow=True,
    )
    assert texts(response) == [
        f"Counted 2 completed and 1 scrapped on {wo.number}: 2 completed and 1 scrapped of 5, in progress."
    ]
    assert wo_state(wo) == ("in_progress", 2, 1, "")
    assert level(fan.housing) == (2, 0, 0)
    # the rest, scrapped left empty (the API's default: 0)
    response = client.post(
        op_url(wo, "complete"), {"quantity_completed": "2", "quantity_scrapped": "", "reason": ""}, follow=True
    )
    assert texts(response, messages.SUCCESS) == [
        f"Counted 2 completed and 0 scrapped on {wo.number}: 4 completed and 1 scrapped of 5, completed."
    ]
    assert wo_state(wo) == ("completed", 4, 1, "")
    assert WorkOrder.objects.get(pk=wo.pk).completed_at is not None
    assert level(fan.housing) == (4, 0, 0)
    assert ledger(wo)[-2:] == [("production_output", "HOUSING", 2), ("production_output", "HOUSING", 2)]
    assert rows(wo, "complete") == [
        ("in_progress", "in_progress", user.pk, f"[{user.username} in the admin] first shift; completed 2, scrapped 1"),
        ("in_progress", "completed", user.pk, f"[{user.username} in the admin] completed 2, scrapped 0"),
    ]
    assert op_url(wo, "complete") not in client.get(change_url(wo)).content.decode()  # completed: no more

    # the API, given the same, does the same
    for body in ({"quantity_completed": 2, "quantity_scrapped": 1, "reason": "first shift"}, {"quantity_completed": 2}):
        assert api.post(f"/v1/work_orders/{twin.pk}/complete", body).status_code == 200
    assert wo_state(twin) == wo_state(wo)
    assert ledger(twin) == ledger(wo)
    assert history(twin) == history(wo)
    assert level(fan.housing) == (8, 0, 0)
    assert ledger_mismatches() == []


def test_complete_form_shows_the_services_refusal_and_changes_nothing(fan):
    user, client = staff(*WO_STAFF, "manufacturing.complete_workorder")
    wo = started(fan.housing_bom, 2)
    before = (history(wo), ledger(wo), level(fan.housing), level(fan.panel), level(fan.bolt))
    for data, error in (
        ({"quantity_completed": "2", "quantity_scrapped": "1"}, OverCompletion),
        ({"quantity_completed": "0", "quantity_scrapped": "0"}, ValidationFailed),
    ):
        with pytest.raises(error) as refused:  # what the service says to the same request (and nothing moves)
            mfg.work_order_complete(
                work_order=wo,
                by=SYSTEM,
                quantity_completed=int(data["quantity_completed"]),
                quantity_scrapped=int(data["quantity_scrapped"]),
            )
        response = client.post(op_url(wo, "complete"), {**data, "reason": "x"})
        assert response.status_code == 200  # the form again
        assert texts(response, messages.ERROR) == [refused.value.message]
        assert response.context["form"].data["quantity_completed"] == data["quantity_completed"]
    # a form error never reaches the service
    response = client.post(op_url(wo, "complete"), {"quantity_completed": "-1"})
    assert response.status_code == 200 and "quantity_completed" in response.context["form"].errors
    assert wo_state(wo) == ("in_progress", 0, 0, "")
    assert (history(wo), ledger(wo), level(fan.housing), level(fan.panel), level(fan.bolt)) == before
    assert ledger_mismatches() == []


def test_complete_form_needs_the_complete_permission_and_an_order_in_progress(admin_client, fan):
    wo = started(fan.housing_bom, 2)
    before = history(wo), ledger(wo), level(fan.housing)
    _, clerk = staff(*WO_STAFF, "manufacturing.release_workorder", "manufacturing.start_workorder")
    assert op_url(wo, "complete") not in clerk.get(change_url(wo)).content.decode()
    response = clerk.post(op_url(wo, "complete"), {"quantity_completed": "2"}, follow=True)
    assert texts(response, messages.ERROR) == ["Complete needs the permission manufacturing.complete_workorder."]
    _, viewer = staff("manufacturing.view_workorder", "manufacturing.complete_workorder")
    assert op_url(wo, "complete") not in viewer.get(change_url(wo)).content.decode()
    response = viewer.post(op_url(wo, "complete"), {"quantity_completed": "2"}, follow=True)
    assert texts(response, messages.ERROR) == ["You may not change this work order."]
    assert wo_state(wo) == ("in_progress", 0, 0, "")
    assert (history(wo), ledger(wo), level(fan.housing)) == before
    # offered while in progress only (the contract's "from"), whoever asks
    released = make_work_order(fan.housing_bom, 1)
    mfg.work_order_release(work_order=released, by=SYSTEM)
    assert op_url(released, "complete") not in admin_client.get(change_url(released)).content.decode()
    response = admin_client.post(op_url(released, "complete"), {"quantity_completed": "1"}, follow=True)
    assert texts(response, messages.ERROR) == [f"Complete is not possible on {released.number} while it is released."]
    assert wo_state(released) == ("released", 0, 0, "")
    assert ledger_mismatches() == []


# ---- work order: hold… and cancel… -------------------------------------------------------------------------


def test_work_order_hold_button_asks_the_reason_and_runs_the_service_like_the_api(api, fan):
    user, client = staff(*WO_STAFF)
    wo, twin = make_work_order(fan.housing_bom, 2), make_work_order(fan.housing_bom, 2)
    for w in (wo, twin):
        mfg.work_order_release(work_order=w, by=SYSTEM)
    stock = [level(fan.panel), level(fan.bolt)]
    assert stock == [(20, 8, 0), (100, 32, 0)]
    assert buttons(client.get(change_url(wo))) == {"hold"}
    pressed = press(client, wo, "hold")
    assert (pressed.status_code, pressed.url) == (302, form_url(wo, "hold"))  # the form first, nothing yet
    assert wo_state(wo) == ("released", 0, 0, "")
    form = client.get(form_url(wo, "hold")).content.decode()
    assert 'name="reason"' in form and "Stock stays as it is (allocated or consumed)" in form

    response = client.post(form_url(wo, "hold"), {"reason": "waiting for QA"}, follow=True)
    assert response.redirect_chain[-1][0] == change_url(wo)
    assert texts(response) == ["Hold: done."]
    assert wo_state(wo) == ("on_hold", 0, 0, "released")
    assert rows(wo, "hold") == [("released", "on_hold", user.pk, f"[{user.username} in the admin] waiting for QA")]
    assert [level(fan.panel), level(fan.bolt)] == stock  # stock stays allocated
    assert buttons(client.get(change_url(wo))) == {"resume"}

    assert api.post(f"/v1/work_orders/{twin.pk}/hold", {"reason": "waiting for QA"}).status_code == 200
    assert wo_state(twin) == wo_state(wo)
    assert history(twin) == history(wo)
    assert ledger_mismatches() == []


def test_work_order_hold_form_shows_the_services_refusal_and_needs_the_change_permission(fan):
    _, client = staff(*WO_STAFF)
    planned = make_work_order(fan.housing_bom, 1)  # hold is from released or in progress
    before = history(planned)
    assert buttons(client.get(change_url(planned))) == set()
    with pytest.raises(InvalidStateTransition) as refused:
        mfg.work_order_hold(work_order=planned, by=SYSTEM)
    response = client.post(form_url(planned, "hold"), {"reason": "no"})
    assert response.status_code == 200  # the form again
    assert texts(response, messages.ERROR) == [refused.value.message]
    assert (wo_state(planned), history(planned)) == (("planned", 0, 0, ""), before)
    # hold names no permission: changing the work order is what it takes
    _, viewer = staff("manufacturing.view_workorder")
    released = make_work_order(fan.housing_bom, 1)
    mfg.work_order_release(work_order=released, by=SYSTEM)
    before = history(released)
    assert buttons(viewer.get(change_url(released))) == set()
    assert viewer.get(form_url(released, "hold")).status_code == 403
    assert viewer.post(form_url(released, "hold"), {"reason": "no"}).status_code == 403
    assert wo_state(released) == ("released", 0, 0, "")
    assert history(released) == before
    assert [level(fan.panel), level(fan.bolt)] == [(20, 2, 0), (100, 8, 0)]


def test_work_order_cancel_form_releases_the_allocations_like_the_api(api, fan):
    user, client = staff(*WO_STAFF, "manufacturing.cancel_workorder")
    wo, twin = make_work_order(fan.housing_bom, 2), make_work_order(fan.housing_bom, 2)
    for w in (wo, twin):
        mfg.work_order_release(work_order=w, by=SYSTEM)
    response = client.post(op_url(wo, "cancel"), {"reason": "customer cancelled"}, follow=True)
    assert texts(response) == [f"{wo.number} is cancelled; its allocations are released."]
    assert wo_state(wo) == ("cancelled", 0, 0, "")
    assert rows(wo, "cancel") == [
        ("released", "cancelled", user.pk, f"[{user.username} in the admin] customer cancelled")
    ]
    assert [level(fan.panel), level(fan.bolt)] == [(20, 4, 0), (100, 16, 0)]  # the twin's only
    assert not Allocation.objects.filter(document_type="work_order", document_id=wo.pk, status="open").exists()
    assert api.post(f"/v1/work_orders/{twin.pk}/cancel", {"reason": "customer cancelled"}).status_code == 200
    assert (wo_state(twin), history(twin)) == (wo_state(wo), history(wo))
    assert [level(fan.panel), level(fan.bolt)] == [(20, 0, 0), (100, 0, 0)]
    assert ledger_mismatches() == []


def test_work_order_cancel_form_needs_the_cancel_permission(admin_client, fan):
    wo = make_work_order(fan.housing_bom, 2)
    mfg.work_order_release(work_order=wo, by=SYSTEM)
    before = history(wo)
    _, clerk = staff(*WO_STAFF, "manufacturing.release_workorder")
    assert op_url(wo, "cancel") not in clerk.get(change_url(wo)).content.decode()
    response = clerk.post(op_url(wo, "cancel"), {"reason": "x"}, follow=True)
    assert texts(response, messages.ERROR) == ["Cancel needs the permission manufacturing.cancel_workorder."]
    assert wo_state(wo) == ("released", 0, 0, "")
    assert [level(fan.panel), level(fan.bolt)] == [(20, 4, 0), (100, 16, 0)]
    assert history(wo) == before
    # not once it has started (the contract: planned or released)
    running = started(fan.housing_bom, 1)
    assert op_url(running, "cancel") not in admin_client.get(change_url(running)).content.decode()
    response = admin_client.post(op_url(running, "cancel"), {}, follow=True)
    assert texts(response, messages.ERROR) == [f"Cancel is not possible on {running.number} while it is in progress."]
    assert wo_state(running) == ("in_progress", 0, 0, "")


# ---- bill of materials: activate… with supersede -----------------------------------------------------------


def test_activate_button_asks_supersede_and_supersedes_the_active_revision_like_the_api(api, fan):
    user, client = staff(*BOM_STAFF)
    revision = mfg.bom_revise(bill_of_materials=fan.bom, by=SYSTEM)  # FAN rev 2, a draft
    twin = mfg.bom_revise(bill_of_materials=fan.housing_bom, by=SYSTEM)  # HOUSING rev 2, for the API
    assert buttons(client.get(change_url(revision))) == {"activate", "obsolete"}
    pressed = press(client, revision, "activate")
    assert (pressed.status_code, pressed.url) == (302, form_url(revision, "activate"))
    form = client.get(form_url(revision, "activate")).content.decode()
    assert 'name="supersede"' in form and "Tick Supersede to obsolete the part" in form

    # without supersede: the service's refusal on the form, and nothing changes
    before = history(revision), history(fan.bom)
    with pytest.raises(ActiveBomExists) as refused:
        mfg.bom_activate(bill_of_materials=revision, by=SYSTEM)
    response = client.post(form_url(revision, "activate"), {"reason": "ECO-7"})
    assert response.status_code == 200
    assert texts(response, messages.ERROR) == [refused.value.message]
    assert [BillOfMaterials.objects.get(pk=b.pk).status for b in (fan.bom, revision)] == ["active", "draft"]
    assert (history(revision), history(fan.bom)) == before

    response = client.post(form_url(revision, "activate"), {"supersede": "on", "reason": "ECO-7"}, follow=True)
    assert response.redirect_chain[-1][0] == change_url(revision)
    assert texts(response) == ["Activate: done."]
    assert [BillOfMaterials.objects.get(pk=b.pk).status for b in (fan.bom, revision)] == ["obsolete", "active"]
    assert rows(revision, "activate") == [("draft", "active", user.pk, f"[{user.username} in the admin] ECO-7")]
    assert rows(fan.bom, "obsolete") == [
        ("active", "obsolete", user.pk, f"[{user.username} in the admin] superseded by {revision.number}")
    ]
    # work is planned from the new revision now
    assert make_work_order(BillOfMaterials.objects.get(pk=revision.pk), 1).bill_of_materials_id == revision.pk

    response = api.post(f"/v1/bill_of_materials/{twin.pk}/activate", {"supersede": True, "reason": "ECO-7"})
    assert response.status_code == 200
    assert [BillOfMaterials.objects.get(pk=b.pk).status for b in (fan.housing_bom, twin)] == ["obsolete", "active"]
    assert (history(twin), history(fan.housing_bom)) == (history(revision), history(fan.bom))
    assert ledger_mismatches() == []


def test_activate_form_is_for_drafts_and_staff_who_may_change_the_bom(admin_client, fan):
    draft = mfg.bom_revise(bill_of_materials=fan.bom, by=SYSTEM)
    before = history(draft), history(fan.bom)
    _, viewer = staff("manufacturing.view_billofmaterials")
    assert buttons(viewer.get(change_url(draft))) == set()
    assert viewer.get(form_url(draft, "activate")).status_code == 403
    assert viewer.post(form_url(draft, "activate"), {"supersede": "on"}).status_code == 403
    assert [BillOfMaterials.objects.get(pk=b.pk).status for b in (fan.bom, draft)] == ["active", "draft"]
    assert (history(draft), history(fan.bom)) == before
    # an active BOM has no activate button, and its form refuses with the service's message
    assert buttons(admin_client.get(change_url(fan.bom))) == {"obsolete", "revise"}
    with pytest.raises(InvalidStateTransition) as refused:
        mfg.bom_activate(bill_of_materials=fan.bom, by=SYSTEM, supersede=True)
    response = admin_client.post(form_url(fan.bom, "activate"), {"supersede": "on"})
    assert texts(response, messages.ERROR) == [refused.value.message]
    assert [BillOfMaterials.objects.get(pk=b.pk).status for b in (fan.bom, draft)] == ["active", "draft"]
    assert (history(draft), history(fan.bom)) == before


# ---- manufacture order: hold… and cancel… ------------------------------------------------------------------


def submitted(fan) -> tuple[ManufactureOrder, WorkOrder]:
    """A submitted order for 2 HOUSING, its work order released (4 PANEL and 16 BOLT allocated)."""
    mo = mfg.manufacture_order_create(
        by=SYSTEM, manufacture_order_line_items=[{"part_number": "HOUSING", "quantity": 2}]
    )
    mfg.manufacture_order_submit(manufacture_order=mo, by=SYSTEM)
    wo = WorkOrder.objects.get(manufacture_order=mo)
    mfg.work_order_release(work_order=wo, by=SYSTEM)
    return ManufactureOrder.objects.get(pk=mo.pk), wo


def mo_state(mo: ManufactureOrder) -> tuple[str, str]:
    mo = ManufactureOrder.objects.get(pk=mo.pk)
    return mo.status, mo.held_from_status


def test_manufacture_order_hold_and_cancel_forms_run_the_services_like_the_api(api, fan):
    user, client = staff(*MO_STAFF, "manufacturing.cancel_workorder")
    (mo, wo), (twin, twin_wo) = submitted(fan), submitted(fan)
    page = client.get(change_url(mo))
    assert op_url(mo, "cancel") in page.content.decode()
    assert buttons(page) == {"hold"}
    assert press(client, mo, "hold").url == form_url(mo, "hold")

    response = client.post(form_url(mo, "hold"), {"reason": "line down"}, follow=True)
    assert texts(response) == ["Hold: done."]
    assert mo_state(mo) == ("on_hold", "submitted")
    assert wo_state(wo) == ("released", 0, 0, "")
    assert rows(mo, "hold") == [("submitted", "on_hold", user.pk, f"[{user.username} in the admin] line down")]
    assert buttons(client.get(change_url(mo))) == {"resume"}

    response = client.post(op_url(mo, "cancel"), {"reason": "no demand"}, follow=True)
    assert texts(response) == [f"{mo.number} is cancelled, with its work orders that had not started."]
    assert mo_state(mo) == ("cancelled", "")
    assert wo_state(wo) == ("cancelled", 0, 0, "")
    assert rows(mo, "cancel") == [
        ("on_hold", "cancelled", user.pk, f"[{user.username} in the admin] no demand; cancelled {wo.number}")
    ]
    assert rows(wo, "cancel") == [
        ("released", "cancelled", user.pk, f"[{user.username} in the admin] manufacture order {mo.number} cancelled")
    ]
    assert [level(fan.panel), level(fan.bolt)] == [(20, 4, 0), (100, 16, 0)]  # the twin's only

    assert api.post(f"/v1/manufacture_orders/{twin.pk}/hold", {"reason": "line down"}).status_code == 200
    assert api.post(f"/v1/manufacture_orders/{twin.pk}/cancel", {"reason": "no demand"}).status_code == 200
    assert (mo_state(twin), wo_state(twin_wo)) == (mo_state(mo), wo_state(wo))
    assert (history(twin), history(twin_wo)) == (history(mo), history(wo))
    assert [level(fan.panel), level(fan.bolt)] == [(20, 0, 0), (100, 0, 0)]
    assert ledger_mismatches() == []


def test_manufacture_order_cancel_form_shows_the_services_refusal_and_changes_nothing(fan):
    # cancelling the order cancels its released work order, which needs manufacturing.cancel_workorder
    user, client = staff(*MO_STAFF)
    mo, wo = submitted(fan)
    before = history(mo), history(wo), level(fan.panel), level(fan.bolt)
    assert op_url(mo, "cancel") in client.get(change_url(mo)).content.decode()
    with pytest.raises(PermissionDenied) as refused:
        mfg.manufacture_order_cancel(manufacture_order=mo, by=Actor(user=user, channel="admin"))
    response = client.post(op_url(mo, "cancel"), {"reason": "no demand"})
    assert response.status_code == 200
    assert texts(response, messages.ERROR) == [refused.value.message]
    assert "manufacturing.cancel_workorder" in refused.value.message
    assert (mo_state(mo), wo_state(wo)) == (("submitted", ""), ("released", 0, 0, ""))
    assert (history(mo), history(wo), level(fan.panel), level(fan.bolt)) == before
    assert Allocation.objects.filter(document_type="work_order", document_id=wo.pk, status="open").count() == 2
    # a view-only user sees neither form and is refused both
    _, viewer = staff("manufacturing.view_manufactureorder", "manufacturing.cancel_workorder")
    page = viewer.get(change_url(mo))
    assert op_url(mo, "cancel") not in page.content.decode() and buttons(page) == set()
    response = viewer.post(op_url(mo, "cancel"), {"reason": "x"}, follow=True)
    assert texts(response, messages.ERROR) == ["You may not change this manufacture order."]
    assert viewer.post(form_url(mo, "hold"), {"reason": "x"}).status_code == 403
    assert (mo_state(mo), wo_state(wo)) == (("submitted", ""), ("released", 0, 0, ""))
    assert (history(mo), history(wo), level(fan.panel), level(fan.bolt)) == before
    assert ledger_mismatches() == []
