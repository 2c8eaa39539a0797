"""Purchase orders over HTTP: the contract's transition table, every refusal changing nothing, the stock
effects (incoming on send, receipts through the ledger, closing short), totals, aliases and history."""

import pytest
from django_fsm_log.models import StateLog

from inventory import selectors
from inventory.models import PurchaseOrder, StockMovement
from inventory.services import purchasing
from tests.factories import (
    SYSTEM,
    api_client,
    level,
    make_cycle_count,
    make_item,
    make_location,
    make_purchase_order,
    make_user,
)
from tests.helpers import assert_error, assert_list_queries_constant
from tests.inventory.support import stock_snapshot

pytestmark = pytest.mark.django_db


def status_of(po):
    return PurchaseOrder.objects.get(pk=po.pk).status


def act(api, po, name, body=None):
    return api.post(f"/v1/purchase_orders/{po.pk}/{name}", body or {})


def ordered_po(quantity=10, on_hand=0, **fields):
    item = make_item(on_hand=on_hand, unit_cost="2.00")
    return item, make_purchase_order([(item, quantity)], status="ordered", **fields)


# ---- create, fields, totals --------------------------------------------------------------------------------


def test_create_with_lines_computes_totals_and_number(api):
    make_item("BOLT", unit_cost="0.10", description="M4 bolt")
    make_item("NUT")
    response = api.post(
        "/v1/purchase_orders",
        {
            "vendor": "Acme",
            "purchase_order_name": "Restock",
            "delivery_date": "2026-02-01",
            "purchase_order_line_items": [
                {"sku": "BOLT", "quantity_ordered": 1000},
                {"sku": "NUT", "quantity_ordered": "3", "unit_cost": "0.125"},
            ],
        },
    )
    assert response.status_code == 201, response.json()
    po = response.json()["purchase_order"]
    assert po["purchase_order_number"] == f"PO-{po['id']:06d}"
    assert (po["status"], po["purchase_order_status"], po["location"]) == ("draft", "draft", "MAIN")
    # 1000 × 0.10 + 3 × 0.13 (0.125 rounded half-up to the cent)
    assert (po["subtotal"], po["total"]) == ("100.39", "100.39")
    lines = po["purchase_order_line_items"]
    assert [(x["sku"], x["quantity_ordered"], x["unit_cost"], x["line_total"]) for x in lines] == [
        ("BOLT", 1000, "0.10", "100.00"),
        ("NUT", 3, "0.13", "0.39"),
    ]
    assert lines[0]["description"] == "M4 bolt"  # defaults to the item's
    assert po["createdat"] == po["created_at"] and po["lastupdated"] == po["updated_at"]
    assert response["Location"].endswith(f"/v1/purchase_orders/{po['id']}")


@pytest.mark.parametrize(
    "field", ["status", "purchase_order_status", "subtotal", "total", "financed", "financer", "createdat"]
)
def test_server_owned_fields_are_400(api, field):
    body = assert_error(
        api.post("/v1/purchase_orders", {"vendor": "Acme", field: "x"}),
        400,
        "invalid_request_error",
        "read_only_field",
    )
    assert field in body["errors"]
    assert PurchaseOrder.objects.count() == 0


def test_line_quantity_received_is_server_owned(api):
    make_item("A")
    body = assert_error(
        api.post(
            "/v1/purchase_orders",
            {"purchase_order_line_items": [{"sku": "A", "quantity_ordered": 2, "quantity_received": 2}]},
        ),
        400,
        "invalid_request_error",
        "read_only_field",
    )
    assert "purchase_order_line_items" in body["errors"]


