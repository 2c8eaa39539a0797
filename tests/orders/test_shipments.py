"""Shipments (issue #18): partial ships that add up to the order, over-shipping refused on every path with
nothing changed, ship-all after a partial ship, pending shipments deleted or cancelled, parcels coming back
or lost, cancel_remaining then a refund of the balance, reallocation between locations; the ledger and
`check_inventory` clean after every flow."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django_fsm_log.models import StateLog

from inventory.models import StockMovement
from inventory.selectors import ledger_mismatches
from orders import services
from orders.models import Shipment, ShipmentLineItem
from tests.factories import SYSTEM, level, make_location, make_user
from tests.helpers import assert_error
from tests.orders.support import assert_consistent, create, fresh, lines_of, snapshot, stock

pytestmark = pytest.mark.django_db


def clean(order=None) -> None:
    """The ledger explains every level, check_inventory agrees, and the order's invariants hold."""
    assert ledger_mismatches() == []
    out = io.StringIO()
    call_command("check_inventory", stdout=out)
    if order is not None:
        assert_consistent(order)


def parcel(order, *parts, location=None, **fields):
    """A pending shipment of (line index, quantity) parts."""
    lines = lines_of(order)
    items = [{"order_item_id": lines[i].pk, "quantity": q} for i, q in parts]
    return services.shipment_create(by=SYSTEM, order=order, shipment_line_items=items, location=location, **fields)


def test_partial_ships_add_up_to_the_order(api):
    a, b = stock(10)
    order = create(lines=(("A", 3, "10.00"), ("B", 2, "5.00")))
    first = parcel(order, (0, 2), carrier="UPS")
    assert first.number == f"SHP-{first.pk:06d}" and first.status == "pending"
    assert level(a) == (10, 3, 0)  # a reservation moves no stock

    ack = api.post(f"/v1/shipments/{first.pk}/ship", {"tracking_number": "1Z1"}, format="json").json()
    assert (ack["shipped"], ack["shipment"]["status"], ack["shipment"]["tracking_number"]) == (True, "shipped", "1Z1")
    assert fresh(order).status == "partially_shipped"
    assert [(x.quantity_shipped, x.status) for x in lines_of(order)] == [(2, "open"), (0, "open")]
    assert level(a) == (8, 1, 0)
    clean(order)

    second = parcel(order, (0, 1), (1, 2))
    services.shipment_ship(shipment=second, by=SYSTEM, tracking_number="1Z2")
    order = fresh(order)
    assert order.status == "shipped"
    assert [(x.quantity_shipped, x.status) for x in lines_of(order)] == [(3, "shipped"), (2, "shipped")]
    assert (level(a), level(b)) == ((7, 0, 0), (8, 0, 0))
    moves = StockMovement.objects.filter(source_type="order", source_id=order.pk, reason="shipment")
    assert sorted(moves.values_list("quantity", flat=True)) == [-2, -2, -1]
    clean(order)

    services.shipment_deliver(shipment=first, by=SYSTEM)
    assert fresh(order).status == "shipped"  # one parcel is still on its way
    services.shipment_mark_in_transit(shipment=second, by=SYSTEM)
    services.shipment_deliver(shipment=second, by=SYSTEM)
    assert fresh(order).status == "delivered"
    transitions = list(StateLog.objects.for_(second).order_by("pk").values_list("transition", flat=True))
    assert transitions == ["create", "ship", "mark_in_transit", "deliver"]


