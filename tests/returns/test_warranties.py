"""Warranty claims: create with lines, the replacement order on approval, cancelling with a replacement, and
the status words of `POST /v1/warranties/{id}/status` (the official Python client's `change_status`)."""

import pytest

from orders import services as order_services
from orders.models import Order
from returns.models import Warranty
from tests.factories import SYSTEM, api_client, level, make_order, make_user
from tests.helpers import assert_error
from tests.returns.support import assert_consistent, fresh, make_warranty, snapshot, stock

pytestmark = pytest.mark.django_db


def test_create_with_documented_fields_and_lines(api):
    stock()
    order = make_order(("A", 1, "10.00"), status="delivered")
    response = api.post(
        "/v1/warranty",
        {
            "order_id": order.pk,
            "customer_email": "ann@example.com",
            "enteredBy": "agent",
            "warrantyName": "Two years",
            "warrantyType": "MANUFACTURER",
            "expirationDate": "2028-01-31",
            "serial_number": "SN-1",
            "createdDate": "2026-01-02T03:04:05Z",
            "advanced_replacement": True,
            "warranty_line_items": [{"sku": "A", "name": "Widget", "serial_number": "SN-1", "quantity": 2}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    claim = response.json()["warranty"]
    assert claim["warrantyNumber"].startswith("WAR-") and claim["status"] == "requested"
    assert (claim["customerEmail"], claim["customer_email"], claim["enteredBy"], claim["expirationDate"]) == (
        "ann@example.com",
        "ann@example.com",
        "agent",
        "2028-01-31",
    )
    assert claim["created_date"] == claim["createdDate"] == "2026-01-02T03:04:05Z"
    assert (claim["order_id"], claim["customer_id"], claim["replacement_order_created"]) == (
        order.pk,
        order.customer_id,
        False,
    )
    assert [(x["sku"], x["quantity"], x["warranty_id"]) for x in claim["warranty_line_items"]] == [
        ("A", 2, claim["id"])
    ]
    listed = api.get("/v1/warranty/list?advanced_replacement=true").json()
    assert [w["id"] for w in listed["warranties"]] == [claim["id"]]
    assert api.get(f"/v1/warranties/{claim['id']}").json()["warranty"]["warrantyNumber"] == claim["warrantyNumber"]


def test_approving_with_advanced_replacement_creates_an_allocated_zero_price_order(api):
    a, _ = stock(10)
    order = make_order(("A", 1, "10.00"), status="delivered")
    claim = make_warranty(order, advanced_replacement=True, lines=[{"sku": "A", "quantity": 2}])
    ack = api.post(f"/v1/warranties/{claim.pk}/approve", {"notes": "advance"}, format="json").json()
    body = ack["warranty"]
    assert (ack["approved"], body["status"], body["replacement_order_created"]) == (True, "approved", True)
    replacement = Order.objects.get(pk=body["replacement_order"])
    assert (replacement.total, replacement.exchange_for_id, replacement.is_replacement_order, replacement.status) == (
        0,
        order.pk,
        True,
        "pending",
    )
    assert [(line.sku, line.quantity, line.unit_price) for line in replacement.order_line_items.all()] == [("A", 2, 0)]
    assert level(a) == (9, 2, 0)
    assert_consistent()


def test_create_replacement_in_the_body_overrides_the_claim(api):
    stock(10)
    order = make_order(("A", 1, "10.00"), status="delivered")
    plain = make_warranty(order)
    body = api.post(f"/v1/warranties/{plain.pk}/approve", {"create_replacement": True}, format="json").json()
    assert body["warranty"]["replacement_order_created"] is True
    asked = make_warranty(order, advanced_replacement=True)
    body = api.post(f"/v1/warranties/{asked.pk}/approve", {"create_replacement": False}, format="json").json()
    assert (body["warranty"]["status"], body["warranty"]["replacement_order"]) == ("approved", None)


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("no_order", "replacement_not_possible"),
        ("no_sku", "replacement_not_possible"),
        ("short", "insufficient_stock"),
        ("unknown", "unknown_sku"),
    ],
)
def test_a_replacement_that_cannot_be_made_refuses_the_approval(api, setup, code):
    stock(2)
    order = make_order(("A", 1, "10.00"), status="delivered")
    lines = {"no_sku": [{"name": "mystery"}], "short": [{"sku": "A", "quantity": 5}], "unknown": [{"sku": "ZZ"}]}
    claim = make_warranty(
        None if setup == "no_order" else order, advanced_replacement=True, lines=lines.get(setup, [{"sku": "A"}])
    )
    before = snapshot(claim)
    assert_error(api.post(f"/v1/warranties/{claim.pk}/approve"), 422, "invalid_request_error", code)
    assert snapshot(claim) == before
    assert Order.objects.count() == 1


def test_cancelling_a_claim_cancels_its_replacement_until_it_ships(api):
    a, _ = stock(10)
    order = make_order(("A", 1, "10.00"), status="delivered")
    claim = make_warranty(order, status="approved", advanced_replacement=True)
    replacement = fresh(claim).replacement_order
    assert level(a) == (9, 1, 0)
    ack = api.post(f"/v1/warranties/{claim.pk}/cancel", {"reason": "found it"}, format="json").json()
    assert (ack["warranty"]["status"], fresh(replacement).status, level(a)) == ("cancelled", "cancelled", (9, 0, 0))
    # Reopened and approved again: a new replacement, which ships; then cancelling is refused.
    api.post(f"/v1/warranties/{claim.pk}/reopen")
    api.post(f"/v1/warranties/{claim.pk}/approve")
    second = fresh(claim).replacement_order
    assert second.pk != replacement.pk
    order_services.order_ship(order=second, by=SYSTEM)
    before = snapshot(claim)
    assert_error(api.post(f"/v1/warranties/{claim.pk}/cancel"), 422, "invalid_request_error", "replacement_shipped")
    assert snapshot(claim) == before
    assert api.post(f"/v1/warranties/{claim.pk}/complete").json()["warranty"]["status"] == "completed"
    assert_consistent()


# Contract §4: each status word from each status → the status it leads to, or "422" (completed is final).
STATUS_WORDS = {
    "filed": {
        "requested": "requested",
        "approved": "422",
        "denied": "requested",
        "cancelled": "requested",
        "completed": "422",
    },
    "requested": {
        "requested": "requested",
        "approved": "422",
        "denied": "requested",
        "cancelled": "requested",
        "completed": "422",
    },
    "processing": {
        "requested": "requested",
        "approved": "422",
        "denied": "422",
        "cancelled": "422",
        "completed": "422",
    },
    "approved": {"requested": "approved", "approved": "422", "denied": "422", "cancelled": "422", "completed": "422"},
    "denied": {"requested": "denied", "approved": "422", "denied": "422", "cancelled": "422", "completed": "422"},
    "rejected": {"requested": "denied", "approved": "422", "denied": "422", "cancelled": "422", "completed": "422"},
    "completed": {"requested": "422", "approved": "completed", "denied": "422", "cancelled": "422", "completed": "422"},
    "cancelled": {
        "requested": "cancelled",
        "approved": "cancelled",
        "denied": "422",
        "cancelled": "422",
        "completed": "422",
    },
    "reopen": {
        "requested": "422",
        "approved": "422",
        "denied": "requested",
        "cancelled": "requested",
        "completed": "422",
    },
}


@pytest.mark.parametrize("status", ["requested", "approved", "denied", "cancelled", "completed"])
@pytest.mark.parametrize("word", list(STATUS_WORDS))
def test_status_words_map_onto_the_transitions(api, word, status):
    claim = make_warranty(status=status)
    expected = STATUS_WORDS[word][status]
    url = f"/v1/warranties/{claim.pk}/status"
    if expected == "422":
        before = snapshot(claim)
        error = assert_error(
            api.post(url, {"status": word}, format="json"), 422, "invalid_request_error", "invalid_state_transition"
        )
        assert f"its status is '{status}'" in error["message"]
        assert snapshot(claim) == before
        return
    ack = api.post(url, {"status": word.upper()}, format="json").json()
    assert (ack["status_changed"], ack["success"], ack["warranty"]["status"]) == (True, True, expected)
    assert fresh(claim).status == expected
    changed = expected != status
    assert (ack["transition"] is not None) == changed


def test_unknown_status_words_are_a_400_naming_the_vocabulary(api):
    claim = make_warranty()
    before = snapshot(claim)
    url = f"/v1/warranties/{claim.pk}/status"
    error = assert_error(api.post(url, {"status": "shipped"}), 400, "invalid_request_error", "validation_error")
    assert error["message"].startswith("status: Unknown status 'shipped'; use one of: filed, requested")
    for word in ("processing", "approved", "denied", "completed", "cancelled"):
        assert word in error["errors"]["status"]
    for body, code in (
        ({}, "validation_error"),
        ({"status": ""}, "validation_error"),
        ({"status": "approved", "bogus": 1}, "unknown_field"),
    ):
        assert_error(api.post(url, body, format="json"), 400, "invalid_request_error", code)
    assert snapshot(claim) == before


def test_status_words_obey_the_transitions_permissions():
    claim = make_warranty()
    clerk = api_client(make_user("returns.change_warranty"))
    before = snapshot(claim)
    assert_error(
        clerk.post(f"/v1/warranties/{claim.pk}/status", {"status": "approved"}, format="json"),
        403,
        "permission_error",
        "insufficient_permissions",
    )
    assert snapshot(claim) == before
    assert clerk.post(f"/v1/warranties/{claim.pk}/status", {"status": "cancelled"}).json()["warranty"]["status"] == (
        "cancelled"
    )


def test_warranty_lines_change_only_while_requested(api):
    claim = make_warranty()
    created = api.post("/v1/warranty_line_item", {"warranty_id": claim.pk, "sku": "B", "quantity": 3}, format="json")
    assert created.status_code == 201, created.content
    line = created.json()["warranty_line_item"]
    assert (
        api.patch(f"/v1/warranty_line_items/{line['id']}", {"quantity": 1}).json()["warranty_line_item"]["quantity"]
        == 1
    )
    api.post(f"/v1/warranties/{claim.pk}/deny", {"reason": "no"}, format="json")
    before = snapshot(claim)
    assert_error(
        api.patch(f"/v1/warranty_line_items/{line['id']}", {"quantity": 2}, format="json"),
        422,
        "invalid_request_error",
        "warranty_not_editable",
    )
    assert snapshot(claim) == before
    api.post(f"/v1/warranties/{claim.pk}/reopen")
    assert api.delete(f"/v1/warranty_line_items/{line['id']}").json()["deleted"] is True


def test_delete_only_before_the_decision_or_after_a_refusal(api):
    claim = make_warranty(status="approved")
    assert_error(api.delete(f"/v1/warranties/{claim.pk}"), 422, "invalid_request_error", "warranty_not_deletable")
    denied = make_warranty(status="denied")
    assert api.delete(f"/v1/warranties/{denied.pk}").json() == {"id": denied.pk, "object": "warranty", "deleted": True}
    assert not Warranty.objects.filter(pk=denied.pk).exists()
