"""Manufacture orders: submit creates one work order per line, linked both ways; the order's status follows
its work orders; hold, resume and cancel."""

import pytest
from django_fsm_log.models import StateLog

from inventory.models import Allocation
from inventory.selectors import ledger_mismatches
from manufacturing import services as mfg
from manufacturing.models import ManufactureOrder, WorkOrder
from stateset.actors import Actor
from stateset.errors import PermissionDenied
from tests.factories import SYSTEM, level, make_location, make_user
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

MO_KEYS = {
    "id",
    "object",
    "number",
    "memo",
    "priority",
    "site",
    "yield_location",
    "created_on",
    "expected_completion_date",
    "issued_on",
    "status",
    "held_from_status",
    "manufacture_order_line_items",
    "created_at",
    "updated_at",
}
LINE_KEYS = {
    "id",
    "object",
    "manufacture_order",
    "manufacture_order_number",
    "bill_of_materials",
    "bom_number",
    "bom_name",
    "part_number",
    "part_name",
    "quantity",
    "expected_date",
    "line_status",
    "line_type",
    "output_type",
    "priority",
    "site",
    "yield_location",
    "work_order",
    "work_order_number",
    "created_at",
    "updated_at",
}


def make_order(fan, housing=2, fans=1, **fields):
    return mfg.manufacture_order_create(
        by=SYSTEM,
        manufacture_order_line_items=[
            {"bom_number": fan.housing_bom.number, "quantity": housing},
            {"part_number": "FAN", "quantity": fans},
        ],
        **fields,
    )


def work_orders(mo):
    return list(WorkOrder.objects.filter(manufacture_order=mo).order_by("pk"))


def status(mo):
    return ManufactureOrder.objects.get(pk=mo.pk).status


def test_create_with_documented_fields(api, fan):
    make_location("LINE-2")
    body = {
        "memo": "spring batch",
        "priority": "High",
        "site": "Plant 1",
        "yield_location": "LINE-2",
        "expected_completion_date": "2026-03-01",
        "manufacture_order_line_items": [
            {"bom_number": fan.housing_bom.number, "quantity": 4, "line_type": "Manufacture", "output_type": "Product"},
            {"part_number": "FAN", "quantity": 2, "priority": "High", "expected_date": "2026-02-20"},
        ],
    }
    response = api.post("/v1/manufacture_orders", body)
    assert response.status_code == 201, response.json()
    mo = response.json()["manufacture_order"]
    assert set(mo) == MO_KEYS
    assert (mo["object"], mo["status"], mo["number"], mo["yield_location"], mo["issued_on"]) == (
        "manufacture_order",
        "draft",
        f"MO-{mo['id']:06d}",
        "LINE-2",
        None,
    )
    lines = mo["manufacture_order_line_items"]
    assert all(set(line) == LINE_KEYS for line in lines)
    assert [
        (
            li["bom_number"],
            li["bom_name"],
            li["part_number"],
            li["quantity"],
            li["line_status"],
            li["work_order_number"],
        )
        for li in lines
    ] == [
        (fan.housing_bom.number, "Housing", "HOUSING", 4, "Draft", None),
        (fan.bom.number, "Fan", "FAN", 2, "Draft", None),
    ]


def test_lines_need_an_active_bom(api, fan):
    assert_error(
        api.post("/v1/manufacture_orders", {"manufacture_order_line_items": [{"part_number": "BOLT", "quantity": 1}]}),
        422,
        "invalid_request_error",
        "bom_not_active",
    )
    assert_error(
        api.post(
            "/v1/manufacture_orders",
            {"manufacture_order_line_items": [{"bom_number": fan.bom.number, "part_number": "HOUSING", "quantity": 1}]},
        ),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert ManufactureOrder.objects.count() == 0


def test_submit_creates_one_linked_work_order_per_line(api, fan):
    annex = make_location("ANNEX")
    mo = make_order(fan, housing=3, fans=2, yield_location="ANNEX", site="Plant 1", priority="High")
    response = api.post(f"/v1/manufacture_orders/{mo.pk}/submit", {"manufacture_order_id": mo.pk})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["submitted"], body["success"], body["manufacture_order"]["status"]) == (True, True, "submitted")
    assert body["manufacture_order"]["issued_on"] is not None
    created = body["work_orders"]
    assert [(w["part"], w["quantity"], w["status"], w["location"], w["manufacture_order"]) for w in created] == [
        ("HOUSING", 3, "planned", "ANNEX", mo.pk),
        ("FAN", 2, "planned", "ANNEX", mo.pk),
    ]
    assert {w["manufacture_order_number"] for w in created} == {mo.number}
    lines = body["manufacture_order"]["manufacture_order_line_items"]
    assert [(li["work_order"], li["work_order_number"], li["line_status"]) for li in lines] == [
        (w["id"], w["number"], "Planned") for w in created
    ]
    assert [li["total_quantity"] for li in created[0]["work_order_line_items"]] == [6, 24]
    assert level(fan.panel, annex) == (0, 0, 0)  # nothing allocated by submit
    assert Allocation.objects.count() == 0
    assert_error(
        api.post(f"/v1/manufacture_orders/{mo.pk}/submit"), 422, "invalid_request_error", "invalid_state_transition"
    )
    assert len(work_orders(mo)) == 2


