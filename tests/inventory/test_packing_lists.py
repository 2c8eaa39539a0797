"""Packing lists and their items: incoming on submit, arrival exactly once (PATCH or POST), the linked purchase
order's receipts, receive-all, cancel giving back what was added."""

import pytest
from django_fsm_log.models import StateLog

from inventory import selectors
from inventory.models import PackingList, PackingListItem, PurchaseOrder, StockMovement
from inventory.services import purchasing
from tests.factories import (
    SYSTEM,
    api_client,
    level,
    make_item,
    make_location,
    make_packing_list,
    make_purchase_order,
    make_user,
)
from tests.helpers import assert_error, assert_list_queries_constant
from tests.inventory.support import stock_snapshot

pytestmark = pytest.mark.django_db


def status_of(pl):
    return PackingList.objects.get(pk=pl.pk).status


def arrived(row):
    return PackingListItem.objects.get(pk=row.pk).arrived


# ---- create and fields -------------------------------------------------------------------------------------


def test_create_with_documented_fields(api):
    make_item("A", description="Widget")
    response = api.post(
        "/v1/packing_lists",
        {
            "deliveryDate": "2026-03-01",
            "arrivalDate": "2026-03-04",
            "invoice_number": "INV-9",
            "ship_per": "truck",
            "tracking_number": "1Z999",
            "packing_list_items": [{"sku": "A", "quantity": 5}],
        },
    )
    assert response.status_code == 201, response.json()
    pl = response.json()["packing_list"]
    assert pl["number"] == f"PL-{pl['id']:06d}"
    assert (pl["deliveryDate"], pl["arrivalDate"], pl["status"], pl["location"]) == (
        "2026-03-01",
        "2026-03-04",
        "draft",
        "MAIN",
    )
    assert pl["purchase_order_number"] is None
    item = pl["packing_list_items"][0]
    assert (item["sku"], item["quantity"], item["arrived"], item["description"], item["packing_list"]) == (
        "A",
        5,
        False,
        "Widget",
        pl["id"],
    )


