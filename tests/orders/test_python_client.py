"""The official StateSet Python client (PyPI `stateset-python==1.2.0`), unmodified, against a live server:
orders.list, orders.get, orders.create, orders.cancel (no body), orders.mark_as_shipped, inventory.adjust."""

import asyncio
from datetime import UTC, datetime

import pytest

from inventory.selectors import ledger_mismatches
from orders.models import Order
from tests.factories import level, make_item, make_key, make_user
from tests.sdk import load_sdk

sdk = load_sdk()  # the client's import name is `stateset`, like this project's package (see tests/sdk.py)


@pytest.mark.django_db(transaction=True)
def test_the_official_python_client_works_unmodified(live_server):
    widget = make_item("WIDGET", on_hand=10)
    _, raw = make_key(make_user(superuser=True))

    async def session():
        async with sdk.Stateset(api_key=raw, base_url=live_server.url + "/v1") as client:
            first = await client.orders.create(
                {
                    "customer": {"email": "py@example.com", "first_name": "Py"},
                    "order_line_items": [{"sku": "WIDGET", "quantity": 2, "unit_price": "19.99"}],
                }
            )
            second = await client.orders.create({"items": [{"sku": "WIDGET", "quantity": 3, "price": 1999}]})
            listed = await client.orders.list(status="pending", order_direction="asc", limit=5)
            got = await client.orders.get(first["order"]["id"])
            cancelled = await client.orders.cancel(first["order"]["id"])  # POST with no body at all
            shipped = await client.orders.mark_as_shipped(
                second["order"]["id"],
                tracking_number="1Z999AA10123456784",
                carrier="UPS",
                shipped_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            )
            adjusted = await client.inventory.adjust(widget.pk, quantity=5, reason="found", metadata={"bin": "A1"})
            with pytest.raises(sdk.errors.StatesetNotFoundError):
                await client.orders.get(999999)
            with pytest.raises(sdk.errors.StatesetInvalidRequestError) as refused:
                await client.orders.cancel(second["order"]["id"], reason="too late")
            return first, listed, got, cancelled, shipped, adjusted, refused.value

    first, listed, got, cancelled, shipped, adjusted, refused = asyncio.run(session())

    assert first["order"]["total"] == "39.98"
    assert [o["id"] for o in listed["orders"]] == [first["order"]["id"], first["order"]["id"] + 1]
    assert listed["total_count"] == 2
    assert got["order"]["order_number"] == first["order"]["order_number"]
    assert (cancelled["cancelled"], cancelled["order"]["status"]) == (True, "cancelled")
    assert (shipped["shipped"], shipped["order"]["status"], shipped["order"]["tracking_number"]) == (
        True,
        "shipped",
        "1Z999AA10123456784",
    )
    assert shipped["order"]["shipped_at"] == "2026-01-02T03:04:05Z"
    assert adjusted["adjusted"] is True
    assert (refused.status_code, refused.code, refused.path) == (
        422,
        "invalid_state_transition",
        f"/v1/orders/{first['order']['id'] + 1}/cancel",
    )
    assert level(widget) == (12, 0, 0)  # 10 + 5 adjusted - 3 shipped; the cancelled 2 went back
    assert Order.objects.get(pk=first["order"]["id"]).cancel_reason == ""
    assert ledger_mismatches() == []