def test_submit_refuses_an_empty_order_and_lines_are_fixed_after_submit(api, fan):
    empty = mfg.manufacture_order_create(by=SYSTEM)
    assert_error(
        api.post(f"/v1/manufacture_orders/{empty.pk}/submit"), 422, "invalid_request_error", "manufacture_order_empty"
    )
    assert status(empty) == "draft"
    added = api.post(
        "/v1/manufacture_order_line_items",
        {"manufacture_order_number": empty.number, "bill_of_materials": fan.housing_bom.pk, "quantity": 1},
    )
    assert added.status_code == 201, added.json()
    assert api.post(f"/v1/manufacture_orders/{empty.pk}/submit").status_code == 200
    line_id = added.json()["manufacture_order_line_item"]["id"]
    assert_error(
        api.patch(f"/v1/manufacture_order_line_items/{line_id}", {"quantity": 5}),
        422,
        "invalid_request_error",
        "document_not_editable",
    )
    assert_error(
        api.delete(f"/v1/manufacture_orders/{empty.pk}"), 422, "invalid_request_error", "document_not_editable"
    )


def test_status_follows_the_work_orders(api, fan):
    mo = make_order(fan, housing=2, fans=1)
    mfg.manufacture_order_submit(manufacture_order=mo, by=SYSTEM)
    housing_wo, fan_wo = work_orders(mo)
    mfg.work_order_release(work_order=housing_wo, by=SYSTEM)
    assert status(mo) == "submitted"
    mfg.work_order_start(work_order=housing_wo, by=SYSTEM)
    assert status(mo) == "in_production"
    mfg.work_order_complete(work_order=housing_wo, quantity_completed=1, by=SYSTEM)
    assert status(mo) == "in_production"
    mfg.work_order_complete(work_order=housing_wo, quantity_completed=1, by=SYSTEM)
    assert status(mo) == "in_production"  # the fan is still to make
    api.post(f"/v1/work_orders/{fan_wo.pk}/release")
    api.post(f"/v1/work_orders/{fan_wo.pk}/start")
    response = api.post(f"/v1/work_orders/{fan_wo.pk}/complete", {"quantity_completed": 1})
    assert response.status_code == 200
    assert status(mo) == "completed"
    lines = api.get(f"/v1/manufacture_orders/{mo.pk}").json()["manufacture_order"]["manufacture_order_line_items"]
    assert [li["line_status"] for li in lines] == ["Completed", "Completed"]
    history = StateLog.objects.for_(ManufactureOrder.objects.get(pk=mo.pk)).order_by("pk")
    assert list(history.values_list("transition", "source_state", "state")) == [
        ("create", "draft", "draft"),
        ("submit", "draft", "submitted"),
        ("sync_status", "submitted", "in_production"),
        ("sync_status", "in_production", "completed"),
    ]
    assert ledger_mismatches() == []


def test_completed_once_the_rest_is_cancelled_and_cancelled_when_all_are(fan):
    mo = make_order(fan, housing=1, fans=1)
    mfg.manufacture_order_submit(manufacture_order=mo, by=SYSTEM)
    housing_wo, fan_wo = work_orders(mo)
    mfg.work_order_release(work_order=housing_wo, by=SYSTEM)
    mfg.work_order_start(work_order=housing_wo, by=SYSTEM)
    mfg.work_order_complete(work_order=housing_wo, quantity_completed=1, by=SYSTEM)
    assert status(mo) == "in_production"
    mfg.work_order_cancel(work_order=fan_wo, by=SYSTEM)
    assert status(mo) == "completed"

    other = make_order(fan, housing=1, fans=1)
    mfg.manufacture_order_submit(manufacture_order=other, by=SYSTEM)
    first, second = work_orders(other)
    mfg.work_order_cancel(work_order=first, by=SYSTEM)
    assert status(other) == "submitted"
    mfg.work_order_cancel(work_order=second, by=SYSTEM)
    assert status(other) == "cancelled"
    assert ledger_mismatches() == []