def test_over_shipping_is_refused_on_every_path_and_changes_nothing(api):
    stock(10)
    order = create(lines=(("A", 3, "10.00"), ("B", 2, "5.00")))
    line_a = lines_of(order)[0]
    parcel(order, (0, 2))
    other = create()
    elsewhere = make_location("EAST")
    before = snapshot(order)

    # more than the line holds less the pending reservation
    body = {"order_id": order.pk, "shipment_line_items": [{"order_item_id": line_a.pk, "quantity": 2}]}
    error = assert_error(
        api.post("/v1/shipments", body, format="json"), 422, "invalid_request_error", "exceeds_shippable"
    )
    assert error["errors"] == {str(line_a.pk): "at most 1"}
    # from a location that holds nothing of it
    body = {
        "order_id": order.pk,
        "location": "EAST",
        "shipment_line_items": [{"order_item_id": line_a.pk, "quantity": 1}],
    }
    assert_error(api.post("/v1/shipments", body, format="json"), 422, "invalid_request_error", "exceeds_shippable")
    # a line of another order
    body = {"order_id": order.pk, "shipment_line_items": [{"order_item_id": lines_of(other)[0].pk, "quantity": 1}]}
    assert_error(api.post("/v1/shipments", body, format="json"), 400, "invalid_request_error", "validation_error")
    # an unknown order
    body = {"order_id": 999999, "shipment_line_items": [{"order_item_id": line_a.pk, "quantity": 1}]}
    assert api.post("/v1/shipments", body, format="json").status_code == 404
    assert snapshot(order) == before
    assert elsewhere.pk

    # once everything shipped, nothing is left: another shipment, or ship-all again, is refused
    services.order_ship(order=order, by=SYSTEM)
    before = snapshot(order)
    body = {"order_id": order.pk, "shipment_line_items": [{"order_item_id": line_a.pk, "quantity": 1}]}
    assert_error(
        api.post("/v1/shipments", body, format="json"), 422, "invalid_request_error", "invalid_state_transition"
    )
    assert_error(api.post(f"/v1/orders/{order.pk}/ship"), 422, "invalid_request_error", "invalid_state_transition")
    assert snapshot(order) == before
    clean(order)


def test_ship_all_after_a_partial_ship_ships_pending_parcels_and_the_rest(api):
    a, b = stock(10)
    order = create(lines=(("A", 3, "10.00"), ("B", 2, "5.00")))
    services.shipment_ship(shipment=parcel(order, (0, 1)), by=SYSTEM, tracking_number="P1")
    pending = parcel(order, (1, 1), tracking_number="P2")

    ack = api.post(f"/v1/orders/{order.pk}/ship", {"tracking_number": "ALL", "carrier": "UPS"}, format="json")
    assert ack.status_code == 200, ack.content
    body = ack.json()["order"]
    assert body["status"] == "shipped"
    shipments = list(Shipment.objects.filter(order=order).order_by("pk"))
    assert [(s.status, s.tracking_number) for s in shipments] == [
        ("shipped", "P1"),
        ("shipped", "P2"),  # a pending parcel keeps its own tracking number
        ("shipped", "ALL"),
    ]
    assert shipments[1].pk == pending.pk
    rest = {r.line.sku: r.quantity for r in ShipmentLineItem.objects.filter(shipment=shipments[2])}
    assert rest == {"A": 2, "B": 1}
    assert [s["status"] for s in body["shipments"]] == ["shipped", "shipped", "shipped"]
    assert (level(a), level(b)) == ((7, 0, 0), (8, 0, 0))
    clean(order)


def test_a_pending_shipment_can_be_deleted_or_cancelled_a_shipped_one_cannot(api):
    a, _ = stock(10)
    order = create(lines=(("A", 3, "10.00"),))
    one = parcel(order, (0, 3))
    ack = api.post(f"/v1/shipments/{one.pk}/cancel", {"reason": "repack"}, format="json").json()
    assert (ack["cancelled"], ack["shipment"]["status"]) == (True, "cancelled")
    two = parcel(order, (0, 3))  # the reservation was released
    response = api.delete(f"/v1/shipments/{two.pk}")
    assert response.json() == {"id": two.pk, "object": "shipment", "deleted": True}
    assert not Shipment.objects.filter(pk=two.pk).exists()
    assert StateLog.objects.filter(object_id=two.pk, transition="delete_pending").exists()

    three = parcel(order, (0, 3))
    services.shipment_ship(shipment=three, by=SYSTEM)
    before = snapshot(order)
    assert_error(api.delete(f"/v1/shipments/{three.pk}"), 422, "invalid_request_error", "invalid_state_transition")
    assert_error(api.post(f"/v1/shipments/{three.pk}/cancel"), 422, "invalid_request_error", "invalid_state_transition")
    assert snapshot(order) == before
    assert level(a) == (7, 0, 0)
    clean(order)