def test_a_linked_list_takes_its_purchase_orders_location(api):
    east = make_location("EAST")
    item = make_item()
    po = make_purchase_order([(item, 5)], location=east)
    response = api.post(
        "/v1/packing_lists",
        {"purchase_order_number": po.purchase_order_number, "packing_list_items": [{"sku": item.sku, "quantity": 5}]},
    )
    assert response.json()["packing_list"]["location"] == "EAST"
    assert response.json()["packing_list"]["purchase_order"] == po.pk
    assert_error(
        api.post("/v1/packing_lists", {"purchase_order_number": po.purchase_order_number, "location": "MAIN"}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert_error(
        api.post("/v1/packing_lists", {"purchase_order_number": "PO-NOPE"}),
        400,
        "invalid_request_error",
        "unknown_purchase_order",
    )
    assert PackingList.objects.count() == 1


def test_arrived_cannot_be_written_on_create(api):
    item = make_item()
    pl = make_packing_list([(item, 1)])
    assert_error(
        api.post("/v1/packing_list_items", {"packing_list": pl.pk, "sku": item.sku, "quantity": 1, "arrived": True}),
        400,
        "invalid_request_error",
        "read_only_field",
    )


# ---- an unlinked list: incoming on submit, arrival once ----------------------------------------------------


def test_submit_adds_incoming_and_each_item_arrives_once(api):
    a, b = make_item(on_hand=1), make_item()
    pl = make_packing_list([(a, 4), (b, 2)])
    assert api.post(f"/v1/packing_lists/{pl.pk}/submit").json()["submitted"] is True
    assert (level(a), level(b)) == ((1, 0, 4), (0, 0, 2))
    assert api.post(f"/v1/packing_lists/{pl.pk}/ship").json()["packing_list"]["status"] == "shipped"
    row_a, row_b = pl.items.order_by("pk")

    response = api.patch(f"/v1/packing_list_items/{row_a.pk}", {"arrived": True})
    assert response.status_code == 200, response.json()
    assert response.json()["packing_list_item"]["arrived"] is True
    assert level(a) == (5, 0, 0)
    movement = StockMovement.objects.filter(source_type="packing_list").get()
    assert (movement.reason, movement.quantity, movement.source_id) == ("receipt", 4, pl.pk)

    # a second arrival, by either door, is refused and moves nothing
    before = stock_snapshot()
    assert_error(
        api.patch(f"/v1/packing_list_items/{row_a.pk}", {"arrived": True}),
        422,
        "invalid_request_error",
        "already_arrived",
    )
    assert_error(api.post(f"/v1/packing_list_items/{row_a.pk}/arrive"), 422, "invalid_request_error", "already_arrived")
    assert_error(
        api.patch(f"/v1/packing_list_items/{row_a.pk}", {"arrived": False}),
        422,
        "invalid_request_error",
        "already_arrived",
    )
    assert stock_snapshot() == before
    assert status_of(pl) == "shipped"

    # the last item's arrival receives the list
    response = api.post(f"/v1/packing_list_items/{row_b.pk}/arrive")
    assert response.json()["arrived"] is True
    assert level(b) == (2, 0, 0)
    assert status_of(pl) == "received"
    assert_error(api.post(f"/v1/packing_list_items/{row_b.pk}/arrive"), 422, "invalid_request_error", "already_arrived")
    assert selectors.ledger_mismatches() == []


def test_an_item_cannot_arrive_before_submit():
    item = make_item()
    pl = make_packing_list([(item, 3)])
    api = api_client()
    row = pl.items.get()
    body = assert_error(
        api.post(f"/v1/packing_list_items/{row.pk}/arrive"), 422, "invalid_request_error", "invalid_state_transition"
    )
    assert "'draft'" in body["message"]
    assert level(item) == (0, 0, 0) and not arrived(row)


def test_receive_arrives_every_remaining_item(api):
    a, b = make_item(), make_item()
    pl = make_packing_list([(a, 3), (b, 5)], submit=True)
    purchasing.packing_list_item_arrive(packing_list_item=pl.items.get(item=a), by=SYSTEM)
    response = api.post(f"/v1/packing_lists/{pl.pk}/receive")
    assert response.json()["received"] is True
    assert response.json()["packing_list"]["status"] == "received"
    assert (level(a), level(b)) == ((3, 0, 0), (5, 0, 0))
    assert StockMovement.objects.filter(source_type="packing_list").count() == 2  # one per item, once
    assert all(row["arrived"] for row in response.json()["packing_list"]["packing_list_items"])
    assert selectors.ledger_mismatches() == []


def test_cancel_gives_back_the_incoming_of_items_not_arrived(api):
    a, b = make_item(), make_item()
    pl = make_packing_list([(a, 3), (b, 5)], submit=True)
    purchasing.packing_list_item_arrive(packing_list_item=pl.items.get(item=a), by=SYSTEM)
    assert api.post(f"/v1/packing_lists/{pl.pk}/cancel", {"reason": "lost"}).json()["cancelled"] is True
    assert (level(a), level(b)) == ((3, 0, 0), (0, 0, 0))
    assert selectors.ledger_mismatches() == []


def test_an_item_of_a_cancelled_list_cannot_arrive_by_either_door(api):
    item = make_item()
    pl = make_packing_list([(item, 3)], submit=True)
    api.post(f"/v1/packing_lists/{pl.pk}/cancel", {"reason": "lost"})
    assert level(item) == (0, 0, 0)
    row = pl.items.get()
    before = stock_snapshot()
    for response in (
        api.post(f"/v1/packing_list_items/{row.pk}/arrive"),
        api.patch(f"/v1/packing_list_items/{row.pk}", {"arrived": True}),
    ):
        body = assert_error(response, 422, "invalid_request_error", "invalid_state_transition")
        assert "'cancelled'" in body["message"]
    assert stock_snapshot() == before and not arrived(row)
    assert status_of(pl) == "cancelled"
    assert selectors.ledger_mismatches() == []


def test_items_change_only_while_draft(api):
    a, b = make_item(), make_item()
    pl = make_packing_list([(a, 3)])
    row = pl.items.get()
    assert api.patch(f"/v1/packing_list_items/{row.pk}", {"quantity": 4}).json()["packing_list_item"]["quantity"] == 4
    created = api.post("/v1/packing_list_items", {"packing_list": pl.pk, "sku": b.sku, "quantity": 2})
    assert created.status_code == 201
    purchasing.packing_list_submit(packing_list=pl, by=SYSTEM)
    before = stock_snapshot()
    assert_error(
        api.patch(f"/v1/packing_list_items/{row.pk}", {"quantity": 9}), 422, "invalid_request_error", "not_editable"
    )
    # a PATCH that edits and arrives at once is refused as a whole
    assert_error(
        api.patch(f"/v1/packing_list_items/{row.pk}", {"quantity": 9, "arrived": True}),
        422,
        "invalid_request_error",
        "not_editable",
    )
    assert_error(api.delete(f"/v1/packing_list_items/{row.pk}"), 422, "invalid_request_error", "not_editable")
    assert_error(
        api.post("/v1/packing_list_items", {"packing_list": pl.pk, "sku": a.sku, "quantity": 1}),
        422,
        "invalid_request_error",
        "not_editable",
    )
    assert_error(
        api.patch(f"/v1/packing_lists/{pl.pk}", {"packing_list_items": []}),
        422,
        "invalid_request_error",
        "not_editable",
    )
    assert stock_snapshot() == before and PackingListItem.objects.get(pk=row.pk).quantity == 4
    assert api.patch(f"/v1/packing_lists/{pl.pk}", {"tracking_number": "1Z"}).status_code == 200  # papers can


# ---- the transition table ----------------------------------------------------------------------------------

PL_ACTIONS = [
    ("submit", {"draft"}, "submitted"),
    ("ship", {"submitted"}, "shipped"),
    ("receive", {"submitted", "shipped"}, "received"),
    ("cancel", {"draft", "submitted", "shipped"}, "cancelled"),
]


def pl_in(status):
    item = make_item()
    pl = make_packing_list([(item, 2)], submit=status != "draft")
    if status in ("shipped", "received"):
        pl = purchasing.packing_list_ship(packing_list=pl, by=SYSTEM)
    if status == "received":
        pl = purchasing.packing_list_receive(packing_list=pl, by=SYSTEM)
    if status == "cancelled":
        pl = purchasing.packing_list_cancel(packing_list=pl, by=SYSTEM)
    assert status_of(pl) == status
    return pl


@pytest.mark.parametrize("status", ["draft", "submitted", "shipped", "received", "cancelled"])
@pytest.mark.parametrize(("name", "allowed_from", "done"), PL_ACTIONS, ids=[a[0] for a in PL_ACTIONS])
def test_every_action_from_every_status(api, status, name, allowed_from, done):
    pl = pl_in(status)
    before, logs = stock_snapshot(), StateLog.objects.count()
    response = api.post(f"/v1/packing_lists/{pl.pk}/{name}")
    if status in allowed_from:
        assert response.status_code == 200, response.json()
        assert response.json()[done] is True
    else:
        assert_error(response, 422, "invalid_request_error", "invalid_state_transition")
        assert (stock_snapshot(), status_of(pl), StateLog.objects.count()) == (before, status, logs)
    assert selectors.ledger_mismatches() == []


def test_submit_needs_an_item(api):
    pl = purchasing.packing_list_create(by=SYSTEM)
    assert_error(api.post(f"/v1/packing_lists/{pl.pk}/submit"), 422, "invalid_request_error", "document_empty")
    assert status_of(pl) == "draft"


def test_receive_needs_the_named_permission():
    pl = pl_in("shipped")
    clerk = api_client(make_user("inventory.change_packinglist"))
    before = stock_snapshot()
    assert_error(clerk.post(f"/v1/packing_lists/{pl.pk}/receive"), 403, "permission_error", "insufficient_permissions")
    assert (stock_snapshot(), status_of(pl)) == (before, "shipped")


# ---- a list for a purchase order ---------------------------------------------------------------------------


def test_a_linked_list_relies_on_the_orders_incoming_and_receives_on_it(api):
    a, b = make_item(), make_item()
    po = make_purchase_order([(a, 10), (b, 4)], status="ordered")
    pl = make_packing_list([(a, 6)], purchase_order=po.purchase_order_number)
    api.post(f"/v1/packing_lists/{pl.pk}/submit")
    assert (level(a), level(b)) == ((0, 0, 10), (0, 0, 4))  # nothing added: the order counts it already
    row = pl.items.get()
    assert api.patch(f"/v1/packing_list_items/{row.pk}", {"arrived": True}).status_code == 200
    assert level(a) == (6, 0, 4)
    po = PurchaseOrder.objects.get(pk=po.pk)
    assert po.status == "partially_received"
    assert po.lines.get(item=a).quantity_received == 6
    movement = StockMovement.objects.get(reason="receipt")
    assert (movement.source_type, movement.source_id, movement.note) == (
        "packing_list",
        pl.pk,
        f"purchase order {po.purchase_order_number}",
    )
    assert status_of(pl) == "received"
    assert [h.transition for h in StateLog.objects.for_(po).order_by("pk")][-1] == "receive"
    assert selectors.ledger_mismatches() == []


def test_a_linked_arrival_must_not_over_receive(api):
    item = make_item()
    po = make_purchase_order([(item, 5)], status="ordered")
    purchasing.purchase_order_receive(purchase_order=po, lines=[{"sku": item.sku, "quantity": 3}], by=SYSTEM)
    pl = make_packing_list([(item, 4)], purchase_order=po, submit=True)
    row = pl.items.get()
    before = stock_snapshot()
    assert_error(api.post(f"/v1/packing_list_items/{row.pk}/arrive"), 422, "invalid_request_error", "over_receipt")
    assert_error(api.post(f"/v1/packing_lists/{pl.pk}/receive"), 422, "invalid_request_error", "over_receipt")
    assert stock_snapshot() == before
    assert not arrived(row) and status_of(pl) == "submitted"
    assert PurchaseOrder.objects.get(pk=po.pk).lines.get().quantity_received == 3


def test_a_linked_list_needs_its_order_sent_and_its_skus_on_it(api):
    a, b = make_item(), make_item()
    approved = make_purchase_order([(a, 5)], status="approved")
    pl = make_packing_list([(a, 5)], purchase_order=approved)
    assert_error(
        api.post(f"/v1/packing_lists/{pl.pk}/submit"), 422, "invalid_request_error", "purchase_order_not_receiving"
    )
    ordered = make_purchase_order([(a, 5)], status="ordered")
    wrong = make_packing_list([(b, 1)], purchase_order=ordered)
    assert_error(
        api.post(f"/v1/packing_lists/{wrong.pk}/submit"), 422, "invalid_request_error", "sku_not_on_purchase_order"
    )
    assert (status_of(pl), status_of(wrong)) == ("draft", "draft")
    assert (level(a), level(b)) == ((0, 0, 5), (0, 0, 0))


def test_an_arrival_after_the_order_closed_is_refused(api):
    item = make_item()
    po = make_purchase_order([(item, 5)], status="ordered")
    pl = make_packing_list([(item, 5)], purchase_order=po, submit=True)
    purchasing.purchase_order_complete(purchase_order=po, by=SYSTEM)
    before = stock_snapshot()
    assert_error(
        api.post(f"/v1/packing_list_items/{pl.items.get().pk}/arrive"),
        422,
        "invalid_request_error",
        "invalid_state_transition",
    )
    assert stock_snapshot() == before
    # cancelling it gives back nothing: it never added incoming
    api.post(f"/v1/packing_lists/{pl.pk}/cancel")
    assert level(item) == (0, 0, 0) and stock_snapshot() == before


def test_receiving_a_linked_list_completes_the_order(api):
    item = make_item()
    po = make_purchase_order([(item, 5)], status="ordered")
    pl = make_packing_list([(item, 5)], purchase_order=po, submit=True)
    api.post(f"/v1/packing_lists/{pl.pk}/receive")
    assert PurchaseOrder.objects.get(pk=po.pk).status == "received"
    assert level(item) == (5, 0, 0)
    assert selectors.ledger_mismatches() == []


# ---- lists and history -------------------------------------------------------------------------------------


def test_history_and_filters(api):
    item = make_item("SKU-PL")
    pl = make_packing_list([(item, 1)], submit=True, tracking_number="TRK1")
    make_packing_list([(make_item(), 1)])
    history = api.get(f"/v1/packing_lists/{pl.pk}/history").json()["history"]
    assert [h["transition"] for h in history] == ["submit", "create"]
    ids = lambda r: [x["id"] for x in r.json()["packing_lists"]]  # noqa: E731
    assert ids(api.get("/v1/packing_lists", {"status": "submitted"})) == [pl.pk]
    assert ids(api.get("/v1/packing_lists", {"sku": "SKU-PL"})) == [pl.pk]
    assert ids(api.get("/v1/packing_lists/search", {"query": "TRK1"})) == [pl.pk]
    items = api.get("/v1/packing_list_items", {"packing_list": pl.pk}).json()["packing_list_items"]
    assert [i["sku"] for i in items] == ["SKU-PL"]
    assert_error(
        api.get("/v1/packing_list_items", {"arrived": "perhaps"}), 400, "invalid_request_error", "validation_error"
    )


def test_lists_cost_a_fixed_number_of_queries(api):
    items = [make_item() for _ in range(3)]
    assert_list_queries_constant(
        api, "/v1/packing_lists?limit=100", "packing_lists", lambda: make_packing_list([(i, 1) for i in items])
    )
    fresh = make_item()
    assert_list_queries_constant(
        api,
        f"/v1/packing_list_items?limit=100&sku={fresh.sku}",
        "packing_list_items",
        lambda: make_packing_list([(fresh, 1)]),
    )


def test_a_packing_list_for_a_purchase_order_named_by_non_ascii_digits_is_400(api):
    # "²" passed str.isdigit and then failed int(): a 500.
    count = PackingList.objects.count()
    response = api.post("/v1/packing_lists", {"purchase_order_number": "²"}, format="json")
    assert_error(response, 400, "invalid_request_error", "unknown_purchase_order")
    assert PackingList.objects.count() == count
