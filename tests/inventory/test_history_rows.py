"""Every write of a purchase order, packing list or cycle count leaves an audit row in its history, named as the
returns app names them (`create`, `update`, `add_line`, `change_line`, `remove_line`), with the actor."""

import pytest

from tests.factories import make_item
from tests.helpers import assert_error, history

pytestmark = pytest.mark.django_db


def test_purchase_order_create_and_update_with_new_lines(auditor):
    make_item("PO-A", unit_cost="25.00")
    make_item("PO-B")
    created = auditor.post(
        "/v1/purchase_orders",
        {"vendor": "Acme", "purchase_order_line_items": [{"sku": "PO-A", "quantity_ordered": 1}]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    po = created.json()["purchase_order"]
    lines = [{"sku": "PO-A", "quantity_ordered": 990, "unit_cost": "50.00"}, {"sku": "PO-B", "quantity_ordered": 1}]
    patched = auditor.patch(
        f"/v1/purchase_orders/{po['id']}", {"description": "rush", "purchase_order_line_items": lines}, format="json"
    )
    assert patched.json()["purchase_order"]["total"] == "49500.00"
    assert auditor.patch(f"/v1/purchase_orders/{po['id']}", {"vendor": "Acme Ltd"}).status_code == 200
    assert history(auditor, "purchase_orders", po["id"]) == [
        ("create", "draft", "draft", "auditor", "1 line, total 25.00"),
        (
            "update",
            "draft",
            "draft",
            "auditor",
            "changed description, lines; replaced the lines: 2 lines, total 25.00 to 49500.00",
        ),
        ("update", "draft", "draft", "auditor", "changed vendor"),
    ]


def test_a_refused_purchase_order_update_leaves_no_row(auditor):
    make_item("PO-C")
    po = auditor.post(
        "/v1/purchase_orders", {"purchase_order_line_items": [{"sku": "PO-C", "quantity_ordered": 2}]}, format="json"
    ).json()["purchase_order"]
    assert auditor.post(f"/v1/purchase_orders/{po['id']}/submit").status_code == 200
    assert_error(
        auditor.patch(
            f"/v1/purchase_orders/{po['id']}",
            {"purchase_order_line_items": [{"sku": "PO-C", "quantity_ordered": 9}]},
            format="json",
        ),
        422,
        "invalid_request_error",
        "not_editable",
    )
    assert [row[0] for row in history(auditor, "purchase_orders", po["id"])] == ["create", "submit"]


def test_packing_list_create_update_and_its_items(auditor):
    make_item("PL-A")
    make_item("PL-B")
    created = auditor.post(
        "/v1/packing_lists",
        {"tracking_number": "T1", "packing_list_items": [{"sku": "PL-A", "quantity": 1}]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    pl = created.json()["packing_list"]["id"]
    patched = auditor.patch(
        f"/v1/packing_lists/{pl}",
        {"tracking_number": "T2", "packing_list_items": [{"sku": "PL-A", "quantity": 2}]},
        format="json",
    )
    assert patched.status_code == 200, patched.json()
    added = auditor.post("/v1/packing_list_items", {"packing_list": pl, "sku": "PL-B", "quantity": 3}, format="json")
    assert added.status_code == 201, added.json()
    row = added.json()["packing_list_item"]["id"]
    assert auditor.patch(f"/v1/packing_list_items/{row}", {"quantity": 4}, format="json").status_code == 200
    assert auditor.delete(f"/v1/packing_list_items/{row}").status_code == 200
    assert history(auditor, "packing_lists", pl) == [
        ("create", "draft", "draft", "auditor", "1 item"),
        ("update", "draft", "draft", "auditor", "changed items, tracking_number; replaced the items: 1 item"),
        ("add_line", "draft", "draft", "auditor", "3 x PL-B"),
        ("change_line", "draft", "draft", "auditor", f"line {row}: quantity"),
        ("remove_line", "draft", "draft", "auditor", "4 x PL-B"),
    ]


def test_an_arrival_by_patch_is_its_own_row(auditor):
    make_item("PL-C")
    pl = auditor.post(
        "/v1/packing_lists", {"packing_list_items": [{"sku": "PL-C", "quantity": 2}]}, format="json"
    ).json()["packing_list"]
    assert auditor.post(f"/v1/packing_lists/{pl['id']}/submit").status_code == 200
    row = pl["packing_list_items"][0]["id"]
    assert auditor.patch(f"/v1/packing_list_items/{row}", {"arrived": True}, format="json").status_code == 200
    assert [r[:3] for r in history(auditor, "packing_lists", pl["id"])] == [
        ("create", "draft", "draft"),
        ("submit", "draft", "submitted"),
        ("arrive", "submitted", "submitted"),
        ("receive", "submitted", "received"),
    ]


def test_cycle_count_create_and_update(auditor):
    make_item("CC-A")
    make_item("CC-B")
    created = auditor.post(
        "/v1/cycle_counts", {"assigned_user": "kim", "cycle_count_line_items": [{"part": "CC-A"}]}, format="json"
    )
    assert created.status_code == 201, created.json()
    cc = created.json()["cycle_count"]["id"]
    patched = auditor.patch(
        f"/v1/cycle_counts/{cc}",
        {"assigned_user": "lee", "cycle_count_line_items": [{"part": "CC-A"}, {"part": "CC-B"}]},
        format="json",
    )
    assert patched.status_code == 200, patched.json()
    assert auditor.post(f"/v1/cycle_counts/{cc}/start").status_code == 200
    assert history(auditor, "cycle_counts", cc) == [
        ("create", "open", "open", "auditor", "1 line"),
        ("update", "open", "open", "auditor", "changed assigned_user, lines; replaced the lines: 2 lines"),
        ("start", "open", "in_progress", "auditor", ""),
    ]