def test_unknown_sku_and_repeated_sku_are_400(api):
    make_item("A")
    body = assert_error(
        api.post("/v1/purchase_orders", {"purchase_order_line_items": [{"sku": "NOPE", "quantity_ordered": 1}]}),
        400,
        "invalid_request_error",
        "unknown_sku",
    )
    assert "NOPE" in body["errors"]
    assert_error(
        api.post(
            "/v1/purchase_orders",
            {"purchase_order_line_items": [{"sku": "A", "quantity_ordered": 1}, {"sku": "A", "quantity_ordered": 2}]},
        ),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert PurchaseOrder.objects.count() == 0


def test_client_number_is_kept_and_unique(api):
    assert api.post("/v1/purchase_orders", {"purchase_order_number": "ACME-7"}).status_code == 201
    assert_error(
        api.post("/v1/purchase_orders", {"purchase_order_number": "acme-7"}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert PurchaseOrder.objects.get().purchase_order_number == "ACME-7"


def test_lines_change_only_while_draft(api):
    item, other = make_item(unit_cost="1.00"), make_item(unit_cost="5.00")
    po = make_purchase_order([(item, 2)])
    response = api.patch(
        f"/v1/purchase_orders/{po.pk}", {"purchase_order_line_items": [{"sku": other.sku, "quantity_ordered": 3}]}
    )
    assert response.status_code == 200
    assert response.json()["purchase_order"]["total"] == "15.00"
    purchasing.purchase_order_submit(purchase_order=po, by=SYSTEM)
    assert_error(
        api.patch(
            f"/v1/purchase_orders/{po.pk}", {"purchase_order_line_items": [{"sku": item.sku, "quantity_ordered": 1}]}
        ),
        422,
        "invalid_request_error",
        "not_editable",
    )
    assert [line.item_id for line in PurchaseOrder.objects.get(pk=po.pk).lines.all()] == [other.pk]
    # header fields stay editable
    assert api.put(f"/v1/purchase_orders/{po.pk}", {"description": "rush"}).status_code == 200


def test_location_is_fixed_once_sent(api):
    east = make_location("EAST")
    item, po = ordered_po()
    assert_error(
        api.patch(f"/v1/purchase_orders/{po.pk}", {"location": "EAST"}), 422, "invalid_request_error", "not_editable"
    )
    assert PurchaseOrder.objects.get(pk=po.pk).location.code == "MAIN"
    draft = make_purchase_order([(item, 1)])
    assert api.patch(f"/v1/purchase_orders/{draft.pk}", {"location": "EAST"}).json()["purchase_order"]["location"] == (
        east.code
    )


def test_delete_only_a_draft(api):
    item = make_item()
    draft = make_purchase_order([(item, 1)])
    submitted = make_purchase_order([(item, 1)], status="submitted")
    assert api.delete(f"/v1/purchase_orders/{draft.pk}").json() == {
        "id": draft.pk,
        "object": "purchase_order",
        "deleted": True,
    }
    assert_error(api.delete(f"/v1/purchase_orders/{submitted.pk}"), 422, "invalid_request_error", "document_in_use")
    assert PurchaseOrder.objects.filter(pk=submitted.pk).exists()


# ---- the transition table ----------------------------------------------------------------------------------

# (action, body, statuses it is allowed from)
ACTIONS = [
    ("submit", {}, {"draft"}),
    ("approve", {}, {"submitted"}),
    ("reject", {"reason": "too dear"}, {"submitted"}),
    ("send", {}, {"approved"}),
    ("receive", {"lines": [{"line_id": 0, "quantity": 1}]}, {"ordered", "partially_received"}),
    ("complete", {}, {"ordered", "partially_received"}),
    ("cancel", {}, {"draft", "submitted", "approved", "ordered"}),
    ("finance", {"financer": "Bank"}, {"approved", "ordered", "partially_received", "received"}),
]
DONE = {
    "submit": "submitted",
    "approve": "approved",
    "reject": "rejected",
    "send": "sent",
    "receive": "received",
    "complete": "completed",
    "cancel": "cancelled",
    "finance": "financed",
}
ALL_STATUSES = [
    "draft",
    "submitted",
    "approved",
    "rejected",
    "ordered",
    "partially_received",
    "received",
    "cancelled",
]


def po_in(status):
    """A purchase order of one line (10 ordered) brought to `status` through the services."""
    item = make_item(unit_cost="1.00")
    path = {"rejected": "submitted", "partially_received": "ordered", "received": "ordered", "cancelled": "draft"}
    po = make_purchase_order([(item, 10)], status=path.get(status, status))
    line = po.lines.get()
    if status == "rejected":
        po = purchasing.purchase_order_reject(purchase_order=po, reason="no", by=SYSTEM)
    elif status == "partially_received":
        po = purchasing.purchase_order_receive(
            purchase_order=po, lines=[{"line_id": line.pk, "quantity": 4}], by=SYSTEM
        )
    elif status == "received":
        po = purchasing.purchase_order_receive(purchase_order=po, by=SYSTEM)
    elif status == "cancelled":
        po = purchasing.purchase_order_cancel(purchase_order=po, by=SYSTEM)
    assert status_of(po) == status
    return po, line


@pytest.mark.parametrize("status", ALL_STATUSES)
@pytest.mark.parametrize(("name", "body", "allowed_from"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_every_action_from_every_status(api, status, name, body, allowed_from):
    po, line = po_in(status)
    if name == "receive":
        body = {"lines": [{"line_id": line.pk, "quantity": 1}]}
    before = stock_snapshot()
    logs = StateLog.objects.count()
    response = act(api, po, name, body)
    if status in allowed_from:
        assert response.status_code == 200, response.json()
        assert response.json()[DONE[name]] is True and response.json()["success"] is True
        assert StateLog.objects.count() == logs + 1
    else:
        body = assert_error(response, 422, "invalid_request_error", "invalid_state_transition")
        assert f"'{status}'" in body["message"]
        assert body["errors"]["status"] == status
        assert stock_snapshot() == before
        assert status_of(po) == status
        assert StateLog.objects.count() == logs
    assert selectors.ledger_mismatches() == []


def test_submit_needs_a_line(api):
    po = purchasing.purchase_order_create(by=SYSTEM, vendor="Acme")
    assert_error(act(api, po, "submit"), 422, "invalid_request_error", "document_empty")
    assert status_of(po) == "draft"


def test_reject_needs_a_reason(api):
    po, _ = po_in("submitted")
    assert_error(act(api, po, "reject"), 400, "invalid_request_error", "validation_error")
    assert status_of(po) == "submitted"
    response = act(api, po, "reject", {"reason": "over budget"})
    assert response.json()["purchase_order"]["rejection_reason"] == "over budget"


# ---- stock effects -----------------------------------------------------------------------------------------


def test_send_makes_the_lines_incoming():
    a, b = make_item(on_hand=3), make_item()
    po = make_purchase_order([(a, 10), (b, 4)], status="approved")
    assert (level(a), level(b)) == ((3, 0, 0), (0, 0, 0))
    purchasing.purchase_order_send(purchase_order=po, by=SYSTEM)
    assert (level(a), level(b)) == ((3, 0, 10), (0, 0, 4))
    assert StockMovement.objects.filter(source_type="purchase_order").count() == 0  # incoming is not on hand


def test_receive_partially_then_fully(api):
    item, po = ordered_po(quantity=10, on_hand=2)
    line = po.lines.get()
    response = act(api, po, "receive", {"lines": [{"line_id": line.pk, "quantity": "4"}]})
    assert response.status_code == 200
    data = response.json()["purchase_order"]
    assert data["status"] == "partially_received"
    assert data["purchase_order_line_items"][0]["quantity_received"] == 4
    assert level(item) == (6, 0, 6)
    movement = StockMovement.objects.filter(source_type="purchase_order").get()
    assert (movement.reason, movement.quantity, movement.source_id, movement.source_number) == (
        "receipt",
        4,
        po.pk,
        po.purchase_order_number,
    )
    response = act(api, po, "receive", {"lines": [{"sku": item.sku, "quantity": 6}]})
    assert response.json()["purchase_order"]["status"] == "received"
    assert level(item) == (12, 0, 0)
    assert selectors.ledger_mismatches() == []


def test_over_receipt_is_refused_and_moves_nothing(api):
    a, b = make_item(), make_item()
    po = make_purchase_order([(a, 5), (b, 5)], status="ordered")
    purchasing.purchase_order_receive(purchase_order=po, lines=[{"sku": a.sku, "quantity": 3}], by=SYSTEM)
    before, lines_before = stock_snapshot(), list(po.lines.values_list("quantity_received", flat=True))
    body = assert_error(
        act(api, po, "receive", {"lines": [{"sku": b.sku, "quantity": 5}, {"sku": a.sku, "quantity": 3}]}),
        422,
        "invalid_request_error",
        "over_receipt",
    )
    assert a.sku in body["errors"] and b.sku not in body["errors"]
    # the same line twice counts together
    assert_error(
        act(api, po, "receive", {"lines": [{"sku": a.sku, "quantity": 1}, {"sku": a.sku, "quantity": 2}]}),
        422,
        "invalid_request_error",
        "over_receipt",
    )
    assert stock_snapshot() == before
    assert list(po.lines.values_list("quantity_received", flat=True)) == lines_before
    assert status_of(po) == "partially_received"


def test_receive_refuses_lines_not_on_the_order(api):
    item, po = ordered_po()
    other = make_item()
    assert_error(
        act(api, po, "receive", {"lines": [{"sku": other.sku, "quantity": 1}]}),
        422,
        "invalid_request_error",
        "sku_not_on_purchase_order",
    )
    assert_error(
        act(api, po, "receive", {"lines": [{"line_id": 999999, "quantity": 1}]}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert_error(act(api, po, "receive", {"lines": []}), 400, "invalid_request_error", "validation_error")
    assert_error(
        act(api, po, "receive", {"lines": [{"sku": item.sku, "quantity": 0}]}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert level(item) == (0, 0, 10)


def test_receive_with_no_lines_takes_everything_outstanding(api):
    item, po = ordered_po(quantity=7)
    assert act(api, po, "receive").json()["purchase_order"]["status"] == "received"
    assert level(item) == (7, 0, 0)


def test_receive_at_another_location_takes_the_incoming_off_the_orders(api):
    east = make_location("EAST")
    item, po = ordered_po(quantity=10)
    response = act(api, po, "receive", {"lines": [{"sku": item.sku, "quantity": 4}], "location": "EAST"})
    assert response.status_code == 200
    assert (level(item), level(item, east)) == ((0, 0, 6), (4, 0, 0))
    assert selectors.ledger_mismatches() == []


def test_complete_closes_short(api):
    item, po = ordered_po(quantity=10)
    purchasing.purchase_order_receive(purchase_order=po, lines=[{"sku": item.sku, "quantity": 6}], by=SYSTEM)
    response = act(api, po, "complete")
    assert response.json()["completed"] is True
    assert response.json()["purchase_order"]["status"] == "received"
    assert level(item) == (6, 0, 0)  # the 4 not delivered left incoming
    assert po.lines.get().quantity_received == 6
    assert selectors.ledger_mismatches() == []


def test_cancel_an_ordered_po_gives_back_its_incoming(api):
    item, po = ordered_po(quantity=10)
    response = act(api, po, "cancel", {"reason": "supplier closed"})
    assert response.json()["purchase_order"]["cancel_reason"] == "supplier closed"
    assert level(item) == (0, 0, 0)
    assert StockMovement.objects.count() == 0


def test_cancel_is_refused_once_goods_arrived(api):
    item, po = ordered_po(quantity=10)
    purchasing.purchase_order_receive(purchase_order=po, lines=[{"sku": item.sku, "quantity": 1}], by=SYSTEM)
    before = stock_snapshot()
    body = assert_error(act(api, po, "cancel"), 422, "invalid_request_error", "invalid_state_transition")
    assert body["errors"]["allowed_actions"] == ["complete", "finance", "receive"]
    assert stock_snapshot() == before


def test_finance_sets_the_financer_and_keeps_the_status(api):
    po, _ = po_in("ordered")
    response = act(api, po, "finance", {"financer": "Capital Bank", "purchase_order_id": po.pk})
    data = response.json()
    assert (data["financed"], data["purchase_order"]["financer"], data["purchase_order"]["financed"]) == (
        True,
        "Capital Bank",
        True,
    )
    assert data["purchase_order"]["status"] == "ordered"
    assert_error(act(api, po, "finance", {}), 400, "invalid_request_error", "validation_error")
    assert_error(
        act(api, po, "finance", {"financer": "x", "purchase_order_id": po.pk + 1}),
        400,
        "invalid_request_error",
        "validation_error",
    )


# ---- permissions, history, aliases, lists ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "perm"),
    [
        ("approve", "submitted", "inventory.approve_purchaseorder"),
        ("send", "approved", "inventory.send_purchaseorder"),
        ("receive", "ordered", "inventory.receive_purchaseorder"),
        ("complete", "ordered", "inventory.receive_purchaseorder"),
        ("cancel", "ordered", "inventory.cancel_purchaseorder"),
        ("finance", "ordered", "inventory.finance_purchaseorder"),
    ],
)
def test_named_permission_needed(name, status, perm):
    po, _ = po_in(status)
    body = {"finance": {"financer": "Bank"}}.get(name, {})
    clerk = api_client(make_user("inventory.change_purchaseorder", "inventory.view_purchaseorder"))
    before = stock_snapshot()
    response = act(clerk, po, name, body)
    assert perm in assert_error(response, 403, "permission_error", "insufficient_permissions")["message"]
    assert stock_snapshot() == before and status_of(po) == status
    allowed = api_client(make_user("inventory.change_purchaseorder", perm))
    assert act(allowed, po, name, body).status_code == 200


def test_history_lists_every_transition_with_who_and_why(api):
    item, po = ordered_po(quantity=2)
    act(api, po, "finance", {"financer": "Bank"})
    act(api, po, "receive", {"reason": "dock 3"})
    history = api.get(f"/v1/purchase_orders/{po.pk}/history", {"order_direction": "asc"}).json()["history"]
    assert [(h["transition"], h["source_state"], h["state"]) for h in history] == [
        ("create", "draft", "draft"),
        ("submit", "draft", "submitted"),
        ("approve", "submitted", "approved"),
        ("send", "approved", "ordered"),
        ("finance", "ordered", "ordered"),
        ("receive", "ordered", "received"),
    ]
    assert "via API key" in history[-1]["description"] and "dock 3" in history[-1]["description"]


def test_aliases_serve_the_same_views(api):
    item, po = ordered_po()
    assert api.get("/v1/purchase_orders/list").json()["purchase_orders"][0]["id"] == po.pk
    assert api.get(f"/v1/purchase-orders/{po.pk}").json()["purchase_order"]["id"] == po.pk
    assert api.post(f"/v1/purchase-orders/{po.pk}/complete").json()["completed"] is True
    assert api.get("/v1/purchase_orders/list", data={"status": "received"}).json()["total_count"] == 1


def test_list_filters_and_search(api):
    a, b = make_item("RED"), make_item("BLUE")
    p1 = make_purchase_order([(a, 1)], vendor="Acme")
    p2 = make_purchase_order([(b, 1)], status="submitted", vendor="Globex")
    ids = lambda r: [x["id"] for x in r.json()["purchase_orders"]]  # noqa: E731
    assert ids(api.get("/v1/purchase_orders", {"status": "draft,submitted", "order_direction": "asc"})) == [
        p1.pk,
        p2.pk,
    ]
    assert ids(api.get("/v1/purchase_orders", {"vendor": "globex"})) == [p2.pk]
    assert ids(api.get("/v1/purchase_orders", {"sku": "RED"})) == [p1.pk]
    assert ids(api.get("/v1/purchase_orders/search", {"query": "BLUE"})) == [p2.pk]
    assert ids(api.get("/v1/purchase_orders", {"number": p1.purchase_order_number})) == [p1.pk]
    assert_error(api.get("/v1/purchase_orders", {"status": "bogus"}), 400, "invalid_request_error", "validation_error")


def test_list_costs_a_fixed_number_of_queries(api):
    items = [make_item() for _ in range(3)]
    assert_list_queries_constant(
        api,
        "/v1/purchase_orders?limit=100",
        "purchase_orders",
        lambda: make_purchase_order([(i, 2) for i in items]),
    )


@pytest.mark.parametrize("quantity", [10**30, 2**31, 1_000_001])
def test_quantities_beyond_the_bound_are_400_on_purchase_orders_packing_lists_and_counts(api, quantity):
    # Unbounded quantities reached the database: OverflowError on SQLite, integer out of range on PostgreSQL.
    from inventory.models import CycleCount, PackingList

    make_item("BIG")
    before = stock_snapshot(), PurchaseOrder.objects.count(), PackingList.objects.count(), CycleCount.objects.count()
    for path, body in (
        ("/v1/purchase_orders", {"purchase_order_line_items": [{"sku": "BIG", "quantity_ordered": quantity}]}),
        ("/v1/packing_lists", {"packing_list_items": [{"sku": "BIG", "quantity": quantity}]}),
        ("/v1/cycle_counts", {"part": "BIG", "quantity_counted": quantity}),
    ):
        assert_error(api.post(path, body, format="json"), 400, "invalid_request_error", "validation_error")
    after = stock_snapshot(), PurchaseOrder.objects.count(), PackingList.objects.count(), CycleCount.objects.count()
    assert after == before


def test_amounts_past_a_money_column_are_400_on_purchase_orders_and_counts(api):
    # A purchase order of 1,000,000 at 9,999,999,999.99 and a count 1,000,000 off on such an item: PostgreSQL
    # refused the subtotal and the variance cost (a 500); SQLite stored them.
    from inventory.models import CycleCount

    make_item("PRICEY", unit_cost="9999999999.99", on_hand=0)
    count = PurchaseOrder.objects.count(), CycleCount.objects.count()
    line = {"sku": "PRICEY", "quantity_ordered": 1_000_000}
    response = api.post("/v1/purchase_orders", {"purchase_order_line_items": [line]}, format="json")
    error = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert "subtotal" in error["errors"]
    assert (PurchaseOrder.objects.count(), CycleCount.objects.count()) == count
    cc = make_cycle_count(["PRICEY"], start=True)
    body = {"lines": [{"sku": "PRICEY", "quantity_counted": 1_000_000}]}
    response = api.post(f"/v1/cycle_counts/{cc.pk}/count", body, format="json")
    error = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert "variance_cost" in error["errors"]
    assert list(cc.lines.values_list("quantity_counted", "variance_cost")) == [(None, None)]
