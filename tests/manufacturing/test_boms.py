"""Bills of materials: documented fields, lines, cycles at any depth, activation rules, revisions,
explosion, cost roll-up and build to stock."""

import pytest
from django.db import IntegrityError, transaction
from django_fsm_log.models import StateLog

from inventory.models import StockMovement
from inventory.selectors import ledger_mismatches
from manufacturing import services as mfg
from manufacturing.models import BillOfMaterials, BillOfMaterialsLineItem, WorkOrder
from tests.factories import SYSTEM, api_client, level, make_bom, make_item, make_location, make_user
from tests.helpers import assert_error
from tests.inventory.support import stock_snapshot

pytestmark = pytest.mark.django_db

BOM_KEYS = {
    "id",
    "object",
    "number",
    "name",
    "description",
    "groups",
    "valid",
    "part",
    "revision",
    "revised_from",
    "status",
    "line_items",
    "created_at",
    "updated_at",
}
LINE_KEYS = {
    "id",
    "object",
    "bill_of_materials",
    "bill_of_materials_number",
    "line_type",
    "part_number",
    "part_name",
    "purchase_supply_type",
    "quantity",
    "status",
    "created_at",
    "updated_at",
}


# ---- fields and lines --------------------------------------------------------------------------------------


def test_create_with_the_documented_fields_and_nested_lines(api):
    make_item("SEAT", description="Seat")
    make_item("LEG")
    make_item("STOOL")
    body = {
        "name": "Stool",
        "description": "Three legs and a seat",
        "groups": "furniture",
        "valid": True,
        "part": "STOOL",
        "line_items": [
            {"part_number": "SEAT", "quantity": 1},
            {"part_number": "LEG", "quantity": "3", "line_type": "Component", "purchase_supply_type": "Purchase"},
        ],
    }
    response = api.post("/v1/bill_of_materials", body)
    assert response.status_code == 201, response.json()
    bom = response.json()["bill_of_materials"]
    assert set(bom) == BOM_KEYS
    assert (bom["object"], bom["number"], bom["part"], bom["revision"], bom["status"]) == (
        "bill_of_materials",
        f"BOM-{bom['id']:06d}",
        "STOOL",
        1,
        "draft",
    )
    assert [set(line) == LINE_KEYS for line in bom["line_items"]] == [True, True]
    assert [(li["part_number"], li["part_name"], li["quantity"]) for li in bom["line_items"]] == [
        ("SEAT", "Seat", 1),
        ("LEG", "", 3),
    ]
    assert {li["bill_of_materials_number"] for li in bom["line_items"]} == {bom["number"]}
    assert response["Location"].endswith(f"/v1/bill_of_materials/{bom['id']}")


def test_unknown_skus_are_400_and_nothing_is_created(api):
    make_item("STOOL")
    body = assert_error(
        api.post(
            "/v1/bill_of_materials",
            {"part": "STOOL", "line_items": [{"part_number": "NOPE", "quantity": 1}]},
        ),
        400,
        "invalid_request_error",
        "unknown_sku",
    )
    assert "NOPE" in body["message"]
    assert_error(api.post("/v1/bill_of_materials", {"part": "GHOST"}), 400, "invalid_request_error", "unknown_sku")
    assert BillOfMaterials.objects.count() == 0


