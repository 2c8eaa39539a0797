"""Inventory items and locations over HTTP: the documented counts as read-only totals with per-location levels,
filters, the adjust and transfer actions (the official Python client's form included), the ledger page."""

import pytest

from inventory import selectors
from inventory import services as inv
from inventory.models import InventoryItem, Location, StockMovement
from tests.factories import SYSTEM, api_client, level, make_item, make_location, make_purchase_order, make_user
from tests.helpers import assert_error, assert_list_queries_constant
from tests.inventory.support import stock_snapshot

pytestmark = pytest.mark.django_db


def hold(item, quantity, location=None, line=1):
    location = location or inv.default_location()
    inv.stock_allocate(requests=[inv.StockRequest(item, location, quantity, inv.LineRef("order", 1, line))], by=SYSTEM)


# ---- the item and its counts -------------------------------------------------------------------------------


def test_create_and_read_an_item_with_the_documented_fields(api):
    response = api.post(
        "/v1/inventory_items",
        {
            "sku": "WIDGET-RED",
            "upc": "0123",
            "description": "Red widget",
            "size": "M",
            "color": "red",
            "unit_cost": 2.5,
            "reorder_point": 5,
            "arrivalDate": "2026-01-05",
            "deliveryDate": "2026-01-07",
            "purchase_order_id": "PO-1",
        },
    )
    assert response.status_code == 201, response.json()
    item = response.json()["inventory_item"]
    assert item["object"] == "inventory_item"
    assert (item["unit_cost"], item["arrivalDate"], item["deliveryDate"]) == ("2.50", "2026-01-05", "2026-01-07")
    assert (item["warehouse"], item["available"], item["allocated"], item["incoming"], item["levels"]) == (
        0,
        0,
        0,
        0,
        [],
    )


def test_counts_are_totals_over_locations_with_levels():
    east = make_location("EAST")
    item = make_item(on_hand=10)
    inv.stock_receive(inventory_item=item, location=east, quantity=4, source=inv.Source("t"), by=SYSTEM)
    inv.stock_incoming(inventory_item=item, location=east, delta=6, by=SYSTEM)
    hold(item, 3)
    data = api_client().get(f"/v1/inventory_items/{item.pk}").json()["inventory_item"]
    assert (data["warehouse"], data["available"], data["allocated"], data["incoming"]) == (14, 11, 3, 6)
    assert data["levels"] == [
        {"location": "EAST", "on_hand": 4, "allocated": 0, "available": 4, "incoming": 6},
        {"location": "MAIN", "on_hand": 10, "allocated": 3, "available": 7, "incoming": 0},
    ]


@pytest.mark.parametrize("field", ["warehouse", "available", "incoming", "allocated", "levels"])
def test_stock_counts_cannot_be_written(api, field):
    body = assert_error(
        api.post("/v1/inventory_items", {"sku": "X", field: 5}), 400, "invalid_request_error", "read_only_field"
    )
    assert field in body["errors"]
    assert InventoryItem.objects.count() == 0
    item = make_item(on_hand=2)
    assert_error(
        api.patch(f"/v1/inventory_items/{item.pk}", {field: 50, "description": "x"}),
        400,
        "invalid_request_error",
        "read_only_field",
    )
    assert level(item) == (2, 0, 0) and InventoryItem.objects.get(pk=item.pk).description == ""


def test_duplicate_sku_is_400(api):
    make_item("DUP")
    assert_error(api.post("/v1/inventory_items", {"sku": "DUP"}), 400, "invalid_request_error", "validation_error")


def test_delete_an_item_with_movements_is_422(api):
    moved, fresh = make_item(on_hand=1), make_item()
    body = assert_error(api.delete(f"/v1/inventory_items/{moved.pk}"), 422, "invalid_request_error", "item_in_use")
    assert "active=false" in body["message"]
    assert InventoryItem.objects.filter(pk=moved.pk).exists()
    assert api.delete(f"/v1/inventory/{fresh.pk}").json() == {
        "id": fresh.pk,
        "object": "inventory_item",
        "deleted": True,
    }
    assert api.patch(f"/v1/inventory_items/{moved.pk}", {"active": False}).json()["inventory_item"]["active"] is False


# ---- filters and search ------------------------------------------------------------------------------------


def ids(response):
    assert response.status_code == 200, response.json()
    return sorted(x["sku"] for x in response.json()["inventory_items"])


