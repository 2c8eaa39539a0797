"""Every write of a bill of materials, work order or manufacture order (and of their lines) leaves an audit row
in the document's history, named as the returns app names them (`create`, `update`, `add_line`, `change_line`,
`remove_line`), with the actor."""

import pytest

from manufacturing.models import BillOfMaterials, ManufactureOrder, WorkOrder
from tests.factories import make_item
from tests.helpers import history

pytestmark = pytest.mark.django_db


def test_bom_create_update_and_lines_then_revise(auditor):
    for sku in ("STOOL", "SEAT", "LEG"):
        make_item(sku)
    created = auditor.post(
        "/v1/bill_of_materials",
        {"name": "Stool", "part": "STOOL", "line_items": [{"part_number": "SEAT", "quantity": 1}]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    bom = created.json()["bill_of_materials"]
    assert auditor.patch(f"/v1/bill_of_materials/{bom['id']}", {"description": "v2"}).status_code == 200
    added = auditor.post(
        "/v1/bill_of_materials_line_items",
        {"bill_of_materials_number": bom["number"], "part_number": "LEG", "quantity": 3},
        format="json",
    )
    assert added.status_code == 201, added.json()
    line = added.json()["bill_of_materials_line_item"]["id"]
    assert auditor.patch(f"/v1/bill_of_materials_line_items/{line}", {"quantity": 4}).status_code == 200
    assert auditor.delete(f"/v1/bill_of_materials_line_items/{line}").status_code == 200
    assert auditor.post(f"/v1/bill_of_materials/{bom['id']}/activate").status_code == 200
    assert history(auditor, "bill_of_materials", bom["id"]) == [
        ("create", "draft", "draft", "auditor", "1 line"),
        ("update", "draft", "draft", "auditor", "changed description"),
        ("add_line", "draft", "draft", "auditor", "3 x LEG"),
        ("change_line", "draft", "draft", "auditor", f"line {line}: quantity"),
        ("remove_line", "draft", "draft", "auditor", "4 x LEG"),
        ("activate", "draft", "active", "auditor", ""),
    ]

    assert auditor.post(f"/v1/bill_of_materials/{bom['id']}/revise").status_code == 200
    draft = BillOfMaterials.objects.get(revised_from_id=bom["id"])
    assert history(auditor, "bill_of_materials", draft.pk) == [
        ("create", "draft", "draft", "auditor", f"revision 2 of {bom['number']}")
    ]


def test_work_order_create_update_and_lines(auditor, fan):
    created = auditor.post(
        "/v1/work_orders", {"bill_of_materials_number": fan.housing_bom.number, "quantity": 2}, format="json"
    )
    assert created.status_code == 201, created.json()
    wo = created.json()["work_order"]
    assert auditor.patch(f"/v1/work_orders/{wo['id']}", {"quantity": 3, "memo": "rush"}).status_code == 200
    added = auditor.post(
        "/v1/work_order_line_items",
        {"work_order_number": wo["number"], "part_number": "MOTOR", "unit_quantity": 1},
        format="json",
    )
    assert added.status_code == 201, added.json()
    line = added.json()["work_order_line_item"]["id"]
    assert auditor.patch(f"/v1/work_order_line_items/{line}", {"unit_quantity": 2}).status_code == 200
    assert auditor.delete(f"/v1/work_order_line_items/{line}").status_code == 200
    assert history(auditor, "work_orders", wo["id"]) == [
        ("create", "planned", "planned", "auditor", f"2 x HOUSING; from {fan.housing_bom.number}"),
        ("update", "planned", "planned", "auditor", "changed memo, quantity"),
        ("add_line", "planned", "planned", "auditor", "1 x MOTOR per unit"),
        ("change_line", "planned", "planned", "auditor", f"line {line}: unit_quantity"),
        ("remove_line", "planned", "planned", "auditor", "2 x MOTOR per unit"),
    ]


def test_manufacture_order_create_update_and_lines_then_its_work_orders(auditor, fan):
    created = auditor.post(
        "/v1/manufacture_orders",
        {"memo": "batch", "manufacture_order_line_items": [{"bom_number": fan.housing_bom.number, "quantity": 4}]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    mo = created.json()["manufacture_order"]
    assert auditor.patch(f"/v1/manufacture_orders/{mo['id']}", {"priority": "High"}).status_code == 200
    added = auditor.post(
        "/v1/manufacture_order_line_items",
        {"manufacture_order_number": mo["number"], "part_number": "FAN", "quantity": 2},
        format="json",
    )
    assert added.status_code == 201, added.json()
    line = added.json()["manufacture_order_line_item"]["id"]
    assert auditor.patch(f"/v1/manufacture_order_line_items/{line}", {"quantity": 5}).status_code == 200
    assert auditor.delete(f"/v1/manufacture_order_line_items/{line}").status_code == 200
    assert auditor.post(f"/v1/manufacture_orders/{mo['id']}/submit").status_code == 200
    (wo,) = WorkOrder.objects.filter(manufacture_order_id=mo["id"])
    assert history(auditor, "manufacture_orders", mo["id"]) == [
        ("create", "draft", "draft", "auditor", "1 line"),
        ("update", "draft", "draft", "auditor", "changed priority"),
        ("add_line", "draft", "draft", "auditor", "2 x FAN"),
        ("change_line", "draft", "draft", "auditor", f"line {line}: quantity"),
        ("remove_line", "draft", "draft", "auditor", "5 x FAN"),
        ("submit", "draft", "submitted", "auditor", f"created {wo.number}"),
    ]
    assert history(auditor, "work_orders", wo.pk) == [
        (
            "create",
            "planned",
            "planned",
            "auditor",
            f"4 x HOUSING; from {fan.housing_bom.number}; for manufacture order {mo['number']}",
        )
    ]
    assert ManufactureOrder.objects.get(pk=mo["id"]).status == "submitted"
