"""The official StateSet Python client (PyPI `stateset-python==1.2.0`), unmodified, against a live server:
returns.create, returns.get, returns.list, returns.approve, returns.mark_received and returns.cancel (which
post no body at all when given no argument), warranties.create and warranties.change_status."""

import asyncio

import pytest

from inventory.selectors import ledger_mismatches
from returns.models import Return
from tests.factories import level, make_item, make_key, make_order, make_user
from tests.sdk import load_sdk

sdk = load_sdk()  # the client's import name is `stateset`, like this project's package (see tests/sdk.py)


@pytest.mark.django_db(transaction=True)
def test_the_official_python_client_drives_returns_and_warranties(live_server):
    widget = make_item("WIDGET", on_hand=10)
    order = make_order(("WIDGET", 3, "19.99"), status="delivered")
    line = order.order_line_items.get()
    _, raw = make_key(make_user(superuser=True, username="py-client"))

    async def session():
        async with sdk.Stateset(api_key=raw, base_url=live_server.url + "/v1") as client:
            first = await client.returns.create(
                {"order_id": order.order_number, "return_line_items": [{"order_line_item": line.pk, "quantity": 2}]}
            )
            second = await client.returns.create(
                {"order_id": order.pk, "return_line_items": [{"sku": "WIDGET", "quantity": 1}]}
            )
            rid, other = first["return"]["id"], second["return"]["id"]
            approved = await client.returns.approve(rid)  # no body at all
            received = await client.returns.mark_received(rid)  # no body at all
            cancelled = await client.returns.cancel(other)  # no body at all
            listed = await client.returns.list(status="received")
            got = await client.returns.get(rid)
            with pytest.raises(sdk.errors.StatesetInvalidRequestError) as refused:
                await client.returns.mark_received(rid, received_by="dock 9")
            claim = await client.warranties.create(
                {"order_id": order.pk, "serial_number": "SN-1", "warranty_line_items": [{"sku": "WIDGET"}]}
            )
            wid = claim["warranty"]["id"]
            processing = await client.warranties.change_status(wid, "processing")
            approved_claim = await client.warranties.change_status(wid, "approved")
            completed = await client.warranties.change_status(wid, "completed")
            with pytest.raises(sdk.errors.StatesetInvalidRequestError) as illegal:
                await client.warranties.change_status(wid, "denied")
            with pytest.raises(sdk.errors.StatesetInvalidRequestError) as unknown:
                await client.warranties.change_status(wid, "lost")
            return (
                approved,
                received,
                cancelled,
                listed,
                got,
                refused.value,
                processing,
                approved_claim,
                completed,
                illegal.value,
                unknown.value,
            )

    (approved, received, cancelled, listed, got, refused, processing, approved_claim, completed, illegal, unknown) = (
        asyncio.run(session())
    )

    assert (approved["approved"], approved["return"]["status"]) == (True, "approved")
    assert (received["received"], received["return"]["status"]) == (True, "received")
    assert received["return"]["return_line_items"][0]["restocked"] is True
    assert (cancelled["cancelled"], cancelled["return"]["status"]) == (True, "cancelled")
    assert [r["id"] for r in listed["returns"]] == [approved["id"]] and listed["total_count"] == 1
    assert got["return"]["rma"] == approved["return"]["rma"]
    assert (refused.status_code, refused.code) == (422, "invalid_state_transition")
    assert (processing["transition"], processing["warranty"]["status"]) == (None, "requested")
    assert (approved_claim["transition"], approved_claim["warranty"]["status"]) == ("approve", "approved")
    assert (completed["status_changed"], completed["warranty"]["status"]) == (True, "completed")
    assert (illegal.status_code, illegal.code) == (422, "invalid_state_transition")
    assert (unknown.status_code, unknown.code) == (400, "validation_error")
    assert level(widget) == (9, 0, 0)  # 10 − 3 shipped + 2 restocked
    assert Return.objects.get(pk=approved["id"]).received_by == "py-client"  # the caller, when not given
    assert order.order_line_items.get().quantity_returned == 2  # the cancelled return gave its unit back
    assert ledger_mismatches() == []