def test_pending_shipments_block_line_changes_and_go_with_a_cancel(api):
    a, _ = stock(10)
    order = create(lines=(("A", 3, "10.00"), ("B", 1, "5.00")))
    parcel(order, (0, 1))
    before = snapshot(order)
    body = {"order_item_id": lines_of(order)[0].pk, "quantity": 1}
    assert_error(
        api.post(f"/v1/orders/{order.pk}/remove_item", body, format="json"),
        422,
        "invalid_request_error",
        "shipments_pending",
    )
    assert snapshot(order) == before
    services.order_cancel(order=order, by=SYSTEM, reason="gone")
    assert list(Shipment.objects.filter(order=order).values_list("status", flat=True)) == ["cancelled"]
    assert level(a) == (10, 0, 0)
    clean()


def test_returned_to_sender_puts_units_back_and_makes_them_shippable_again(api):
    a, _ = stock(10)
    order = create(lines=(("A", 3, "10.00"),))
    first = parcel(order, (0, 2))
    services.shipment_ship(shipment=first, by=SYSTEM)
    assert level(a) == (8, 1, 0)
    ack = api.post(f"/v1/shipments/{first.pk}/return_to_sender", {"reason": "bad address"}, format="json")
    assert ack.status_code == 200, ack.content
    assert ack.json()["shipment"]["status"] == "returned_to_sender"
    order = fresh(order)
    assert order.status == "processing"  # nothing else had shipped
    assert lines_of(order)[0].quantity_shipped == 0
    assert level(a) == (10, 3, 0)  # back on hand, held for the line again
    assert order.amount_refunded == Decimal("0.00")  # no money moves
    clean(order)

    services.order_ship(order=order, by=SYSTEM)
    assert fresh(order).status == "shipped"
    assert level(a) == (7, 0, 0)
    clean(order)


def test_lost_changes_no_stock(api):
    a, _ = stock(10)
    order = create(lines=(("A", 1, "10.00"),))
    order = services.order_ship(order=order, by=SYSTEM)
    shipment = Shipment.objects.get(order=order)
    before = (level(a), StockMovement.objects.count())
    ack = api.post(f"/v1/shipments/{shipment.pk}/mark_lost", {"reason": "carrier lost it"}, format="json").json()
    assert (ack["lost"], ack["shipment"]["status"]) == (True, "lost")
    assert (level(a), StockMovement.objects.count()) == before
    assert fresh(order).status == "shipped"
    clean(order)


def test_cancel_remaining_then_refund_the_balance(api):
    a, b = stock(10)
    order = create(lines=(("A", 3, "10.00"), ("B", 2, "5.00")), shipping_amount=Decimal("4.00"))
    assert order.total == Decimal("44.00")
    services.shipment_ship(shipment=parcel(order, (0, 1)), by=SYSTEM)
    parcel(order, (1, 1))  # a pending parcel goes with the rest

    ack = api.post(f"/v1/orders/{order.pk}/cancel_remaining", {"reason": "out of stock"}, format="json")
    assert ack.status_code == 200, ack.content
    body = ack.json()["order"]
    assert (body["status"], body["subtotal"], body["total"], body["balance"]) == ("shipped", "10.00", "14.00", "14.00")
    assert [(x["quantity_shipped"], x["quantity_cancelled"], x["status"]) for x in body["order_line_items"]] == [
        (1, 2, "shipped"),
        (0, 2, "cancelled"),
    ]
    assert list(Shipment.objects.filter(order=order).order_by("pk").values_list("status", flat=True)) == [
        "shipped",
        "cancelled",
    ]
    assert (level(a), level(b)) == ((9, 0, 0), (10, 0, 0))
    clean(order)

    refused = api.post(f"/v1/orders/{order.pk}/refund", {"amount": "14.01"}, format="json")
    assert_error(refused, 422, "invalid_request_error", "refund_exceeds_balance")
    ack = api.post(f"/v1/orders/{order.pk}/refund", {"amount": "14.00"}, format="json").json()
    assert ack["order"]["status"] == "refunded"


