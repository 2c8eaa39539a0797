"""Cycle counts: snapshot at start, counts, variances and accuracy at complete, one posting per variance at
reconcile on the current on hand, exactly once; the single-part form; discrepancies; refusals change nothing."""

import pytest
from django_fsm_log.models import StateLog

from inventory import selectors
from inventory import services as inv
from inventory.models import CycleCount, StockMovement
from inventory.services import counting
from tests.factories import SYSTEM, api_client, level, make_cycle_count, make_item, make_location, make_user
from tests.helpers import assert_error, assert_list_queries_constant
from tests.inventory.support import stock_snapshot

pytestmark = pytest.mark.django_db


def status_of(cc):
    return CycleCount.objects.get(pk=cc.pk).status


def post(api, cc, name, body=None):
    return api.post(f"/v1/cycle_counts/{cc.pk}/{name}", body or {})


# ---- create --------------------------------------------------------------------------------------------


def test_create_with_lines_defaults_to_open_and_its_location(api):
    east = make_location("EAST")
    make_item("A")
    make_item("B")
    response = api.post(
        "/v1/cycle_counts",
        {
            "location": "EAST",
            "method": "ABC",
            "assigned_user": "sam",
            "scheduled_start_date": "2026-04-01",
            "cycle_count_line_items": [{"part": "A", "bin": "A-1"}, {"part": "B", "location": "MAIN"}],
        },
    )
    assert response.status_code == 201, response.json()
    cc = response.json()["cycle_count"]
    assert (cc["status"], cc["cycle_count_number"], cc["location"], cc["part"]) == (
        "open",
        f"CC-{cc['id']:06d}",
        east.code,
        None,
    )
    assert [(x["part"], x["location"], x["bin"], x["status"]) for x in cc["cycle_count_line_items"]] == [
        ("A", "EAST", "A-1", "pending"),
        ("B", "MAIN", "", "pending"),
    ]