def test_quantity_must_be_positive_and_status_is_server_owned(api):
    make_item("A")
    make_item("B")
    assert_error(
        api.post("/v1/bill_of_materials", {"part": "A", "line_items": [{"part_number": "B", "quantity": 0}]}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    body = assert_error(
        api.post("/v1/bill_of_materials", {"part": "A", "status": "active"}),
        400,
        "invalid_request_error",
        "read_only_field",
    )
    assert "activate" in body["errors"]["status"]
    assert BillOfMaterials.objects.count() == 0


def test_line_resource_and_the_documented_root_alias(api):
    make_item("A")
    make_item("B")
    bom = make_bom("A", [("B", 1)], activate=False)
    response = api.post(
        "/api/bill_of_materials_line_items",
        {"bill_of_materials_number": bom.number, "part_number": "B", "quantity": 2, "status": "Pending"},
    )
    assert response.status_code == 201, response.json()
    line = response.json()["bill_of_materials_line_item"]
    assert (line["object"], line["bill_of_materials"], line["quantity"], line["status"]) == (
        "bill_of_materials_line_item",
        bom.pk,
        2,
        "Pending",
    )
    patched = api.patch(f"/v1/bill_of_materials_line_items/{line['id']}", {"quantity": 5}).json()
    assert patched["bill_of_materials_line_item"]["quantity"] == 5
    listed = api.get(f"/v1/bill_of_materials_line_items?bill_of_materials={bom.pk}&order_direction=asc").json()
    assert [li["quantity"] for li in listed["bill_of_materials_line_items"]] == [1, 5]
    assert api.delete(f"/v1/bill_of_materials_line_items/{line['id']}").json()["deleted"] is True
    assert BillOfMaterialsLineItem.objects.filter(bill_of_materials=bom).count() == 1


def test_lines_change_only_on_a_draft(api, fan):
    line = fan.bom.line_items.first()
    assert_error(
        api.post(
            "/v1/bill_of_materials_line_items",
            {"bill_of_materials_number": fan.bom.number, "part_number": "BOLT", "quantity": 1},
        ),
        422,
        "invalid_request_error",
        "bom_not_editable",
    )
    assert_error(
        api.patch(f"/v1/bill_of_materials_line_items/{line.pk}", {"quantity": 9}),
        422,
        "invalid_request_error",
        "bom_not_editable",
    )
    assert_error(
        api.delete(f"/v1/bill_of_materials_line_items/{line.pk}"), 422, "invalid_request_error", "bom_not_editable"
    )
    assert [(li.item.sku, li.quantity) for li in fan.bom.line_items.all()] == [
        ("HOUSING", 1),
        ("MOTOR", 1),
        ("BOLT", 4),
    ]


# ---- cycles ------------------------------------------------------------------------------------------------


def test_a_cycle_at_depth_three_is_400_naming_the_path(api):
    for sku in ("A", "B", "C", "D"):
        make_item(sku)
    make_bom("B", [("C", 1)])
    make_bom("C", [("D", 1), ("A", 2)])
    body = assert_error(
        api.post("/v1/bill_of_materials", {"part": "A", "line_items": [{"part_number": "B", "quantity": 1}]}),
        400,
        "invalid_request_error",
        "bom_cycle",
    )
    assert "A → B → C → A" in body["message"]
    assert BillOfMaterials.objects.filter(part__sku="A").count() == 0

    draft = make_bom("A", [("D", 1)], activate=False)
    body = assert_error(
        api.post(
            "/v1/bill_of_materials_line_items",
            {"bill_of_materials_number": draft.number, "part_number": "B", "quantity": 1},
        ),
        400,
        "invalid_request_error",
        "bom_cycle",
    )
    assert "A → B → C → A" in body["message"]
    line = draft.line_items.get()
    assert_error(
        api.patch(f"/v1/bill_of_materials_line_items/{line.pk}", {"part_number": "B"}),
        400,
        "invalid_request_error",
        "bom_cycle",
    )
    assert [li.item.sku for li in draft.line_items.all()] == ["D"]


def test_a_part_needing_itself_directly_is_a_cycle(api):
    make_item("A")
    body = assert_error(
        api.post("/v1/bill_of_materials", {"part": "A", "line_items": [{"part_number": "A", "quantity": 1}]}),
        400,
        "invalid_request_error",
        "bom_cycle",
    )
    assert "A → A" in body["message"]


def test_drafts_that_would_close_a_cycle_are_refused_at_activation(api):
    make_item("X")
    make_item("Y")
    x = make_bom("X", [("Y", 1)], activate=False)
    y = make_bom("Y", [("X", 1)], activate=False)  # X has no active BOM yet: not a cycle so far
    assert api.post(f"/v1/bill_of_materials/{x.pk}/activate").status_code == 200
    body = assert_error(api.post(f"/v1/bill_of_materials/{y.pk}/activate"), 400, "invalid_request_error", "bom_cycle")
    assert "Y → X → Y" in body["message"]
    y.refresh_from_db()
    assert y.status == "draft"


def test_changing_a_drafts_part_rechecks_cycles(api):
    for sku in ("P", "Q", "R"):
        make_item(sku)
    make_bom("Q", [("P", 1)])
    draft = make_bom("R", [("Q", 1)], activate=False)
    assert_error(
        api.patch(f"/v1/bill_of_materials/{draft.pk}", {"part": "P"}), 400, "invalid_request_error", "bom_cycle"
    )
    draft.refresh_from_db()
    assert draft.part.sku == "R"


# ---- activation, obsolescence, revisions -------------------------------------------------------------------


def test_activate_needs_a_part_and_lines(api):
    make_item("A")
    no_part = mfg.bom_create(by=SYSTEM, name="loose")
    no_lines = mfg.bom_create(by=SYSTEM, part="A")
    for bom in (no_part, no_lines):
        assert_error(
            api.post(f"/v1/bill_of_materials/{bom.pk}/activate"), 422, "invalid_request_error", "bom_incomplete"
        )
        bom.refresh_from_db()
        assert bom.status == "draft"


def test_one_active_bom_per_part(api, fan):
    second = make_bom(fan.product, [(fan.motor, 2)], activate=False)
    assert second.revision == 2
    body = assert_error(
        api.post(f"/v1/bill_of_materials/{second.pk}/activate"), 422, "invalid_request_error", "active_bom_exists"
    )
    assert fan.bom.number in body["message"]
    response = api.post(f"/v1/bill_of_materials/{second.pk}/activate", {"supersede": True, "reason": "new motor"})
    assert response.status_code == 200
    assert response.json()["activated"] is True
    fan.bom.refresh_from_db()
    second.refresh_from_db()
    assert (fan.bom.status, second.status) == ("obsolete", "active")
    # the database agrees, whatever the code does
    with pytest.raises(IntegrityError), transaction.atomic():
        BillOfMaterials.objects.filter(pk=fan.bom.pk).update(status="active")


def test_revise_copies_an_active_bom_into_a_new_draft(api, fan):
    response = api.post(f"/v1/bill_of_materials/{fan.bom.pk}/revise", {"bill_of_materials_id": fan.bom.pk})
    assert response.status_code == 200
    body = response.json()
    new = body["bill_of_materials"]
    assert (body["revised"], body["success"], body["object"], body["id"]) == (
        True,
        True,
        "bill_of_materials",
        new["id"],
    )
    assert (new["status"], new["revision"], new["revised_from"], new["part"], new["name"]) == (
        "draft",
        2,
        fan.bom.pk,
        "FAN",
        "Fan",
    )
    assert [(li["part_number"], li["quantity"]) for li in new["line_items"]] == [
        ("HOUSING", 1),
        ("MOTOR", 1),
        ("BOLT", 4),
    ]
    fan.bom.refresh_from_db()
    assert fan.bom.status == "active"
    assert list(StateLog.objects.for_(fan.bom).values_list("transition", "source_state", "state"))[-1] == (
        "revise",
        "active",
        "active",
    )
    # a draft is not revised: it is edited
    assert_error(
        api.post(f"/v1/bill_of_materials/{new['id']}/revise"), 422, "invalid_request_error", "invalid_state_transition"
    )


@pytest.mark.parametrize(
    ("status", "action", "allowed"),
    [
        ("draft", "activate", True),
        ("draft", "obsolete", True),
        ("draft", "revise", False),
        ("draft", "buildtostock", False),
        ("active", "activate", False),
        ("active", "obsolete", True),
        ("active", "revise", True),
        ("active", "buildtostock", True),
        ("obsolete", "activate", False),
        ("obsolete", "obsolete", False),
        ("obsolete", "revise", False),
        ("obsolete", "buildtostock", False),
    ],
)
def test_bom_transitions(api, status, action, allowed):
    make_item("PART")
    make_item("COMP", on_hand=10)
    bom = make_bom("PART", [("COMP", 1)], activate=status != "draft")
    if status == "obsolete":
        mfg.bom_obsolete(bill_of_materials=bom, by=SYSTEM)
    before = stock_snapshot()
    response = api.post(f"/v1/bill_of_materials/{bom.pk}/{action}")
    bom.refresh_from_db()
    if allowed:
        assert response.status_code == 200, response.json()
    else:
        body = assert_error(response, 422, "invalid_request_error", "invalid_state_transition")
        assert f"'{status}'" in body["message"]
        assert bom.status == status
        assert stock_snapshot() == before  # a refused buildtostock moves nothing
    assert ledger_mismatches() == []


def test_delete_keeps_active_boms_and_boms_in_use(api, fan):
    assert_error(api.delete(f"/v1/bill_of_materials/{fan.bom.pk}"), 422, "invalid_request_error", "bom_not_editable")
    mfg.work_order_create(by=SYSTEM, bill_of_materials=fan.bom, quantity=1)
    mfg.bom_obsolete(bill_of_materials=fan.bom, by=SYSTEM)
    assert_error(api.delete(f"/v1/bill_of_materials/{fan.bom.pk}"), 422, "invalid_request_error", "document_in_use")
    draft = make_bom(fan.product, [(fan.bolt, 1)], activate=False)
    assert api.delete(f"/v1/bill_of_materials/{draft.pk}").json() == {
        "id": draft.pk,
        "object": "bill_of_materials",
        "deleted": True,
    }


# ---- explosion and cost ------------------------------------------------------------------------------------


def test_explosion_of_a_two_level_bom(api, fan):
    response = api.get(f"/v1/bill_of_materials/{fan.bom.pk}/explode?quantity=3")
    assert response.status_code == 200
    explosion = response.json()["explosion"]
    assert (explosion["quantity"], explosion["part"], explosion["location"], explosion["has_shortage"]) == (
        3,
        "FAN",
        None,
        False,
    )
    assert [(c["part_number"], c["quantity"], c["available"], c["shortage"]) for c in explosion["components"]] == [
        ("BOLT", 3 * 4 + 3 * 8, 100, 0),
        ("MOTOR", 3, 5, 0),
        ("PANEL", 3 * 2, 20, 0),
    ]
    assert [
        (row["level"], row["part_number"], row["quantity_per"], row["quantity"], row["bill_of_materials_number"])
        for row in explosion["tree"]
    ] == [
        (1, "HOUSING", 1, 3, fan.housing_bom.number),
        (2, "PANEL", 2, 6, None),
        (2, "BOLT", 8, 24, None),
        (1, "MOTOR", 1, 3, None),
        (1, "BOLT", 4, 12, None),
    ]


def test_explosion_shows_shortages_and_counts_stock_where_asked(api, fan):
    annex = make_location("ANNEX")
    make_item("SPARE", on_hand=1)
    from inventory import services as inv

    inv.stock_receive(inventory_item=fan.motor, location=annex, quantity=4, source=inv.Source("seed"), by=SYSTEM)
    everywhere = api.get(f"/v1/bill_of_materials/{fan.bom.pk}/explode", {"quantity": 10}).json()["explosion"]
    assert {c["part_number"]: (c["quantity"], c["available"], c["shortage"]) for c in everywhere["components"]} == {
        "BOLT": (120, 100, 20),
        "MOTOR": (10, 9, 1),
        "PANEL": (20, 20, 0),
    }
    assert everywhere["has_shortage"] is True
    at_annex = api.get(f"/v1/bill_of_materials/{fan.bom.pk}/explode?quantity=2&location=ANNEX").json()["explosion"]
    assert at_annex["location"] == "ANNEX"
    assert {c["part_number"]: (c["available"], c["shortage"]) for c in at_annex["components"]} == {
        "BOLT": (0, 24),
        "MOTOR": (4, 0),
        "PANEL": (0, 4),
    }
    assert_error(
        api.get(f"/v1/bill_of_materials/{fan.bom.pk}/explode?quantity=0"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert_error(
        api.get(f"/v1/bill_of_materials/{fan.bom.pk}/explode?location=NOWHERE"),
        400,
        "invalid_request_error",
        "unknown_location",
    )


def test_cost_rolls_up_sub_assemblies_from_their_own_bom(api, fan):
    cost = api.get(f"/v1/bill_of_materials/{fan.bom.pk}/cost").json()["cost"]
    # housing: 2 × 5.00 + 8 × 0.10 = 10.80 (its item's own unit_cost of 99.00 is not used)
    assert [
        (line["part_number"], line["quantity"], line["unit_cost"], line["extended_cost"], line["cost_source"])
        for line in cost["lines"]
    ] == [
        ("HOUSING", 1, "10.80", "10.80", "bill_of_materials"),
        ("MOTOR", 1, "30.00", "30.00", "unit_cost"),
        ("BOLT", 4, "0.10", "0.40", "unit_cost"),
    ]
    assert (cost["unit_cost"], cost["total_cost"]) == ("41.20", "41.20")
    assert api.get(f"/v1/bill_of_materials/{fan.bom.pk}/cost?quantity=5").json()["cost"]["total_cost"] == "206.00"
    housing = api.get(f"/v1/bill_of_materials/{fan.housing_bom.pk}/cost").json()["cost"]
    assert housing["unit_cost"] == "10.80"


# ---- build to stock ----------------------------------------------------------------------------------------


def test_build_to_stock_consumes_direct_components_and_adds_the_part(api, fan):
    make_item("DUMMY")
    from inventory import services as inv

    inv.stock_receive(
        inventory_item=fan.housing, location=inv.default_location(), quantity=3, source=inv.Source("seed"), by=SYSTEM
    )
    before = StockMovement.objects.count()
    response = api.post(
        f"/v1/bill_of_materials/{fan.bom.pk}/buildtostock", {"quantity": 2, "bill_of_materials_id": fan.bom.pk}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["built_to_stock"], body["success"], body["object"], body["id"]) == (
        True,
        True,
        "bill_of_materials",
        fan.bom.pk,
    )
    assert body["build"] == {
        "part": "FAN",
        "quantity": 2,
        "location": "MAIN",
        "consumed": [
            {"part_number": "BOLT", "quantity": 8},
            {"part_number": "HOUSING", "quantity": 2},
            {"part_number": "MOTOR", "quantity": 2},
        ],
    }
    # single level: the housing is consumed as a stocked part; its panels are untouched
    assert [level(x) for x in (fan.housing, fan.motor, fan.bolt, fan.panel, fan.product)] == [
        (1, 0, 0),
        (3, 0, 0),
        (92, 0, 0),
        (20, 0, 0),
        (2, 0, 0),
    ]
    moves = StockMovement.objects.filter(source_type="bill_of_materials", source_id=fan.bom.pk)
    assert sorted(moves.values_list("item__sku", "reason", "quantity")) == [
        ("BOLT", "production_consume", -8),
        ("FAN", "production_output", 2),
        ("HOUSING", "production_consume", -2),
        ("MOTOR", "production_consume", -2),
    ]
    assert StockMovement.objects.count() == before + 4
    assert StateLog.objects.for_(fan.bom).filter(transition="buildtostock").count() == 1
    assert ledger_mismatches() == []


def test_build_to_stock_shortage_lists_every_short_component_and_moves_nothing(api, fan):
    before = StockMovement.objects.count()
    body = assert_error(
        api.post(f"/v1/bill_of_materials/{fan.bom.pk}/buildtostock", {"quantity": 30}),
        422,
        "invalid_request_error",
        "insufficient_stock",
    )
    assert set(body["errors"]) == {"HOUSING", "MOTOR", "BOLT"}
    assert "HOUSING at MAIN (requested 30, available 0)" in body["message"]
    assert [level(x) for x in (fan.housing, fan.motor, fan.bolt, fan.product)] == [
        (0, 0, 0),
        (5, 0, 0),
        (100, 0, 0),
        (0, 0, 0),
    ]
    assert StockMovement.objects.count() == before
    assert not StateLog.objects.for_(fan.bom).filter(transition="buildtostock").exists()
    assert ledger_mismatches() == []


def test_build_to_stock_at_a_location_with_an_empty_body_builds_one(fan):
    from inventory import services as inv

    annex = make_location("ANNEX")
    for item, quantity in ((fan.panel, 2), (fan.bolt, 8)):
        inv.stock_receive(inventory_item=item, location=annex, quantity=quantity, source=inv.Source("seed"), by=SYSTEM)
    client = api_client()
    assert (
        client.post(f"/v1/bill_of_materials/{fan.housing_bom.pk}/buildtostock", {"location": "ANNEX"}).status_code
        == 200
    )
    assert [level(x, annex) for x in (fan.panel, fan.bolt, fan.housing)] == [(0, 0, 0), (0, 0, 0), (1, 0, 0)]
    response = client.post(f"/v1/bill_of_materials/{fan.housing_bom.pk}/buildtostock")
    assert response.status_code == 200
    assert level(fan.housing) == (1, 0, 0)
    assert ledger_mismatches() == []


def test_build_to_stock_needs_its_named_permission(fan):
    before = stock_snapshot()
    clerk = api_client(make_user("manufacturing.change_billofmaterials", "manufacturing.view_billofmaterials"))
    body = assert_error(
        clerk.post(f"/v1/bill_of_materials/{fan.housing_bom.pk}/buildtostock", {"quantity": 1}),
        403,
        "permission_error",
        "insufficient_permissions",
    )
    assert "manufacturing.buildtostock_billofmaterials" in body["message"]
    assert level(fan.housing) == (0, 0, 0)
    assert level(fan.panel) == (20, 0, 0)
    assert stock_snapshot() == before


# ---- lists -------------------------------------------------------------------------------------------------


def test_list_alias_filters_search_and_history(api, fan):
    listed = api.get("/v1/bill_of_materials/list?status=active&part=fan").json()
    assert [b["number"] for b in listed["bill_of_materials"]] == [fan.bom.number]
    assert api.get("/v1/bill_of_materials/search?query=housing").json()["total_count"] == 1
    assert api.get("/v1/bill_of_materials?status=draft,obsolete").json()["total_count"] == 0
    assert_error(api.get("/v1/bill_of_materials?status=bogus"), 400, "invalid_request_error", "validation_error")
    history = api.get(f"/v1/bill_of_materials/{fan.bom.pk}/history").json()["history"]
    assert [(h["transition"], h["source_state"], h["state"]) for h in history] == [
        ("activate", "draft", "active"),
        ("create", "draft", "draft"),
    ]


def test_a_bom_named_by_non_ascii_digits_is_400(api):
    # "²" passed str.isdigit and then failed int(): a 500.
    make_item("WIDGET")
    count = (BillOfMaterialsLineItem.objects.count(), WorkOrder.objects.count())
    body = {"bill_of_materials_number": "²", "part_number": "WIDGET", "quantity": 1}
    response = api.post("/v1/bill_of_materials_line_items", body, format="json")
    assert_error(response, 400, "invalid_request_error", "unknown_document")
    response = api.post("/v1/work_orders", {"bill_of_materials_number": "²", "quantity": 1}, format="json")
    assert_error(response, 400, "invalid_request_error", "unknown_document")
    assert (BillOfMaterialsLineItem.objects.count(), WorkOrder.objects.count()) == count


def test_a_null_character_in_the_part_is_400(api):
    # PostgreSQL stores no NUL in text: the part lookup by SKU reached it, a 500.
    make_item("WIDGET")
    response = api.post("/v1/bill_of_materials", {"part": "WIDGET\x00", "line_items": []}, format="json")
    assert_error(response, 400, "invalid_request_error", "validation_error")
    assert BillOfMaterials.objects.count() == 0


@pytest.mark.parametrize("view", ["explode", "cost"])
@pytest.mark.parametrize("quantity", [1306745407955590912, 10**30, 1_000_001])
def test_explode_and_cost_of_a_quantity_past_the_bound_are_400(api, view, quantity):
    # Found by schemathesis: cost?quantity=1306745407955590912 rounded a Decimal past its context (a 500).
    bom = make_bom(make_item("KIT"), [(make_item("PART", unit_cost="1.25"), 3)])
    response = api.get(f"/v1/bill_of_materials/{bom.pk}/{view}", {"quantity": quantity})
    body = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert "quantity" in body["errors"]


def test_the_cost_of_a_deep_expensive_bom_is_shown_to_the_cent(api):
    # Two levels of 1,000,000 a unit at 9,999,999,999.99: the cost needs more than Decimal's default 28 digits
    # to the cent, and quantize raised InvalidOperation (a 500).
    gem = make_item("GEM", unit_cost="9999999999.99")
    setting = make_item("SETTING")
    make_bom(setting, [(gem, 1_000_000)])
    crown = make_bom(make_item("CROWN"), [(setting, 1_000_000)])
    response = api.get(f"/v1/bill_of_materials/{crown.pk}/cost", {"quantity": 1_000_000})
    assert response.status_code == 200, response.content
    cost = response.json()["cost"]
    assert cost["unit_cost"] == "9999999999990000000000.00"
    assert cost["total_cost"] == "9999999999990000000000000000.00"
