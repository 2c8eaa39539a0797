"""An action that answers from what its service wrote (stateset.prefetch) answers exactly what a fresh read of
the order says: same fields, same values, same related rows."""

from __future__ import annotations

import pytest

from tests.factories import make_customer, make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(api):
    make_item("M1", on_hand=100), make_item("M2", on_hand=100)
    body = {
        "customer": make_customer().pk,
        "order_line_items": [
            {"sku": "M1", "quantity": 2, "unit_price": "10.00"},
            {"sku": "M2", "quantity": 1, "unit_price": "5.55"},
        ],
        "tags": ["gift"],
        "shipping_amount": "4.99",
    }
    response = api.post("/v1/orders", body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()["order"]
    assert created == api.get(f"/v1/orders/{created['id']}").json()["order"]
    return created


@pytest.mark.parametrize(
    "steps",
    [
        [("ship", {"carrier": "UPS", "tracking_number": "1Z"})],
        [("cancel", {"reason": "changed mind"})],
        [("hold", {"reason": "address"}), ("release", {})],
        [("process", {}), ("ship", {"carrier": "DHL"}), ("deliver", {})],
    ],
)
def test_an_action_answers_what_a_fresh_read_says(api, order, steps):
    for action, body in steps:
        response = api.post(f"/v1/orders/{order['id']}/{action}", body, format="json")
        assert response.status_code == 200, response.content
        answered = response.json()["order"]
        assert answered == api.get(f"/v1/orders/{order['id']}").json()["order"], action
        assert response["ETag"] == api.get(f"/v1/orders/{order['id']}")["ETag"]
