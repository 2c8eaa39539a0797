"""Work orders: lines copied from the BOM, and release → start → complete moving exactly the expected stock
through the ledger; refusals move nothing."""

import pytest
from django_fsm_log.models import StateLog

from inventory import services as inv
from inventory.models import Allocation, StockMovement
from inventory.selectors import ledger_mismatches
from manufacturing import services as mfg
from manufacturing.models import WorkOrder
from tests.factories import SYSTEM, api_client, level, make_bom, make_item, make_location, make_user, make_work_order
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

WO_KEYS = {
    "id",
    "object",
    "number",
    "site",
    "work_order_type",
    "location",
    "part",
    "order_number",
    "manufacture_order",
    "manufacture_order_number",
    "status",
    "created_by",
    "issue_date",
    "expected_completion_date",
    "priority",
    "memo",
    "bill_of_materials",
    "bill_of_materials_number",
    "quantity",
    "quantity_completed",
    "quantity_scrapped",
    "quantity_remaining",
    "held_from_status",
    "started_at",
    "completed_at",
    "work_order_line_items",
    "created_at",
    "updated_at",
}
LINE_KEYS = {
    "id",
    "object",
    "work_order",
    "work_order_number",
    "line_status",
    "line_type",
    "part_number",
    "part_name",
    "unit_quantity",
    "total_quantity",
    "created_at",
    "updated_at",
}


def housing_order(fan, quantity=3, **fields):
    """A work order for HOUSING (2 PANEL + 8 BOLT each): stock PANEL 20, BOLT 100."""
    return make_work_order(fan.housing_bom, quantity, **fields)


def ledger(wo):
    rows = StockMovement.objects.filter(source_type="work_order", source_id=wo.pk)
    return sorted(rows.values_list("item__sku", "reason", "quantity"))


def test_create_copies_the_bom_lines(fan):
    api = api_client(make_user(superuser=True, username="planner"))
    response = api.post(
        "/v1/work_orders",
        {"bill_of_materials_number": fan.bom.number, "quantity": 3, "memo": "rush", "issue_date": "2026-01-02"},
    )
    assert response.status_code == 201, response.json()
    wo = response.json()["work_order"]
    assert set(wo) == WO_KEYS
    assert (wo["object"], wo["status"], wo["part"], wo["location"], wo["bill_of_materials"], wo["quantity"]) == (
        "work_order",
        "planned",
        "FAN",
        "MAIN",
        fan.bom.pk,
        3,
    )
    assert (wo["number"], wo["created_by"], wo["issue_date"], wo["quantity_remaining"]) == (
        f"WO-{wo['id']:06d}",
        "planner",
        "2026-01-02",
        3,
    )
    lines = wo["work_order_line_items"]
    assert all(set(line) == LINE_KEYS for line in lines)
    assert [(li["part_number"], li["unit_quantity"], li["total_quantity"], li["line_status"]) for li in lines] == [
        ("HOUSING", 1, 3, "Planned"),
        ("MOTOR", 1, 3, "Planned"),
        ("BOLT", 4, 12, "Planned"),
    ]
    assert {li["work_order_number"] for li in lines} == {wo["number"]}