def test_the_single_part_form_is_a_one_line_count(api):
    make_item("A", on_hand=10, unit_cost="3.00")
    response = api.post("/v1/cycle_counts", {"part": "A", "quantity_expected": 99, "quantity_counted": 8})
    cc = response.json()["cycle_count"]
    assert (cc["part"], cc["quantity_counted"], len(cc["cycle_count_line_items"])) == ("A", 8, 1)
    assert cc["cycle_count_line_items"][0]["status"] == "counted"
    started = post(api, CycleCount(pk=cc["id"]), "start").json()["cycle_count"]
    # the snapshot replaces the client's expectation
    assert (started["quantity_expected"], started["variance_quantity"], started["variance_cost"]) == (10, -2, "-6.00")
    assert_error(
        api.post("/v1/cycle_counts", {"part": "A", "cycle_count_line_items": [{"part": "A"}]}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert_error(api.post("/v1/cycle_counts", {"part": "NOPE"}), 400, "invalid_request_error", "unknown_sku")


@pytest.mark.parametrize("field", ["status", "variance_quantity", "variance_cost", "accuracy_rate", "completed_date"])
def test_server_owned_fields_are_400(api, field):
    make_item("A")
    body = assert_error(
        api.post("/v1/cycle_counts", {"part": "A", field: "1"}), 400, "invalid_request_error", "read_only_field"
    )
    assert field in body["errors"]
    assert CycleCount.objects.count() == 0


def test_one_line_per_part_and_location(api):
    make_item("A")
    assert_error(
        api.post("/v1/cycle_counts", {"cycle_count_line_items": [{"part": "A"}, {"part": "A", "bin": "2"}]}),
        400,
        "invalid_request_error",
        "validation_error",
    )


# ---- the flow ----------------------------------------------------------------------------------------------


def test_full_flow_posts_each_variance_once(api):
    a = make_item("A", on_hand=10, unit_cost="2.50")
    b = make_item("B", on_hand=5, unit_cost="4.00")
    c = make_item("C", on_hand=7)
    cc = make_cycle_count([a, b, c])
    started = post(api, cc, "start").json()
    assert started["started"] is True
    assert [x["quantity_expected"] for x in started["cycle_count"]["cycle_count_line_items"]] == [10, 5, 7]

    lines = {x.item.sku: x.pk for x in cc.lines.select_related("item")}
    response = post(
        api,
        cc,
        "count",
        {
            "lines": [
                {"sku": "A", "quantity_counted": 8, "explanation": "2 damaged in the rack"},
                {"line_id": lines["B"], "quantity_counted": "5"},
                {"sku": "C", "quantity_counted": 9},
            ]
        },
    )
    assert response.json()["counted"] is True
    assert response.json()["cycle_count"]["status"] == "in_progress"
    post(api, cc, "count", {"lines": [{"sku": "C", "quantity_counted": 8}]})  # a recount overwrites

    completed = post(api, cc, "complete").json()["cycle_count"]
    assert completed["status"] == "counted"
    assert completed["accuracy_rate"] == "33.33"  # one line of three without variance
    assert completed["completed_date"] is not None
    rows = {x["part"]: x for x in completed["cycle_count_line_items"]}
    assert (rows["A"]["variance_quantity"], rows["A"]["variance_cost"]) == (-2, "-5.00")
    assert (rows["B"]["variance_quantity"], rows["B"]["variance_cost"]) == (0, "0.00")
    assert (rows["C"]["variance_quantity"], rows["C"]["variance_cost"]) == (1, "0.00")
    assert StockMovement.objects.filter(reason="cycle_count").count() == 0  # nothing posted before reconcile

    discrepancies = api.get(f"/v1/cycle_counts/{cc.pk}/discrepancies").json()
    assert [x["part"] for x in discrepancies["discrepancies"]] == ["A", "C"]
    assert (discrepancies["total_count"], discrepancies["variance_quantity"], discrepancies["variance_cost"]) == (
        2,
        -1,
        "-5.00",
    )

    reconciled = post(api, cc, "reconcile").json()
    assert reconciled["reconciled"] is True
    assert (level(a), level(b), level(c)) == ((8, 0, 0), (5, 0, 0), (8, 0, 0))
    movements = StockMovement.objects.filter(reason="cycle_count").order_by("item__sku")
    assert [(m.item.sku, m.quantity, m.source_id, m.note) for m in movements] == [
        ("A", -2, cc.pk, "2 damaged in the rack"),
        ("C", 1, cc.pk, ""),
    ]
    assert [x["status"] for x in reconciled["cycle_count"]["cycle_count_line_items"]] == [
        "adjusted",
        "counted",
        "adjusted",
    ]
    assert selectors.ledger_mismatches() == []


def test_reconcile_applies_the_variance_to_the_current_on_hand_and_posts_once(api):
    item = make_item(on_hand=10)
    cc = make_cycle_count([item], start=True)  # snapshot: 10
    counting.cycle_count_count(cycle_count=cc, lines=[{"sku": item.sku, "quantity_counted": 7}], by=SYSTEM)
    counting.cycle_count_complete(cycle_count=cc, by=SYSTEM)
    # stock moves after the snapshot: 5 more arrive, 2 are adjusted away
    inv.stock_receive(
        inventory_item=item, location=inv.default_location(), quantity=5, source=inv.Source("test"), by=SYSTEM
    )
    inv.stock_adjust(inventory_item=item, quantity=-2, by=SYSTEM)
    assert level(item) == (13, 0, 0)
    assert post(api, cc, "reconcile").status_code == 200
    assert level(item) == (10, 0, 0)  # 13 + (7 − 10): the later movements are kept
    assert StockMovement.objects.get(reason="cycle_count").quantity == -3

    before, logs = stock_snapshot(), StateLog.objects.count()
    body = assert_error(post(api, cc, "reconcile"), 422, "invalid_request_error", "invalid_state_transition")
    assert "'reconciled'" in body["message"]
    assert (stock_snapshot(), StateLog.objects.count()) == (before, logs)
    assert selectors.ledger_mismatches() == []


def test_reconcile_refused_below_allocated_posts_nothing(api):
    a, b = make_item(on_hand=10), make_item(on_hand=10)
    cc = make_cycle_count([a, b], start=True)
    counting.cycle_count_count(
        cycle_count=cc,
        lines=[{"sku": a.sku, "quantity_counted": 12}, {"sku": b.sku, "quantity_counted": 2}],
        by=SYSTEM,
    )
    counting.cycle_count_complete(cycle_count=cc, by=SYSTEM)
    inv.stock_allocate(requests=[inv.StockRequest(b, inv.default_location(), 6, inv.LineRef("order", 1, 1))], by=SYSTEM)
    before = stock_snapshot()
    body = assert_error(post(api, cc, "reconcile"), 422, "invalid_request_error", "insufficient_stock")
    assert b.sku in body["errors"]
    assert stock_snapshot() == before  # a's +2 was not posted either
    assert status_of(cc) == "counted"


def test_complete_needs_every_line_counted_or_skipped(api):
    a, b = make_item(on_hand=3), make_item(on_hand=4)
    cc = make_cycle_count([a, b], start=True)
    post(api, cc, "count", {"lines": [{"sku": a.sku, "quantity_counted": 3}]})
    body = assert_error(post(api, cc, "complete"), 422, "invalid_request_error", "count_incomplete")
    assert f"{b.sku}@MAIN" in body["errors"]
    assert status_of(cc) == "in_progress"
    assert_error(
        post(api, cc, "count", {"lines": [{"sku": b.sku, "skip": True}]}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    post(api, cc, "count", {"lines": [{"sku": b.sku, "skip": True, "explanation": "bin blocked"}]})
    completed = post(api, cc, "complete").json()["cycle_count"]
    assert completed["accuracy_rate"] == "100.00"
    assert [x["status"] for x in completed["cycle_count_line_items"]] == ["counted", "skipped"]
    post(api, cc, "reconcile")
    assert StockMovement.objects.filter(reason="cycle_count").count() == 0  # skipped lines post nothing


def test_count_input_is_checked(api):
    item = make_item(on_hand=3)
    cc = make_cycle_count([item], start=True)
    for body in (
        {"lines": []},
        {"lines": [{"quantity_counted": 1}]},
        {"lines": [{"sku": item.sku}]},
        {"lines": [{"sku": item.sku, "quantity_counted": -1}]},
        {"lines": [{"sku": "OTHER", "quantity_counted": 1}]},
    ):
        assert_error(post(api, cc, "count", body), 400, "invalid_request_error", "validation_error")
    assert cc.lines.get().status == "pending"


def test_cancel_posts_nothing(api):
    item = make_item(on_hand=3)
    cc = make_cycle_count([item], start=True)
    counting.cycle_count_count(cycle_count=cc, lines=[{"sku": item.sku, "quantity_counted": 1}], by=SYSTEM)
    counting.cycle_count_complete(cycle_count=cc, by=SYSTEM)
    assert post(api, cc, "cancel").json()["cancelled"] is True
    assert level(item) == (3, 0, 0)
    assert StockMovement.objects.filter(reason="cycle_count").count() == 0


# ---- the transition table ----------------------------------------------------------------------------------

CC_ACTIONS = [
    ("start", {"open"}, "started"),
    ("count", {"in_progress"}, "counted"),
    ("complete", {"in_progress"}, "completed"),
    ("reconcile", {"counted"}, "reconciled"),
    ("cancel", {"open", "in_progress", "counted"}, "cancelled"),
]
CC_PATHS = {
    "open": [],
    "in_progress": ["start", "count"],
    "counted": ["start", "count", "complete"],
    "reconciled": ["start", "count", "complete", "reconcile"],
    "cancelled": ["cancel"],
}


def cc_in(status):
    item = make_item(on_hand=5)
    cc = make_cycle_count([item])
    for step in CC_PATHS[status]:
        kwargs = {"lines": [{"sku": item.sku, "quantity_counted": 4}]} if step == "count" else {}
        cc = getattr(counting, f"cycle_count_{step}")(cycle_count=cc, by=SYSTEM, **kwargs)
    assert status_of(cc) == status
    return cc, item


@pytest.mark.parametrize("status", list(CC_PATHS))
@pytest.mark.parametrize(("name", "allowed_from", "done"), CC_ACTIONS, ids=[a[0] for a in CC_ACTIONS])
def test_every_action_from_every_status(api, status, name, allowed_from, done):
    cc, item = cc_in(status)
    body = {"lines": [{"sku": item.sku, "quantity_counted": 5}]} if name == "count" else {}
    before, logs = stock_snapshot(), StateLog.objects.count()
    response = post(api, cc, name, body)
    if status in allowed_from:
        assert response.status_code == 200, response.json()
        assert response.json()[done] is True
        assert StateLog.objects.count() == logs + 1
    else:
        assert_error(response, 422, "invalid_request_error", "invalid_state_transition")
        assert (stock_snapshot(), status_of(cc), StateLog.objects.count()) == (before, status, logs)
    assert selectors.ledger_mismatches() == []


def test_reconcile_needs_the_named_permission():
    cc, item = cc_in("counted")
    clerk = api_client(make_user("inventory.change_cyclecount"))
    before = stock_snapshot()
    assert_error(post(clerk, cc, "reconcile"), 403, "permission_error", "insufficient_permissions")
    assert (stock_snapshot(), status_of(cc)) == (before, "counted")


def test_lines_change_only_while_open(api):
    a, b = make_item(), make_item()
    cc = make_cycle_count([a])
    assert api.patch(f"/v1/cycle_counts/{cc.pk}", {"part": b.sku}).json()["cycle_count"]["part"] == b.sku
    counting.cycle_count_start(cycle_count=cc, by=SYSTEM)
    assert_error(
        api.patch(f"/v1/cycle_counts/{cc.pk}", {"cycle_count_line_items": [{"part": a.sku}]}),
        422,
        "invalid_request_error",
        "not_editable",
    )
    assert api.patch(f"/v1/cycle_counts/{cc.pk}", {"assigned_user": "kim"}).status_code == 200
    assert_error(api.delete(f"/v1/cycle_counts/{cc.pk}"), 422, "invalid_request_error", "document_in_use")


def test_alias_history_and_lists(api):
    item = make_item("COUNT-ME", on_hand=2)
    cc, _ = cc_in("counted")
    other = make_cycle_count([item])
    assert api.get(f"/v1/cycle-counts/{cc.pk}").json()["cycle_count"]["id"] == cc.pk
    history = api.get(f"/v1/cycle-counts/{cc.pk}/history", {"order_direction": "asc"}).json()["history"]
    assert [h["transition"] for h in history] == ["create", "start", "count", "complete"]
    assert [x["id"] for x in api.get("/v1/cycle_counts", {"part": "COUNT-ME"}).json()["cycle_counts"]] == [other.pk]
    assert api.get("/v1/cycle_counts", {"status": "counted"}).json()["total_count"] == 1
    items, aisle = [make_item() for _ in range(3)], make_location("AISLE-9")
    assert_list_queries_constant(
        api,
        "/v1/cycle_counts?limit=100&location=AISLE-9",
        "cycle_counts",
        lambda: make_cycle_count(items, location=aisle),
    )