def test_cancel_remaining_with_nothing_shipped_cancels_the_order(api):
    a, _ = stock(10)
    order = create(lines=(("A", 3, "10.00"),))
    ack = api.post(f"/v1/orders/{order.pk}/cancel_remaining", {"reason": "never mind"}, format="json").json()
    assert ack["order"]["status"] == "cancelled"
    assert level(a) == (10, 0, 0)
    again = api.post(f"/v1/orders/{order.pk}/cancel_remaining", {"reason": "again"}, format="json")
    assert_error(again, 422, "invalid_request_error", "invalid_state_transition")
    clean(order)


def test_cancel_remaining_refuses_when_more_was_refunded_than_the_new_total(api):
    stock(10)
    order = create(lines=(("A", 3, "10.00"),))
    services.shipment_ship(shipment=parcel(order, (0, 1)), by=SYSTEM)
    services.order_refund(order=order, by=SYSTEM, amount=Decimal("20.00"))
    before = snapshot(order)
    refused = api.post(f"/v1/orders/{order.pk}/cancel_remaining", {"reason": "short"}, format="json")
    assert_error(refused, 422, "invalid_request_error", "refunded_above_total")
    assert snapshot(order) == before


def test_reallocate_then_ship_all_makes_one_shipment_per_location(api):
    a, b = stock(10)
    east = make_location("EAST")
    services_inv = __import__("inventory.services", fromlist=["stock_receive"])
    services_inv.stock_receive(
        inventory_item=a, location=east, quantity=5, source=services_inv.Source("seed"), by=SYSTEM
    )
    order = create(lines=(("A", 3, "10.00"), ("B", 1, "5.00")))
    line_a = lines_of(order)[0]
    body = {"order_item_id": line_a.pk, "location": "EAST", "quantity": 2}
    ack = api.post(f"/v1/orders/{order.pk}/reallocate", body, format="json")
    assert ack.status_code == 200, ack.content
    assert (level(a), level(a, east)) == ((10, 1, 0), (5, 2, 0))
    clean(order)
    # more than the new location has: 422 and nothing moves
    before = snapshot(order)
    body = {"order_item_id": line_a.pk, "location": "EAST", "from_location": "MAIN", "quantity": 1}
    make_user()  # unrelated row: the snapshot covers orders, stock and history only
    services_inv.stock_adjust(inventory_item=a, location=east, quantity=-3, by=SYSTEM, reason="damaged")
    refused = api.post(f"/v1/orders/{order.pk}/reallocate", body, format="json")
    assert_error(refused, 422, "invalid_request_error", "insufficient_stock")
    after = snapshot(order)
    assert (after["lines"], after["allocations"], after["orders"]) == (
        before["lines"],
        before["allocations"],
        before["orders"],
    )

    ack = api.post(f"/v1/orders/{order.pk}/ship", {"carrier": "UPS"}, format="json")
    assert ack.status_code == 200, ack.content
    shipments = list(Shipment.objects.filter(order=order).order_by("location_id"))
    assert sorted((s.location.code, s.status) for s in shipments) == [("EAST", "shipped"), ("MAIN", "shipped")]
    east_rows = {r.line_id: r.quantity for r in ShipmentLineItem.objects.filter(shipment__location=east)}
    assert east_rows == {line_a.pk: 2}
    assert (level(a), level(a, east)) == ((9, 0, 0), (0, 0, 0))
    clean(order)