def test_hold_resume_and_progress_while_held(api, fan):
    mo = make_order(fan, housing=1, fans=1)
    mfg.manufacture_order_submit(manufacture_order=mo, by=SYSTEM)
    housing_wo, _ = work_orders(mo)
    held = api.post(f"/v1/manufacture_orders/{mo.pk}/hold", {"reason": "capacity"}).json()
    assert (held["held"], held["manufacture_order"]["status"], held["manufacture_order"]["held_from_status"]) == (
        True,
        "on_hold",
        "submitted",
    )
    # its work orders run on their own; the order resumes to where they brought it
    mfg.work_order_release(work_order=housing_wo, by=SYSTEM)
    mfg.work_order_start(work_order=housing_wo, by=SYSTEM)
    mo.refresh_from_db()
    assert (mo.status, mo.held_from_status) == ("on_hold", "in_production")
    resumed = api.post(f"/v1/manufacture_orders/{mo.pk}/resume").json()["manufacture_order"]
    assert (resumed["status"], resumed["held_from_status"]) == ("in_production", "")
    assert_error(
        api.post(f"/v1/manufacture_orders/{mo.pk}/resume"), 422, "invalid_request_error", "invalid_state_transition"
    )
    assert ledger_mismatches() == []


def test_cancel_cancels_the_work_orders_not_started_and_leaves_started_ones_running(api, fan):
    mo = mfg.manufacture_order_create(
        by=SYSTEM,
        manufacture_order_line_items=[
            {"bom_number": fan.housing_bom.number, "quantity": 1},
            {"bom_number": fan.housing_bom.number, "quantity": 2},
            {"bom_number": fan.housing_bom.number, "quantity": 3},
        ],
    )
    mfg.manufacture_order_submit(manufacture_order=mo, by=SYSTEM)
    planned, released, running = work_orders(mo)
    mfg.work_order_release(work_order=released, by=SYSTEM)
    mfg.work_order_release(work_order=running, by=SYSTEM)
    mfg.work_order_start(work_order=running, by=SYSTEM)
    assert [level(fan.panel), level(fan.bolt)] == [(14, 4, 0), (76, 16, 0)]
    response = api.post(f"/v1/manufacture_orders/{mo.pk}/cancel", {"reason": "order withdrawn"})
    assert response.status_code == 200, response.json()
    assert response.json()["manufacture_order"]["status"] == "cancelled"
    assert [WorkOrder.objects.get(pk=w.pk).status for w in (planned, released, running)] == [
        "cancelled",
        "cancelled",
        "in_progress",
    ]
    assert [level(fan.panel), level(fan.bolt)] == [(14, 0, 0), (76, 0, 0)]
    # the started one finishes on its own; the cancelled order stays cancelled
    mfg.work_order_complete(work_order=running, quantity_completed=3, by=SYSTEM)
    assert status(mo) == "cancelled"
    assert level(fan.housing) == (3, 0, 0)
    assert ledger_mismatches() == []


@pytest.mark.parametrize(
    ("start", "action", "allowed"),
    [
        ("draft", "submit", True),
        ("draft", "hold", False),
        ("draft", "resume", False),
        ("draft", "cancel", True),
        ("submitted", "submit", False),
        ("submitted", "hold", True),
        ("submitted", "resume", False),
        ("submitted", "cancel", True),
        ("in_production", "hold", True),
        ("in_production", "cancel", True),
        ("in_production", "submit", False),
        ("on_hold", "resume", True),
        ("on_hold", "hold", False),
        ("on_hold", "cancel", True),
        ("completed", "hold", False),
        ("completed", "cancel", False),
        ("cancelled", "resume", False),
        ("cancelled", "submit", False),
    ],
)
def test_manufacture_order_transitions(api, fan, start, action, allowed):
    mo = make_order(fan, housing=1, fans=1)
    if start != "draft":
        mfg.manufacture_order_submit(manufacture_order=mo, by=SYSTEM)
        housing_wo, fan_wo = work_orders(mo)
    if start in ("in_production", "completed"):
        mfg.work_order_release(work_order=housing_wo, by=SYSTEM)
        mfg.work_order_start(work_order=housing_wo, by=SYSTEM)
    if start == "completed":
        mfg.work_order_complete(work_order=housing_wo, quantity_completed=1, by=SYSTEM)
        mfg.work_order_cancel(work_order=fan_wo, by=SYSTEM)
    if start == "on_hold":
        mfg.manufacture_order_hold(manufacture_order=mo, by=SYSTEM)
    if start == "cancelled":
        mfg.manufacture_order_cancel(manufacture_order=mo, by=SYSTEM)
    assert status(mo) == start
    response = api.post(f"/v1/manufacture_orders/{mo.pk}/{action}")
    if allowed:
        assert response.status_code == 200, response.json()
    else:
        assert_error(response, 422, "invalid_request_error", "invalid_state_transition")
        assert status(mo) == start
    assert ledger_mismatches() == []


