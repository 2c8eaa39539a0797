"""Every order action, from every status, over HTTP: allowed exactly where contract §3's table says, and a
refusal (422 invalid_state_transition) changes nothing at all."""

import pytest
from django_fsm_log.models import StateLog

from orders import services
from orders.models import Order
from tests.factories import SYSTEM, make_promotion
from tests.helpers import assert_error
from tests.orders.support import (
    ALL,
    SOURCES,
    TARGETS,
    assert_consistent,
    create,
    fresh,
    lines_of,
    order_in,
    snapshot,
    stock,
)

pytestmark = pytest.mark.django_db

DONE = {
    "process": "processed",
    "hold": "held",
    "release": "released",
    "update": "updated",
    "add_item": "item_added",
    "remove_item": "item_removed",
    "add_discount": "discount_added",
    "remove_discount": "discount_removed",
    "apply_promotion": "promotion_applied",
    "remove_promotion": "promotion_removed",
    "tag": "tagged",
    "untag": "untagged",
    "split": "split",
    "merge": "merged",
    "ship": "shipped",
    "deliver": "delivered",
    "cancel": "cancelled",
    "refund": "refunded",
    "cancel_remaining": "remaining_cancelled",
}

PREPARE = {
    "remove_discount": lambda o: services.order_add_discount(order=o, by=SYSTEM, type="fixed", value=1),
    "remove_promotion": lambda o: services.order_apply_promotion(
        order=o, by=SYSTEM, promotion_id=make_promotion("OLD").pk
    ),
    "untag": lambda o: services.order_tag(order=o, by=SYSTEM, tags=["old"]),
}


def body_for(action: str, order: Order, other: Order | None) -> dict:
    lines = lines_of(order)
    return {
        "hold": {"reason": "checking the address"},
        "update": {"notes": "leave at the door", "shipping_amount": "2.00"},
        "add_item": {"sku": "A", "quantity": 1, "unit_price": "10.00"},
        "remove_item": {"order_item_id": lines[-1].pk},
        "add_discount": {"type": "fixed", "value": "1.00"},
        "remove_discount": {"discount_id": order.discounts.values_list("pk", flat=True).first()},
        "apply_promotion": {"code": "TEN"},
        "tag": {"tags": ["vip"]},
        "untag": {"tags": ["old"]},
        "split": {"splits": [{"items": [{"order_item_id": lines[0].pk, "quantity": 1}]}]},
        "merge": {"order_ids": [other.pk] if other else []},
        "ship": {"tracking_number": "1Z999", "carrier": "UPS"},
        "refund": {"amount": "1.00"},
        "cancel_remaining": {"reason": "out of stock"},
    }.get(action, {})


@pytest.mark.parametrize(("action", "status"), [(a, s) for a in SOURCES for s in ALL])
def test_each_action_allowed_or_refused_per_the_table(api, action, status):
    stock()
    make_promotion("TEN", value="10")
    order = order_in(status, prepare=PREPARE.get(action))
    other = create(customer=order.customer) if action == "merge" else None
    involved = [order, other] if other else [order]
    before = snapshot(*involved)

    response = api.post(f"/v1/orders/{order.pk}/{action}", body_for(action, order, other), format="json")

    if status in SOURCES[action]:
        assert response.status_code == 200, response.json()
        ack = response.json()
        assert (ack["id"], ack["object"], ack[DONE[action]], ack["success"]) == (order.pk, "order", True, True)
        expected = TARGETS.get(action, status)
        if action == "cancel_remaining":  # shipped when something had shipped, else cancelled
            expected = "shipped" if status == "partially_shipped" else "cancelled"
        assert ack["order"]["status"] == expected
        assert fresh(order).status == expected
        for o in involved:
            assert_consistent(o)
        assert StateLog.objects.for_(fresh(order)).filter(transition=action if action != "update" else "update")
    else:
        error = assert_error(response, 422, "invalid_request_error", "invalid_state_transition")
        assert error["errors"]["status"] == status
        assert f"'{status}'" in error["message"]
        assert snapshot(*involved) == before


