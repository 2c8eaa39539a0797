"""Issue #18 through issue #17: every shipment change publishes the shipment's event, once, rendered as
`/v1/shipments` renders it after the change; a deleted parcel's event carries it as it was."""

from __future__ import annotations

import pytest

from stateset.models import Event
from tests.factories import make_item, make_order

pytestmark = pytest.mark.django_db


def _mark() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _shipment_events(mark: int) -> list[Event]:
    return list(Event.objects.filter(pk__gt=mark, object_type="shipment").order_by("pk"))


def _new_parcel(api, order) -> int:
    line = order.order_line_items.order_by("pk").first()
    body = {"order_id": order.pk, "shipment_line_items": [{"order_item_id": line.pk, "quantity": 1}]}
    mark = _mark()
    response = api.post("/v1/shipments", body, format="json")
    assert response.status_code == 201, response.content
    shipment = response.json()["shipment"]
    (event,) = _shipment_events(mark)
    assert (event.type, event.object_id, event.data["status"]) == ("shipment.created", shipment["id"], "pending")
    assert event.data == shipment  # as the API rendered it
    return shipment["id"]


def test_each_shipment_transition_publishes_one_event_with_the_shipment_as_it_became(api):
    make_item("A", on_hand=50)
    order = make_order(("A", 3))
    parcel = _new_parcel(api, order)
    seen = []
    for action, body, status in [
        ("ship", {"tracking_number": "1Z"}, "shipped"),
        ("mark_in_transit", {}, "in_transit"),
        ("deliver", {}, "delivered"),
    ]:
        mark = _mark()
        response = api.post(f"/v1/shipments/{parcel}/{action}", body, format="json")
        assert response.status_code == 200, response.content
        (event,) = _shipment_events(mark)
        assert event.object_id == parcel and event.data["status"] == status
        seen.append(event.type)
    assert len(set(seen)) == 3 and seen[0] == "shipment.shipped"
    sequences = list(Event.objects.filter(object_type="shipment", object_id=parcel).values_list("sequence", flat=True))
    assert sequences == sorted(sequences) == list(range(1, len(sequences) + 1))


def test_a_cancelled_or_deleted_parcel_publishes_its_event_and_a_refused_action_none(api):
    make_item("A", on_hand=50)
    order = make_order(("A", 3))
    cancelled, deleted = _new_parcel(api, order), _new_parcel(api, order)
    mark = _mark()
    assert api.post(f"/v1/shipments/{cancelled}/cancel", {"reason": "no box"}, format="json").status_code == 200
    (event,) = _shipment_events(mark)
    assert event.object_id == cancelled and event.data["status"] == "cancelled"
    mark = _mark()
    assert api.post(f"/v1/shipments/{cancelled}/ship", {}, format="json").status_code == 422
    assert _shipment_events(mark) == []  # refused: nothing published
    assert api.delete(f"/v1/shipments/{deleted}").status_code == 200
    events = _shipment_events(mark)
    assert [e.type for e in events][-1] == "shipment.deleted"
    assert all(e.object_id == deleted and e.data["id"] == deleted for e in events)


def test_shipping_one_parcel_publishes_it_and_its_order_as_get_answers_with_the_other_parcels(api):
    """The parcel and its order are rendered from what the ship locked and wrote (the order's parcels are locked
    with it): with a second parcel still pending, both events are what GET answers afterwards."""
    make_item("A", on_hand=50)
    order = make_order(("A", 3))
    first, second = _new_parcel(api, order), _new_parcel(api, order)
    mark = _mark()
    response = api.post(f"/v1/shipments/{first}/ship", {"tracking_number": "1Z"}, format="json")
    assert response.status_code == 200, response.content
    shipped = Event.objects.get(pk__gt=mark, type="shipment.shipped")
    assert shipped.data == api.get(f"/v1/shipments/{first}").json()["shipment"] == response.json()["shipment"]
    (order_event,) = Event.objects.filter(pk__gt=mark, object_type="order")
    served = api.get(f"/v1/orders/{order.pk}").json()["order"]
    assert order_event.data == served
    assert order_event.data["status"] == "partially_shipped"
    assert [(s["id"], s["status"]) for s in served["shipments"]] == [(first, "shipped"), (second, "pending")]