def test_filters(api):
    east = make_location("EAST")
    make_item("LOW", on_hand=2, reorder_point=5)
    edge = make_item("EDGE", on_hand=8, reorder_point=5)
    hold(edge, 3)  # available 5: at the reorder point counts as low
    make_item("PLENTY", on_hand=50, reorder_point=5, description="blue gadget")
    far = make_item("FAR", on_hand=0)
    inv.stock_receive(inventory_item=far, location=east, quantity=1, source=inv.Source("t"), by=SYSTEM)
    make_item("OLD", active=False)
    assert ids(api.get("/v1/inventory_items", {"low_stock": "true", "active": "true"})) == ["EDGE", "LOW"]
    assert ids(api.get("/v1/inventory_items", {"low_stock": "false"})) == ["FAR", "PLENTY"]
    assert ids(api.get("/v1/inventory_items", {"location": "EAST"})) == ["FAR"]
    assert ids(api.get("/v1/inventory_items", {"sku": "LOW,EDGE"})) == ["EDGE", "LOW"]
    assert ids(api.get("/v1/inventory_items", {"active": "false"})) == ["OLD"]
    assert ids(api.get("/v1/inventory_items", {"search": "gadget"})) == ["PLENTY"]
    assert ids(api.get("/v1/inventory/search", {"query": "EDG"})) == ["EDGE"]
    for bad in ({"low_stock": "maybe"}, {"active": "2"}, {"created_after": "yesterday"}):
        assert_error(api.get("/v1/inventory_items", bad), 400, "invalid_request_error", "validation_error")


def test_item_list_costs_a_fixed_number_of_queries(api):
    east = make_location("EAST")

    def one():
        item = make_item(on_hand=3)
        inv.stock_receive(inventory_item=item, location=east, quantity=2, source=inv.Source("t"), by=SYSTEM)

    assert_list_queries_constant(api, "/v1/inventory_items?limit=100", "inventory_items", one)


# ---- adjust ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/v1/inventory/{id}/adjust", "/v1/inventory/{id}/adjust/", "/v1/inventory_items/{id}/adjust"]
)
def test_adjust_in_the_python_clients_form(api, path):
    item = make_item(on_hand=10)
    response = api.post(
        path.format(id=item.pk), {"quantity": -2, "reason": "damaged", "metadata": {"ticket": "T-1", "bin": 4}}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["id"], body["object"], body["adjusted"], body["success"]) == (item.pk, "inventory_item", True, True)
    assert (body["inventory_item"]["warehouse"], body["inventory_item"]["available"]) == (8, 8)
    movement = StockMovement.objects.get(pk=body["movement"]["id"])
    assert (movement.reason, movement.reason_text, movement.quantity, movement.metadata) == (
        "adjustment",
        "damaged",
        -2,
        {"ticket": "T-1", "bin": 4},
    )
    assert "via API key" in movement.actor
    assert level(item) == (8, 0, 0)
    assert selectors.ledger_mismatches() == []


def test_adjust_accepts_a_numeric_string_and_a_location(api):
    east = make_location("EAST")
    item = make_item()
    response = api.post(f"/v1/inventory_items/{item.pk}/adjust", {"quantity": "3", "location": "EAST", "note": "found"})
    assert response.status_code == 200
    assert level(item, east) == (3, 0, 0)
    assert StockMovement.objects.get(item=item).note == "found"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"quantity": 0}, "validation_error"),
        ({"quantity": "two"}, "validation_error"),
        ({"quantity": 1.5}, "validation_error"),
        ({}, "validation_error"),
        ({"quantity": 1, "location": "NOWHERE"}, "validation_error"),
        ({"quantity": 1, "colour": "red"}, "unknown_field"),
    ],
)
def test_adjust_bad_input_is_400_and_changes_nothing(api, body, code):
    item = make_item(on_hand=4)
    before = stock_snapshot()
    assert_error(api.post(f"/v1/inventory/{item.pk}/adjust", body), 400, "invalid_request_error", code)
    assert stock_snapshot() == before


def test_adjust_below_zero_or_below_allocated_is_422(api):
    item = make_item(on_hand=5)
    hold(item, 3)
    before = stock_snapshot()
    body = assert_error(
        api.post(f"/v1/inventory/{item.pk}/adjust", {"quantity": -3}),
        422,
        "invalid_request_error",
        "insufficient_stock",
    )
    assert item.sku in body["errors"]
    assert stock_snapshot() == before
    assert api.post(f"/v1/inventory/{item.pk}/adjust", {"quantity": -2}).status_code == 200


def test_adjust_needs_the_named_permission():
    item = make_item(on_hand=5)
    clerk = api_client(make_user("inventory.change_inventoryitem"))
    before = stock_snapshot()
    body = assert_error(
        clerk.post(f"/v1/inventory/{item.pk}/adjust", {"quantity": 1}),
        403,
        "permission_error",
        "insufficient_permissions",
    )
    assert "inventory.adjust_inventoryitem" in body["message"]
    assert stock_snapshot() == before
    viewer = api_client(make_user("inventory.view_inventoryitem"))
    assert_error(
        viewer.post(f"/v1/inventory/{item.pk}/adjust", {"quantity": 1}),
        403,
        "permission_error",
        "insufficient_permissions",
    )