def test_list_alias_and_filters(api, fan):
    mo = make_order(fan)
    make_order(fan)
    mfg.manufacture_order_submit(manufacture_order=mo, by=SYSTEM)
    listed = api.get("/v1/manufacture_orders/list?status=submitted").json()["manufacture_orders"]
    assert [m["number"] for m in listed] == [mo.number]
    assert api.get(f"/v1/manufacture_orders/search?query={mo.number}").json()["total_count"] == 1
    assert api.get(f"/v1/work_orders?manufacture_order={mo.pk}").json()["total_count"] == 2
    lines = api.get(f"/v1/manufacture_order_line_items?manufacture_order={mo.pk}").json()
    assert lines["total_count"] == 2


def test_cancel_also_cancels_work_orders_held_before_they_started(api, fan):
    """A work order put on hold from released never started: the order's cancel resumes and cancels it in the
    same transaction, releasing what it held. One held from in_progress has started and is left on hold."""
    mo = mfg.manufacture_order_create(
        by=SYSTEM,
        manufacture_order_line_items=[
            {"bom_number": fan.housing_bom.number, "quantity": 2},
            {"bom_number": fan.housing_bom.number, "quantity": 1},
        ],
    )
    mfg.manufacture_order_submit(manufacture_order=mo, by=SYSTEM)
    held, started = work_orders(mo)
    for wo in (held, started):
        mfg.work_order_release(work_order=wo, by=SYSTEM)
    mfg.work_order_start(work_order=started, by=SYSTEM)
    for wo in (held, started):
        mfg.work_order_hold(work_order=wo, by=SYSTEM)
    held.refresh_from_db()
    assert (held.status, held.held_from_status, held.started_at) == ("on_hold", "released", None)
    # the held one holds 4 PANEL and 16 BOLT; the started one consumed 2 PANEL and 8 BOLT
    assert [level(fan.panel), level(fan.bolt)] == [(18, 4, 0), (92, 16, 0)]

    response = api.post(f"/v1/manufacture_orders/{mo.pk}/cancel", {"reason": "order withdrawn"})

    assert response.status_code == 200, response.json()
    assert status(mo) == "cancelled"
    held.refresh_from_db()
    assert (held.status, held.held_from_status) == ("cancelled", "")
    assert [level(fan.panel), level(fan.bolt)] == [(18, 0, 0), (92, 0, 0)]
    assert not Allocation.objects.filter(document_type="work_order", document_id=held.pk, status="open").exists()
    history = list(StateLog.objects.for_(held).order_by("pk").values_list("transition", "source_state", "state"))
    assert history[-2:] == [("resume", "on_hold", "released"), ("cancel", "released", "cancelled")]
    assert f"manufacture order {mo.number} cancelled" in StateLog.objects.for_(held).order_by("pk").last().description
    mo_log = StateLog.objects.for_(ManufactureOrder.objects.get(pk=mo.pk)).order_by("pk").last()
    assert (mo_log.transition, mo_log.state) == ("cancel", "cancelled")
    assert held.number in mo_log.description
    # the started one is left as it was: on hold from in_progress, its components consumed
    started.refresh_from_db()
    assert (started.status, started.held_from_status) == ("on_hold", "in_progress")
    assert started.started_at is not None
    assert StateLog.objects.for_(started).order_by("pk").last().transition == "hold"
    assert ledger_mismatches() == []


def test_cancel_of_an_order_with_a_held_work_order_is_all_or_nothing(fan):
    """Without `manufacturing.cancel_workorder` the order's cancel is refused and the held work order stays
    on hold, still holding its components (the resume is rolled back with the rest)."""
    mo = mfg.manufacture_order_create(
        by=SYSTEM, manufacture_order_line_items=[{"bom_number": fan.housing_bom.number, "quantity": 2}]
    )
    mfg.manufacture_order_submit(manufacture_order=mo, by=SYSTEM)
    (housing_wo,) = work_orders(mo)
    mfg.work_order_release(work_order=housing_wo, by=SYSTEM)
    mfg.work_order_hold(work_order=housing_wo, by=SYSTEM)
    logs_before = StateLog.objects.count()
    clerk = make_user("manufacturing.change_manufactureorder")
    with pytest.raises(PermissionDenied):
        mfg.manufacture_order_cancel(manufacture_order=mo, by=Actor(user=clerk, channel="api"))
    assert status(mo) == "submitted"
    housing_wo.refresh_from_db()
    assert (housing_wo.status, housing_wo.held_from_status) == ("on_hold", "released")
    assert [level(fan.panel), level(fan.bolt)] == [(20, 4, 0), (100, 16, 0)]
    assert StateLog.objects.count() == logs_before
    assert ledger_mismatches() == []
