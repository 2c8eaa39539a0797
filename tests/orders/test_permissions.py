"""Who may do what: Django model permissions per method, and a named permission for each action that moves
money or stock, declared once on the transition and checked by the service (so the admin obeys it too)."""

import pytest

from orders import services
from tests.factories import SYSTEM, api_client, make_promotion, make_user
from tests.helpers import assert_error
from tests.orders.support import create, lines_of, order_in, snapshot, stock

pytestmark = pytest.mark.django_db

BASE = ("orders.view_order", "orders.change_order")


def _discounted(order):
    services.order_add_discount(order=order, by=SYSTEM, type="fixed", value=1)


def _promoted(order):
    services.order_apply_promotion(order=order, by=SYSTEM, promotion_id=make_promotion("HELD").pk)


# (action, named permission, status, prepare, body(order, other))
NAMED = [
    ("ship", "orders.ship_order", "pending", None, lambda o, x: {"carrier": "UPS"}),
    ("cancel", "orders.cancel_order", "processing", None, lambda o, x: {}),
    ("refund", "orders.refund_order", "delivered", None, lambda o, x: {"amount": "1.00"}),
    (
        "split",
        "orders.split_order",
        "pending",
        None,
        lambda o, x: {"items": [{"order_item_id": lines_of(o)[0].pk, "quantity": 1}]},
    ),
    ("merge", "orders.merge_order", "pending", None, lambda o, x: {"order_ids": [x.pk]}),
    ("add_discount", "orders.discount_order", "pending", None, lambda o, x: {"type": "fixed", "value": 1}),
    (
        "remove_discount",
        "orders.discount_order",
        "pending",
        _discounted,
        lambda o, x: {"discount_id": o.discounts.get().pk},
    ),
    ("apply_promotion", "orders.discount_order", "pending", None, lambda o, x: {"code": "OPEN"}),
    ("remove_promotion", "orders.discount_order", "pending", _promoted, lambda o, x: {}),
    ("add_item", "orders.edit_order", "pending", None, lambda o, x: {"sku": "A", "quantity": 1}),
    ("remove_item", "orders.edit_order", "pending", None, lambda o, x: {"order_item_id": lines_of(o)[0].pk}),
    ("update", "orders.edit_order", "pending", None, lambda o, x: {"shipping_amount": "9.99"}),
]


@pytest.mark.parametrize("granted", [True, False], ids=["with", "without"])
@pytest.mark.parametrize(("action", "perm", "status", "prepare", "body"), NAMED, ids=[n[0] for n in NAMED])
def test_named_permission_matrix(action, perm, status, prepare, body, granted):
    stock()
    make_promotion("OPEN")
    order = order_in(status, prepare=prepare)
    other = create(customer=order.customer)
    client = api_client(make_user(*BASE, *([perm] if granted else [])))
    before = snapshot(order, other)
    if action == "update":  # PATCH /v1/orders/{id}: shipping and tax change what the order charges
        response = client.patch(f"/v1/orders/{order.pk}", body(order, other), format="json")
    else:
        response = client.post(f"/v1/orders/{order.pk}/{action}", body(order, other), format="json")
    if granted:
        assert response.status_code == 200, response.json()
    else:
        error = assert_error(response, 403, "permission_error", "insufficient_permissions")
        assert perm in error["message"]
        assert snapshot(order, other) == before


@pytest.mark.parametrize("action", ["process", "hold", "tag", "update"])
def test_actions_without_a_named_permission_need_change_order(action):
    stock()
    order = order_in("pending")
    body = {
        "hold": {"reason": "x"},
        "tag": {"tags": ["a"]},
        "update": {"notes": "n"},
    }
    viewer = api_client(make_user("orders.view_order"))
    before = snapshot(order)
    error = assert_error(
        viewer.post(f"/v1/orders/{order.pk}/{action}", body.get(action, {}), format="json"),
        403,
        "permission_error",
        "insufficient_permissions",
    )
    assert "orders.change_order" in error["message"]
    assert snapshot(order) == before
    editor = api_client(make_user(*BASE))
    assert editor.post(f"/v1/orders/{order.pk}/{action}", body.get(action, {}), format="json").status_code == 200


def test_reading_and_creating_need_view_and_add():
    stock()
    order = order_in("pending")
    nobody = api_client(make_user())
    assert_error(nobody.get("/v1/orders"), 403, "permission_error", "insufficient_permissions")
    assert_error(nobody.get(f"/v1/orders/{order.pk}/history"), 403, "permission_error", "insufficient_permissions")
    viewer = api_client(make_user("orders.view_order"))
    assert viewer.get(f"/v1/orders/{order.pk}").status_code == 200
    line = [{"sku": "A", "quantity": 1, "unit_price": 1}]
    assert_error(
        viewer.post("/v1/orders", {"order_line_items": line}, format="json"),
        403,
        "permission_error",
        "insufficient_permissions",
    )
    creator = api_client(make_user("orders.add_order"))
    assert creator.post("/v1/orders", {"order_line_items": line}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("action", "perm", "path"),
    [
        ("approve", "orders.approve_wholesaleorder", ["submit"]),
        ("fulfill", "orders.fulfill_wholesaleorder", ["submit", "approve"]),
        ("cancel", "orders.cancel_wholesaleorder", ["submit", "approve"]),
    ],
)
def test_wholesale_named_permissions(action, perm, path):
    stock()
    order = services.wholesale_order_create(by=SYSTEM, order_line_items=[{"sku": "A", "quantity": 2, "unit_price": 1}])
    for step in path:
        order = getattr(services, f"wholesale_order_{step}")(wholesale_order=order, by=SYSTEM)
    base = ("orders.view_wholesaleorder", "orders.change_wholesaleorder")
    without = api_client(make_user(*base))
    before = snapshot()
    error = assert_error(
        without.post(f"/v1/wholesale_orders/{order.pk}/{action}"), 403, "permission_error", "insufficient_permissions"
    )
    assert perm in error["message"]
    assert snapshot() == before
    with_perm = api_client(make_user(*base, perm))
    assert with_perm.post(f"/v1/wholesale_orders/{order.pk}/{action}").status_code == 200