def test_the_refusal_names_the_actions_allowed_from_the_status(api):
    stock()
    order = order_in("shipped")
    error = assert_error(
        api.post(f"/v1/orders/{order.pk}/cancel"), 422, "invalid_request_error", "invalid_state_transition"
    )
    # named as the endpoints that run them: return and exchange are the returns app's order actions
    assert error["errors"]["allowed_actions"] == ["deliver", "exchange", "refund", "return", "tag", "untag"]
    assert "Cannot cancel order" in error["message"]
    pending = order_in("pending")
    error = assert_error(
        api.post(f"/v1/orders/{pending.pk}/deliver"), 422, "invalid_request_error", "invalid_state_transition"
    )
    assert "merge" in error["errors"]["allowed_actions"]
    assert "merge_into" not in error["errors"]["allowed_actions"]


def test_hold_remembers_processing_and_release_goes_back(api):
    stock()
    order = order_in("processing")
    ack = api.post(f"/v1/orders/{order.pk}/hold", {"reason": "fraud check"}, format="json").json()
    assert (ack["order"]["status"], ack["order"]["held_from_status"], ack["order"]["hold_reason"]) == (
        "on_hold",
        "processing",
        "fraud check",
    )
    ack = api.put(f"/v1/order/{order.pk}/release").json()  # the documented curl: PUT on the singular path
    assert (ack["released"], ack["order"]["status"], ack["order"]["held_from_status"]) == (True, "processing", "")


def test_release_clears_the_hold_reason_and_the_history_keeps_it(api):
    stock()
    order = order_in("pending")
    api.post(f"/v1/orders/{order.pk}/hold", {"reason": "address to confirm"}, format="json")
    ack = api.put(f"/v1/order/{order.pk}/release").json()
    assert (ack["order"]["status"], ack["order"]["hold_reason"]) == ("pending", "")
    api.post(f"/v1/orders/{order.pk}/ship", {"tracking_number": "1Z9"}, format="json")
    assert Order.objects.get(pk=order.pk).hold_reason == ""
    held = StateLog.objects.for_(fresh(order)).get(transition="hold")
    assert "address to confirm" in held.description


def test_hold_needs_a_reason(api):
    stock()
    order = order_in("pending")
    error = assert_error(api.post(f"/v1/orders/{order.pk}/hold"), 400, "invalid_request_error", "validation_error")
    assert "reason" in error["errors"]
    assert fresh(order).status == "pending"


def test_cancel_with_no_body_and_with_the_path_id_repeated(api):
    stock()
    order = order_in("pending")
    other = order_in("pending")
    error = assert_error(
        api.post(f"/v1/orders/{other.pk}/cancel", {"order_id": order.pk}, format="json"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert "order_id" in error["errors"]
    response = api.generic("POST", f"/v1/orders/{order.pk}/cancel/")  # no body, trailing slash
    assert response.status_code == 200, response.content
    assert response.json()["order"]["status"] == "cancelled"
    assert api.post(f"/v1/orders/{other.pk}/cancel", {"order_id": other.pk}, format="json").status_code == 200


def test_history_lists_every_action_with_the_door(api):
    stock()
    order = order_in("pending")
    api.post(f"/v1/orders/{order.pk}/tag", {"tag_name": "priority", "tag_value": "high"}, format="json")
    api.post(f"/v1/orders/{order.pk}/process")
    api.post(f"/v1/orders/{order.pk}/ship", {"carrier": "UPS", "tracking_number": "1Z"}, format="json")
    history = api.get(f"/v1/orders/{order.pk}/history?order_direction=asc").json()["history"]
    assert [(h["transition"], h["source_state"], h["state"]) for h in history] == [
        ("create", "pending", "pending"),
        ("tag", "pending", "pending"),
        ("process", "pending", "processing"),
        ("ship", "processing", "shipped"),
    ]
    assert "via API key" in history[-1]["description"] and "UPS 1Z" in history[-1]["description"]
    assert history[1]["description"].endswith("priority=high")


def test_unknown_action_and_delete(api):
    stock()
    order = order_in("pending")
    assert_error(api.post(f"/v1/orders/{order.pk}/explode"), 404, "not_found_error", "resource_not_found")
    assert_error(api.delete(f"/v1/orders/{order.pk}"), 405, "invalid_request_error", "method_not_allowed")
    assert_error(api.post("/v1/orders/999/cancel"), 404, "not_found_error", "resource_not_found")
    assert Order.objects.filter(pk=order.pk).exists()