def test_the_shipments_api_lists_filters_searches_and_shows_history(api):
    stock(10)
    order = create(lines=(("A", 3, "10.00"), ("B", 2, "5.00")))
    line_a, line_b = lines_of(order)
    body = {
        "order_id": order.pk,
        "shipment_line_items": [{"order_item_id": line_a.pk, "quantity": 2}],
        "carrier": "UPS",
        "service": "Ground",
        "tracking_number": "1ZTRACK",
        "tracking_url": "https://ups.example/1ZTRACK",
        "weight": "1.250",
        "package_count": 2,
    }
    created = api.post("/v1/shipments", body, format="json")
    assert created.status_code == 201, created.content
    shipment = created.json()["shipment"]
    assert created["Location"].endswith(f"/v1/shipments/{shipment['id']}")
    assert (shipment["status"], shipment["order_id"], shipment["location"], shipment["weight"]) == (
        "pending",
        order.pk,
        "MAIN",
        "1.250",
    )
    assert [(x["order_item_id"], x["quantity"]) for x in shipment["shipment_line_items"]] == [(line_a.pk, 2)]
    other = api.post("/v1/shipments", {"order_id": order.pk, "carrier": "FedEx"}, format="json").json()["shipment"]
    assert sorted((x["order_item_id"], x["quantity"]) for x in other["shipment_line_items"]) == [
        (line_a.pk, 1),
        (line_b.pk, 2),
    ]
    api.post(f"/v1/shipments/{shipment['id']}/ship", format="json")

    updated = api.put(f"/v1/shipments/{shipment['id']}", {"tracking_number": "1ZNEW"}, format="json")
    assert updated.json()["shipment"]["tracking_number"] == "1ZNEW"
    assert [s["id"] for s in api.get("/v1/shipments?status=shipped").json()["shipments"]] == [shipment["id"]]
    assert [s["id"] for s in api.get("/v1/shipments?carrier=fedex").json()["shipments"]] == [other["id"]]
    assert [s["id"] for s in api.get(f"/v1/shipments?order={order.pk}&location=MAIN").json()["shipments"]] == [
        other["id"],
        shipment["id"],
    ]
    assert [s["id"] for s in api.get("/v1/shipments/search?query=1ZNEW").json()["shipments"]] == [shipment["id"]]
    assert api.get("/v1/shipments?shipped_after=2000-01-01T00:00:00Z").json()["total_count"] == 1
    assert api.get("/v1/shipments?status=bogus").status_code == 400
    history = api.get(f"/v1/shipments/{shipment['id']}/history?order_direction=asc").json()["history"]
    assert [h["transition"] for h in history] == ["create", "ship", "update"]
    listed = api.get(f"/v1/orders/{order.pk}/shipments").json()["shipments"]
    assert [s["id"] for s in listed] == [shipment["id"], other["id"]]
    got = api.get(f"/v1/orders/{order.pk}").json()["order"]
    assert [s["number"] for s in got["shipments"]] == [shipment["number"], other["number"]]
    assert got["status"] == "partially_shipped"