def test_adjust_unknown_item_is_404(api):
    assert_error(api.post("/v1/inventory/999/adjust", {"quantity": 1}), 404, "not_found_error", "resource_not_found")


# ---- transfer ----------------------------------------------------------------------------------------------


def test_transfer_moves_available_stock(api):
    east = make_location("EAST")
    item = make_item(on_hand=6)
    hold(item, 4)
    before = stock_snapshot()
    assert_error(
        api.post(
            f"/v1/inventory_items/{item.pk}/transfer", {"from_location": "MAIN", "to_location": "EAST", "quantity": 3}
        ),
        422,
        "invalid_request_error",
        "insufficient_stock",
    )
    assert_error(
        api.post(
            f"/v1/inventory_items/{item.pk}/transfer", {"from_location": "MAIN", "to_location": "MAIN", "quantity": 1}
        ),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert stock_snapshot() == before
    response = api.post(
        f"/v1/inventory_items/{item.pk}/transfer", {"from_location": "MAIN", "to_location": "EAST", "quantity": 2}
    )
    assert response.json()["transferred"] is True
    assert [(m["location"], m["quantity"]) for m in response.json()["movements"]] == [("MAIN", -2), ("EAST", 2)]
    assert (level(item), level(item, east)) == ((4, 4, 0), (2, 0, 0))
    assert selectors.ledger_mismatches() == []


def test_transfer_needs_the_named_permission():
    make_location("EAST")
    item = make_item(on_hand=6)
    clerk = api_client(make_user("inventory.change_inventoryitem", "inventory.adjust_inventoryitem"))
    body = {"from_location": "MAIN", "to_location": "EAST", "quantity": 1}
    assert_error(
        clerk.post(f"/v1/inventory_items/{item.pk}/transfer", body), 403, "permission_error", "insufficient_permissions"
    )
    assert level(item) == (6, 0, 0)


# ---- the ledger page ---------------------------------------------------------------------------------------


def test_movements_are_a_paginated_ledger_newest_first(api):
    east = make_location("EAST")
    item = make_item(on_hand=10)
    for quantity in (1, 2, 3):
        inv.stock_adjust(inventory_item=item, quantity=quantity, by=SYSTEM)
    inv.stock_transfer(
        inventory_item=item, from_location=inv.default_location(), to_location=east, quantity=4, by=SYSTEM
    )
    page = api.get(f"/v1/inventory_items/{item.pk}/movements", {"limit": 2}).json()
    assert (page["total_count"], page["limit"], page["offset"], page["has_more"]) == (6, 2, 0, True)
    assert [(m["location"], m["quantity"]) for m in page["movements"]] == [("EAST", 4), ("MAIN", -4)]
    rest = api.get(f"/v1/inventory/{item.pk}/movements", {"limit": 10, "offset": 2}).json()
    assert [m["quantity"] for m in rest["movements"]] == [3, 2, 1, 10]
    assert rest["has_more"] is False
    oldest = api.get(f"/v1/inventory_items/{item.pk}/movements", {"order_direction": "asc", "limit": 1}).json()
    assert oldest["movements"][0]["reason"] == "receipt"
    east_only = api.get(f"/v1/inventory_items/{item.pk}/movements", {"location": "EAST"}).json()
    assert east_only["total_count"] == 1
    assert api.get(f"/v1/inventory_items/{item.pk}/movements", {"reason": "transfer"}).json()["total_count"] == 2
    assert_error(
        api.get(f"/v1/inventory_items/{item.pk}/movements", {"reason": "theft"}),
        400,
        "invalid_request_error",
        "validation_error",
    )


def test_movements_cost_a_fixed_number_of_queries(api):
    item = make_item()
    assert_list_queries_constant(
        api,
        f"/v1/inventory_items/{item.pk}/movements?limit=100",
        "movements",
        lambda: inv.stock_adjust(inventory_item=item, quantity=1, by=SYSTEM),
        more=30,
    )


# ---- locations ---------------------------------------------------------------------------------------------


def test_locations_crud(api):
    response = api.post("/v1/locations", {"code": "EAST", "name": "East dock", "kind": "site"})
    assert response.status_code == 201
    loc = response.json()["location"]
    assert (loc["object"], loc["code"], loc["kind"], loc["active"]) == ("location", "EAST", "site", True)
    assert_error(api.post("/v1/locations", {"code": "EAST"}), 400, "invalid_request_error", "validation_error")
    assert api.patch(f"/v1/locations/{loc['id']}", {"name": "East"}).json()["location"]["name"] == "East"
    assert_error(
        api.patch(f"/v1/locations/{loc['id']}", {"code": "WEST"}), 400, "invalid_request_error", "read_only_field"
    )
    codes = [
        x["code"] for x in api.get("/v1/locations", {"order_by": "code", "order_direction": "asc"}).json()["locations"]
    ]
    assert codes == ["EAST", "MAIN"]
    assert [x["code"] for x in api.get("/v1/locations", {"kind": "site"}).json()["locations"]] == ["EAST"]
    assert api.delete(f"/v1/locations/{loc['id']}").json()["deleted"] is True
    main = Location.objects.get(code="MAIN")
    assert_error(api.delete(f"/v1/locations/{main.pk}"), 422, "invalid_request_error", "location_in_use")


def test_an_item_on_a_draft_document_is_in_use_not_a_conflict(api):
    """A draft purchase order moves no stock, but its line points at the item: deleting the item is a final
    422 naming what uses it, never a 409 that clients (the official one included) retry."""
    item = make_item()
    make_purchase_order([(item, 3)])
    body = assert_error(api.delete(f"/v1/inventory_items/{item.pk}"), 422, "invalid_request_error", "item_in_use")
    assert "purchase order line items" in body["message"]
    assert InventoryItem.objects.filter(pk=item.pk).exists() and level(item) == (0, 0, 0)


def test_a_location_that_documents_point_at_is_in_use_not_a_conflict(api):
    east = make_location("EAST")
    make_purchase_order([(make_item(), 3)], location=east)
    body = assert_error(api.delete(f"/v1/locations/{east.pk}"), 422, "invalid_request_error", "location_in_use")
    assert "purchase orders" in body["message"]
    assert Location.objects.filter(pk=east.pk).exists()


def test_a_location_with_stock_history_cannot_be_deleted(api):
    east = make_location("EAST")
    make_item(on_hand=1, location=east)
    assert_error(api.delete(f"/v1/locations/{east.pk}"), 422, "invalid_request_error", "location_in_use")
    assert Location.objects.filter(pk=east.pk).exists()
    assert_list_queries_constant(
        api, "/v1/locations?limit=100&kind=bin", "locations", lambda: make_location(kind="bin"), more=20
    )


@pytest.mark.parametrize("field", ["from_location", "to_location"])
@pytest.mark.parametrize("value", ["²", "١٢"])
def test_transfer_to_a_location_named_by_non_ascii_digits_is_400(api, field, value):
    # str.isdigit accepts "²", int() does not: the location lookup used to raise ValueError, a 500.
    make_location("EAST")
    item = make_item(on_hand=6)
    before = stock_snapshot()
    body = {"from_location": "MAIN", "to_location": "EAST", "quantity": 1, field: value}
    response = api.post(f"/v1/inventory_items/{item.pk}/transfer", body, format="json")
    assert_error(response, 400, "invalid_request_error", "validation_error")
    assert stock_snapshot() == before


HUGE = [10**30, 2**63, 2**31, 1_000_001]


@pytest.mark.parametrize("quantity", [*HUGE, *(-q for q in HUGE)])
def test_an_adjustment_beyond_the_quantity_bound_is_400(api, quantity):
    # 10**30 and 2**63 reached SQLite (OverflowError) and 2**31 PostgreSQL's integer column: 500s.
    item = make_item(on_hand=6)
    before = stock_snapshot()
    response = api.post(f"/v1/inventory_items/{item.pk}/adjust", {"quantity": quantity}, format="json")
    body = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert "quantity" in body["errors"]
    assert stock_snapshot() == before


@pytest.mark.parametrize("quantity", HUGE)
def test_a_transfer_beyond_the_quantity_bound_is_400(api, quantity):
    make_location("EAST")
    item = make_item(on_hand=6)
    before = stock_snapshot()
    body = {"from_location": "MAIN", "to_location": "EAST", "quantity": quantity}
    response = api.post(f"/v1/inventory_items/{item.pk}/transfer", body, format="json")
    assert_error(response, 400, "invalid_request_error", "validation_error")
    assert stock_snapshot() == before


def test_a_null_character_in_an_action_body_is_400(api):
    # PostgreSQL stores no NUL in text or jsonb: the adjust's metadata and a location code reached it, a 500.
    make_location("EAST")
    item = make_item(on_hand=6)
    before = stock_snapshot()
    for action, body in (
        ("adjust", {"quantity": 1, "metadata": {"note": "a\x00b"}}),
        ("transfer", {"from_location": "MA\x00IN", "to_location": "EAST", "quantity": 1}),
    ):
        response = api.post(f"/v1/inventory_items/{item.pk}/{action}", body, format="json")
        assert_error(response, 400, "invalid_request_error", "validation_error")
    response = api.post("/v1/packing_lists", {"purchase_order_number": "\x00"}, format="json")
    assert_error(response, 400, "invalid_request_error", "validation_error")
    assert stock_snapshot() == before