def test_create_refusals(api, fan):
    draft = mfg.bom_revise(bill_of_materials=fan.bom, by=SYSTEM)
    assert_error(
        api.post("/v1/work_orders", {"bill_of_materials": draft.pk, "quantity": 1}),
        422,
        "invalid_request_error",
        "bom_not_active",
    )
    assert_error(
        api.post("/v1/work_orders", {"bill_of_materials": fan.bom.pk, "quantity": 1, "part": "MOTOR"}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert_error(api.post("/v1/work_orders", {"quantity": 1}), 400, "invalid_request_error", "validation_error")
    assert_error(
        api.post("/v1/work_orders", {"bill_of_materials": fan.bom.pk, "quantity": 0}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert_error(
        api.post("/v1/work_orders", {"bill_of_materials": fan.bom.pk, "quantity": 1, "location": "NOWHERE"}),
        400,
        "invalid_request_error",
        "unknown_location",
    )
    assert WorkOrder.objects.count() == 0


def test_create_with_explicit_lines_and_no_bom(api, fan):
    response = api.post(
        "/v1/work_orders",
        {
            "part": "HOUSING",
            "quantity": 2,
            "work_order_line_items": [{"part_number": "PANEL", "unit_quantity": 3, "line_type": "Part"}],
        },
    )
    assert response.status_code == 201, response.json()
    wo = response.json()["work_order"]
    assert (wo["bill_of_materials"], wo["bill_of_materials_number"]) == (None, None)
    assert [(li["part_number"], li["total_quantity"], li["line_type"]) for li in wo["work_order_line_items"]] == [
        ("PANEL", 6, "Part")
    ]


def test_release_allocates_every_line(api, fan):
    wo = housing_order(fan, 3)
    response = api.post(f"/v1/work_orders/{wo.pk}/release", {"work_order_id": wo.pk})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["released"], body["success"], body["work_order"]["status"]) == (True, True, "released")
    assert {li["line_status"] for li in body["work_order"]["work_order_line_items"]} == {"Allocated"}
    assert [level(fan.panel), level(fan.bolt)] == [(20, 6, 0), (100, 24, 0)]
    assert sorted(Allocation.objects.filter(document_type="work_order").values_list("quantity", "status")) == [
        (6, "open"),
        (24, "open"),
    ]
    assert ledger(wo) == []
    assert ledger_mismatches() == []


def test_release_shortage_names_every_short_component_and_holds_nothing(api, fan):
    wo = make_work_order(fan.bom, 6)  # needs 6 HOUSING (0), 6 MOTOR (5), 24 BOLT (100)
    body = assert_error(
        api.post(f"/v1/work_orders/{wo.pk}/release"), 422, "invalid_request_error", "insufficient_stock"
    )
    assert set(body["errors"]) == {"HOUSING", "MOTOR"}
    assert "MOTOR at MAIN (requested 6, available 5)" in body["message"]
    wo.refresh_from_db()
    assert wo.status == "planned"
    assert [level(fan.housing), level(fan.motor), level(fan.bolt)] == [(0, 0, 0), (5, 0, 0), (100, 0, 0)]
    assert Allocation.objects.count() == 0
    assert list(StateLog.objects.for_(wo).values_list("transition", flat=True)) == ["create"]  # no release


def test_start_consumes_what_was_allocated(api, fan):
    wo = housing_order(fan, 3)
    mfg.work_order_release(work_order=wo, by=SYSTEM)
    response = api.post(f"/v1/work_orders/{wo.pk}/start")
    assert response.status_code == 200
    started = response.json()["work_order"]
    assert (started["status"], started["started_at"] is not None) == ("in_progress", True)
    assert {li["line_status"] for li in started["work_order_line_items"]} == {"Consumed"}
    assert [level(fan.panel), level(fan.bolt)] == [(14, 0, 0), (76, 0, 0)]
    assert ledger(wo) == [("BOLT", "production_consume", -24), ("PANEL", "production_consume", -6)]
    assert set(Allocation.objects.values_list("status", flat=True)) == {"consumed"}
    assert ledger_mismatches() == []


def test_partial_completions_accumulate_until_the_quantity_is_reached(api, fan):
    wo = housing_order(fan, 5)
    mfg.work_order_release(work_order=wo, by=SYSTEM)
    mfg.work_order_start(work_order=wo, by=SYSTEM)
    first = api.post(f"/v1/work_orders/{wo.pk}/complete", {"quantity_completed": 2})
    assert first.status_code == 200, first.json()
    assert (first.json()["completed"], first.json()["work_order"]["status"]) == (True, "in_progress")
    assert level(fan.housing) == (2, 0, 0)
    second = api.post(f"/v1/work_orders/{wo.pk}/complete", {"quantity_completed": "2", "quantity_scrapped": 1})
    done = second.json()["work_order"]
    assert (done["status"], done["quantity_completed"], done["quantity_scrapped"], done["quantity_remaining"]) == (
        "completed",
        4,
        1,
        0,
    )
    assert done["completed_at"] is not None
    assert level(fan.housing) == (4, 0, 0)
    assert ledger(wo) == [
        ("BOLT", "production_consume", -40),
        ("HOUSING", "production_output", 2),
        ("HOUSING", "production_output", 2),
        ("PANEL", "production_consume", -10),
    ]
    history = api.get(f"/v1/work_orders/{wo.pk}/history?order_direction=asc").json()["history"]
    assert [(h["transition"], h["source_state"], h["state"]) for h in history] == [
        ("create", "planned", "planned"),
        ("release", "planned", "released"),
        ("start", "released", "in_progress"),
        ("complete", "in_progress", "in_progress"),
        ("complete", "in_progress", "completed"),
    ]
    assert ledger_mismatches() == []


def test_over_completion_is_refused_and_changes_nothing(api, fan):
    wo = housing_order(fan, 3)
    mfg.work_order_release(work_order=wo, by=SYSTEM)
    mfg.work_order_start(work_order=wo, by=SYSTEM)
    mfg.work_order_complete(work_order=wo, quantity_completed=2, by=SYSTEM)
    moves = StockMovement.objects.count()
    body = assert_error(
        api.post(f"/v1/work_orders/{wo.pk}/complete", {"quantity_completed": 1, "quantity_scrapped": 1}),
        422,
        "invalid_request_error",
        "over_completion",
    )
    assert "1 of 3 left" in body["message"]
    assert_error(api.post(f"/v1/work_orders/{wo.pk}/complete"), 400, "invalid_request_error", "validation_error")
    assert_error(
        api.post(f"/v1/work_orders/{wo.pk}/complete", {"quantity_completed": 0}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    wo.refresh_from_db()
    assert (wo.status, wo.quantity_completed, wo.quantity_scrapped) == ("in_progress", 2, 0)
    assert level(fan.housing) == (2, 0, 0)
    assert StockMovement.objects.count() == moves


def test_output_goes_to_the_work_orders_location(fan):
    annex = make_location("ANNEX")
    for item, quantity in ((fan.panel, 4), (fan.bolt, 16)):
        inv.stock_receive(inventory_item=item, location=annex, quantity=quantity, source=inv.Source("seed"), by=SYSTEM)
    wo = housing_order(fan, 2, location="ANNEX")
    mfg.work_order_release(work_order=wo, by=SYSTEM)
    mfg.work_order_start(work_order=wo, by=SYSTEM)
    mfg.work_order_complete(work_order=wo, quantity_completed=2, by=SYSTEM)
    assert [level(x, annex) for x in (fan.panel, fan.bolt, fan.housing)] == [(0, 0, 0), (0, 0, 0), (2, 0, 0)]
    assert [level(x) for x in (fan.panel, fan.bolt, fan.housing)] == [(20, 0, 0), (100, 0, 0), (0, 0, 0)]
    assert ledger_mismatches() == []


def test_hold_and_resume_remember_the_status(api, fan):
    released = housing_order(fan, 1)
    mfg.work_order_release(work_order=released, by=SYSTEM)
    running = housing_order(fan, 1)
    mfg.work_order_release(work_order=running, by=SYSTEM)
    mfg.work_order_start(work_order=running, by=SYSTEM)
    for wo, status, line_status in ((released, "released", "Allocated"), (running, "in_progress", "Consumed")):
        held = api.post(f"/v1/work_orders/{wo.pk}/hold", {"reason": "tooling"}).json()
        assert (held["held"], held["work_order"]["status"], held["work_order"]["held_from_status"]) == (
            True,
            "on_hold",
            status,
        )
        assert {li["line_status"] for li in held["work_order"]["work_order_line_items"]} == {line_status}
        resumed = api.post(f"/v1/work_orders/{wo.pk}/resume").json()["work_order"]
        assert (resumed["status"], resumed["held_from_status"]) == (status, "")
    assert [level(fan.panel), level(fan.bolt)] == [(18, 2, 0), (92, 8, 0)]
    assert ledger_mismatches() == []


def test_cancel_releases_the_allocations(api, fan):
    wo = housing_order(fan, 3)
    mfg.work_order_release(work_order=wo, by=SYSTEM)
    response = api.post(f"/v1/work_orders/{wo.pk}/cancel", {"reason": "no longer needed"})
    assert (response.json()["cancelled"], response.json()["work_order"]["status"]) == (True, "cancelled")
    assert [level(fan.panel), level(fan.bolt)] == [(20, 0, 0), (100, 0, 0)]
    assert set(Allocation.objects.values_list("status", flat=True)) == {"released"}
    assert ledger(wo) == []
    assert ledger_mismatches() == []


def _work_order_in(fan, status):
    wo = housing_order(fan, 2)
    steps = {
        "planned": [],
        "released": ["release"],
        "in_progress": ["release", "start"],
        "on_hold": ["release", "hold"],
        "completed": ["release", "start", "complete"],
        "cancelled": ["cancel"],
    }[status]
    for step in steps:
        kwargs = {"quantity_completed": 2} if step == "complete" else {}
        getattr(mfg, f"work_order_{step}")(work_order=wo, by=SYSTEM, **kwargs)
    return wo


ALLOWED = {
    "planned": {"release", "cancel"},
    "released": {"start", "hold", "cancel"},
    "in_progress": {"complete", "hold"},
    "on_hold": {"resume"},
    "completed": set(),
    "cancelled": set(),
}


@pytest.mark.parametrize("status", list(ALLOWED))
@pytest.mark.parametrize("action", ["release", "start", "complete", "hold", "resume", "cancel"])
def test_work_order_transitions(api, fan, status, action):
    wo = _work_order_in(fan, status)
    levels = [level(fan.panel), level(fan.bolt), level(fan.housing)]
    moves = StockMovement.objects.count()
    body = {"quantity_completed": 1} if action == "complete" else {}
    response = api.post(f"/v1/work_orders/{wo.pk}/{action}", body)
    wo.refresh_from_db()
    if action in ALLOWED[status]:
        assert response.status_code == 200, response.json()
    else:
        error = assert_error(response, 422, "invalid_request_error", "invalid_state_transition")
        assert f"'{status}'" in error["message"]
        assert sorted(error["errors"]["allowed_actions"]) == sorted(ALLOWED[status])
        assert wo.status == status
        assert [level(fan.panel), level(fan.bolt), level(fan.housing)] == levels
        assert StockMovement.objects.count() == moves
    assert ledger_mismatches() == []


@pytest.mark.parametrize(
    ("action", "perm", "setup"),
    [
        ("release", "manufacturing.release_workorder", []),
        ("start", "manufacturing.start_workorder", ["release"]),
        ("complete", "manufacturing.complete_workorder", ["release", "start"]),
        ("cancel", "manufacturing.cancel_workorder", ["release"]),
    ],
)
def test_stock_moving_actions_need_their_named_permission(fan, action, perm, setup):
    wo = housing_order(fan, 1)
    for step in setup:
        getattr(mfg, f"work_order_{step}")(work_order=wo, by=SYSTEM)
    status = WorkOrder.objects.get(pk=wo.pk).status
    levels = [level(fan.panel), level(fan.bolt), level(fan.housing)]
    clerk = api_client(make_user("manufacturing.change_workorder", "manufacturing.view_workorder"))
    body = {"quantity_completed": 1} if action == "complete" else {}
    error = assert_error(
        clerk.post(f"/v1/work_orders/{wo.pk}/{action}", body), 403, "permission_error", "insufficient_permissions"
    )
    assert perm in error["message"]
    assert WorkOrder.objects.get(pk=wo.pk).status == status
    assert [level(fan.panel), level(fan.bolt), level(fan.housing)] == levels
    allowed = api_client(make_user("manufacturing.change_workorder", "manufacturing.view_workorder", perm))
    assert allowed.post(f"/v1/work_orders/{wo.pk}/{action}", body).status_code == 200


def test_the_plan_changes_only_while_planned(api, fan):
    wo = housing_order(fan, 2)
    updated = api.put(f"/v1/work_orders/{wo.pk}", {"work_order_id": wo.pk, "work_order": {"quantity": 4}}).json()
    assert [li["total_quantity"] for li in updated["work_order"]["work_order_line_items"]] == [8, 32]
    line = wo.work_order_line_items.first()
    patched = api.patch(f"/v1/work_order_line_items/{line.pk}", {"unit_quantity": 3}).json()
    assert patched["work_order_line_item"]["total_quantity"] == 12
    mfg.work_order_release(work_order=wo, by=SYSTEM)
    assert_error(
        api.patch(f"/v1/work_orders/{wo.pk}", {"quantity": 1}), 422, "invalid_request_error", "document_not_editable"
    )
    assert_error(
        api.patch(f"/v1/work_order_line_items/{line.pk}", {"unit_quantity": 1}),
        422,
        "invalid_request_error",
        "document_not_editable",
    )
    assert_error(
        api.post(
            "/v1/work_order_line_items", {"work_order_number": wo.number, "part_number": "BOLT", "unit_quantity": 1}
        ),
        422,
        "invalid_request_error",
        "document_not_editable",
    )
    assert api.patch(f"/v1/work_orders/{wo.pk}", {"memo": "still fine"}).json()["work_order"]["memo"] == "still fine"
    assert_error(api.delete(f"/v1/work_orders/{wo.pk}"), 422, "invalid_request_error", "document_not_editable")
    assert [level(fan.panel), level(fan.bolt)] == [(20, 12, 0), (100, 32, 0)]


def test_aliases_and_filters(api, fan):
    wo = housing_order(fan, 1)
    make_work_order(fan.bom, 1)
    assert api.post(f"/v1/work-orders/{wo.pk}/release").status_code == 200
    listed = api.get("/v1/work_order/list?status=released").json()["work_orders"]
    assert [w["number"] for w in listed] == [wo.number]
    assert api.get("/v1/work_orders?part=FAN").json()["total_count"] == 1
    assert api.get(f"/v1/work_orders?bill_of_materials={fan.housing_bom.pk}&location=MAIN").json()["total_count"] == 1
    assert api.get("/v1/work_orders/search?query=housing").json()["total_count"] == 1  # the part's SKU
    assert api.get(f"/v1/work_orders/search?query={wo.number}").json()["total_count"] == 1
    assert api.get("/v1/work-orders?status=planned,released").json()["total_count"] == 2


def test_work_order_line_items_resource(api, fan):
    make_item("EXTRA")
    wo = housing_order(fan, 2)
    created = api.post(
        "/v1/work_order_line_items", {"work_order_number": wo.number, "part_number": "EXTRA", "unit_quantity": 2}
    )
    assert created.status_code == 201, created.json()
    line = created.json()["work_order_line_item"]
    assert (line["work_order"], line["total_quantity"], line["line_status"]) == (wo.pk, 4, "Planned")
    assert_error(
        api.post(
            "/v1/work_order_line_items", {"work_order_number": wo.number, "part_number": "NOPE", "unit_quantity": 1}
        ),
        400,
        "invalid_request_error",
        "unknown_sku",
    )
    assert api.delete(f"/v1/work_order_line_items/{line['id']}").status_code == 200
    assert wo.work_order_line_items.count() == 2


@pytest.mark.parametrize("quantity", [10**30, 2**31, 1_000_001])
def test_quantities_beyond_the_bound_are_400(api, fan, quantity):
    # Unbounded quantities reached the database: OverflowError on SQLite, integer out of range on PostgreSQL.
    stool = make_bom(make_item("STOOL"), [(fan.bolt, 4)])
    wo = make_work_order(stool, 2)
    mfg.work_order_release(work_order=wo, by=SYSTEM)
    mfg.work_order_start(work_order=wo, by=SYSTEM)
    before = WorkOrder.objects.count(), StockMovement.objects.count(), list(WorkOrder.objects.values_list())
    for path, body in (
        ("/v1/work_orders", {"bill_of_materials": fan.bom.pk, "quantity": quantity}),
        (f"/v1/work_orders/{wo.pk}/complete", {"quantity_completed": quantity}),
        (f"/v1/bill_of_materials/{stool.pk}/buildtostock", {"quantity": quantity}),
        ("/v1/bill_of_materials", {"part": "FAN", "line_items": [{"part_number": "BOLT", "quantity": quantity}]}),
    ):
        assert_error(api.post(path, body, format="json"), 400, "invalid_request_error", "validation_error")
    assert (WorkOrder.objects.count(), StockMovement.objects.count(), list(WorkOrder.objects.values_list())) == before


def test_a_work_order_line_total_beyond_the_column_is_400(api, fan):
    # 1,000,000 bolts a unit for 1,000,000 units: each input is in bounds, the product (10**12) is not.
    from manufacturing.models import WorkOrderLineItem

    bom = make_bom(make_item("TOWER"), [(fan.bolt, 1_000_000)])
    count = WorkOrder.objects.count(), WorkOrderLineItem.objects.count()
    response = api.post("/v1/work_orders", {"bill_of_materials": bom.pk, "quantity": 1_000_000}, format="json")
    body = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert "quantity" in body["errors"]
    wo = make_work_order(bom, 1)
    response = api.patch(f"/v1/work_orders/{wo.pk}", {"quantity": 1_000_000}, format="json")
    assert_error(response, 400, "invalid_request_error", "validation_error")
    assert WorkOrderLineItem.objects.get(work_order=wo).total_quantity == 1_000_000
    assert (WorkOrder.objects.count(), WorkOrderLineItem.objects.count()) == (count[0] + 1, count[1] + 1)