@pytest.mark.django_db(transaction=True)
def test_the_official_client_shipments_calls_work_unmodified(live_server):
    import asyncio

    from tests.factories import make_key
    from tests.sdk import load_sdk

    sdk = load_sdk()
    stock(10)
    order = create(lines=(("A", 3, "10.00"),))
    line = lines_of(order)[0]
    _, raw = make_key(make_user(superuser=True))

    async def session():
        async with sdk.Stateset(api_key=raw, base_url=live_server.url + "/v1") as client:
            created = await client.shipments.create(
                {
                    "order_id": order.pk,
                    "shipment_line_items": [{"order_item_id": line.pk, "quantity": 2}],
                    "carrier": "UPS",
                }
            )
            pk = created["shipment"]["id"]
            got = await client.shipments.get(pk)
            updated = await client.shipments.update(pk, {"tracking_number": "1ZCLIENT"})
            listed = await client.shipments.list(order=order.pk, status="pending")
            found = await client.shipments.search(query="1ZCLIENT")
            spare = await client.shipments.create({"order_id": order.pk})
            await client.shipments.delete(spare["shipment"]["id"])
            return created, got, updated, listed, found

    created, got, updated, listed, found = asyncio.run(session())
    assert created["shipment"]["status"] == "pending"
    assert got["shipment"]["number"] == created["shipment"]["number"]
    assert updated["shipment"]["tracking_number"] == "1ZCLIENT"
    assert [s["id"] for s in listed["shipments"]] == [created["shipment"]["id"]]
    assert [s["id"] for s in found["shipments"]] == [created["shipment"]["id"]]
    assert list(Shipment.objects.filter(order=order).values_list("status", flat=True)) == ["pending"]
    clean()


def _stock_at(item, location, quantity):
    from inventory import services as inv

    inv.stock_receive(inventory_item=item, location=location, quantity=quantity, source=inv.Source("seed"), by=SYSTEM)


def test_create_with_a_location_per_line_then_ship_all_ships_one_parcel_per_location(api):
    a, b = stock(10)
    east = make_location("EAST")
    _stock_at(b, east, 4)
    body = {
        "order_line_items": [
            {"sku": "A", "quantity": 2, "unit_price": "10.00"},
            {"sku": "B", "quantity": 3, "unit_price": "5.00", "location": "EAST"},
        ]
    }
    created = api.post("/v1/orders", body, format="json")
    assert created.status_code == 201, created.content
    order = created.json()["order"]
    assert (level(a), level(b), level(b, east)) == ((10, 2, 0), (10, 0, 0), (4, 3, 0))
    shipped = api.post(f"/v1/orders/{order['id']}/ship", {"carrier": "UPS"}, format="json").json()["order"]
    assert shipped["status"] == "shipped"
    home = type(a).objects.get(pk=a.pk).levels.first().location_id
    assert sorted(s["location_id"] for s in shipped["shipments"]) == sorted([home, east.pk])
    assert (level(a), level(b, east)) == ((8, 0, 0), (1, 0, 0))
    clean()


def test_any_location_takes_the_order_location_first_then_the_most_available(api):
    a, _ = stock(2)
    east, west = make_location("EAST"), make_location("WEST")
    _stock_at(a, east, 3)
    _stock_at(a, west, 5)
    lines = [{"sku": "A", "quantity": 6, "unit_price": "10.00"}]
    # without the rule, short stock at the order's location is the contract's 422, nothing created
    refused = api.post("/v1/orders", {"order_line_items": lines}, format="json")
    assert_error(refused, 422, "invalid_request_error", "insufficient_stock")
    created = api.post("/v1/orders", {"order_line_items": lines, "allocation": "any_location"}, format="json")
    assert created.status_code == 201, created.content
    assert (level(a), level(a, west), level(a, east)) == ((2, 2, 0), (5, 4, 0), (3, 0, 0))
    # more than every location together: 422, nothing created
    too_many = [{"sku": "A", "quantity": 5, "unit_price": "10.00"}]
    before = snapshot()
    refused = api.post("/v1/orders", {"order_line_items": too_many, "allocation": "any_location"}, format="json")
    assert_error(refused, 422, "invalid_request_error", "insufficient_stock")
    assert snapshot() == before
    clean()


def test_returns_per_shipment_are_bounded_by_what_it_shipped(api):
    stock(10)
    order = create(lines=(("A", 3, "10.00"),))
    line = lines_of(order)[0]
    two = parcel(order, (0, 2))
    services.shipment_ship(shipment=two, by=SYSTEM)
    one = parcel(order, (0, 1))
    services.shipment_ship(shipment=one, by=SYSTEM)
    assert fresh(order).status == "shipped"

    def ask(shipment, quantity):
        items = [{"order_line_item": line.pk, "shipment": shipment.pk, "quantity": quantity}]
        return api.post("/v1/returns", {"order_id": order.pk, "return_line_items": items}, format="json")

    before = snapshot(order)
    assert_error(ask(one, 2), 422, "invalid_request_error", "return_exceeds_shipped")
    assert snapshot(order) == before
    first = ask(one, 1)
    assert first.status_code == 201, first.content
    assert first.json()["return"]["return_line_items"][0]["shipment"] == one.pk
    assert_error(ask(one, 1), 422, "invalid_request_error", "return_exceeds_shipped")
    assert ask(two, 2).status_code == 201
    rows = dict(ShipmentLineItem.objects.filter(line=line).values_list("shipment_id", "quantity_returned"))
    assert rows == {two.pk: 2, one.pk: 1}
    assert lines_of(order)[0].quantity_returned == 3

    # a cancelled return gives its units back to the parcel, which can be returned from again
    ret = first.json()["return"]["id"]
    assert api.post(f"/v1/returns/{ret}/cancel", {"reason": "kept it"}, format="json").status_code == 200
    assert ShipmentLineItem.objects.get(shipment=one, line=line).quantity_returned == 0
    assert ask(one, 1).status_code == 201
    # a parcel with returned units cannot come back to the sender
    refused = api.post(f"/v1/shipments/{one.pk}/return_to_sender", format="json")
    assert refused.status_code == 422
    clean()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"order_id": "x"},
        {"order_id": 2**63},
        {"order_id": 1, "shipment_line_items": []},
        {"order_id": 1, "shipment_line_items": [{"order_item_id": 2**63, "quantity": 1}]},
        {"order_id": 1, "shipment_line_items": [{"order_item_id": 1, "quantity": 0}]},
        {"order_id": 1, "shipment_line_items": "all"},
        {"order_id": 1, "location": {"code": "MAIN"}},
        {"order_id": 1, "location": "NOWHERE"},
        {"order_id": 1, "weight": "-1"},
        {"order_id": 1, "weight": "1e400"},
        {"order_id": 1, "package_count": 0},
        {"order_id": 1, "status": "shipped"},
    ],
)
def test_bad_shipment_input_is_a_4xx_and_writes_nothing(api, body):
    stock(10)
    create(lines=(("A", 1, "10.00"),))
    response = api.post("/v1/shipments", body, format="json")
    assert 400 <= response.status_code < 500, response.content
    assert not Shipment.objects.exists()


def test_bad_paths_and_actions_are_4xx(api):
    stock(10)
    order = create(lines=(("A", 1, "10.00"),))
    assert api.get("/v1/shipments/999999").status_code == 404
    assert api.post("/v1/shipments/999999/ship").status_code == 404
    assert api.delete("/v1/shipments/999999").status_code == 404
    assert api.get("/v1/orders/999999/shipments").status_code == 404
    assert api.get("/v1/shipments?order=abc").status_code == 400
    assert api.get("/v1/shipments?shipped_after=nope").status_code == 400
    body = {"order_item_id": 2**63, "location": "MAIN"}
    assert api.post(f"/v1/orders/{order.pk}/reallocate", body, format="json").status_code == 400
    body = {"order_item_id": lines_of(order)[0].pk, "location": "MAIN"}
    assert api.post(f"/v1/orders/{order.pk}/reallocate", body, format="json").status_code == 422
    assert api.post(f"/v1/orders/{order.pk}/cancel_remaining", {}, format="json").status_code == 400
    shipment = parcel(order, (0, 1))
    assert api.put(f"/v1/shipments/{shipment.pk}", {"order_id": 5}, format="json").status_code == 400
    assert api.put(f"/v1/shipments/{shipment.pk}", {"weight": "abc"}, format="json").status_code == 400
