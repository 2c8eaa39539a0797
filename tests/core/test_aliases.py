"""Every alias of contract §0 answers, on the same view as its canonical route (one test per row of the table)."""

import pytest

from stateset.urls import RESOURCES
from tests.factories import make_bom, make_item, make_lead, make_order
from tests.returns.support import make_return, make_warranty, shipped

pytestmark = pytest.mark.django_db

PLURAL = {prefix: viewset.plural for prefix, viewset in RESOURCES}
SINGULAR = {prefix: viewset.singular for prefix, viewset in RESOURCES}

# (alias path, the canonical resource it serves): lists, as the table of §0 names them.
LIST_ALIASES = [
    ("/v1/inventory", "inventory_items"),
    ("/v1/purchase-orders", "purchase_orders"),
    ("/v1/purchase_orders/list", "purchase_orders"),
    ("/v1/cycle-counts", "cycle_counts"),
    ("/v1/bill_of_materials/list", "bill_of_materials"),
    ("/v1/work-orders", "work_orders"),
    ("/v1/work_order/list", "work_orders"),
    ("/v1/manufacture_orders/list", "manufacture_orders"),
    ("/v1/cases/list", "cases"),
    ("/v1/customers/list", "customers"),
    ("/v1/customer/list", "customers"),
    ("/v1/warranty/list", "warranties"),
    ("/v1/warranty", "warranties"),
    ("/v1/warranty_line_item", "warranty_line_items"),
]


@pytest.mark.parametrize("slash", ["", "/"])
@pytest.mark.parametrize(("path", "resource"), LIST_ALIASES)
def test_every_list_alias_answers_the_canonical_list(api, path, resource, slash):
    canonical = api.get(f"/v1/{resource}").json()
    response = api.get(path + slash)
    assert response.status_code == 200, (path, response.content)
    assert response.json() == canonical


@pytest.fixture
def stocked(db):
    make_item("A", on_hand=50)
    make_item("B", on_hand=50)


def _create_bodies():
    """(alias path, canonical resource, a body that creates one) for every create alias of §0."""
    order = shipped()  # A x 2, B x 1
    ret = make_return(order)  # every A
    other = shipped()
    claim = make_warranty()
    bom = make_bom(make_item("KIT"), [("A", 1)], activate=False)
    _, b_line = order.order_line_items.order_by("pk")
    return [
        (
            "/v1/wholesale_order",
            "wholesale_orders",
            {"order_line_items": [{"sku": "A", "quantity": 1, "unit_price": "1.00"}]},
        ),
        (
            "/v1/return",
            "returns",
            {"order_id": other.pk, "return_line_items": [{"sku": "A", "quantity": 1}]},
        ),
        (
            "/v1/return_line_items/create",
            "return_line_items",
            {"return_id": ret.pk, "order_line_item": b_line.pk, "quantity": 1},
        ),
        ("/v1/warranty", "warranties", {}),
        ("/v1/warranty_line_item", "warranty_line_items", {"warranty_id": claim.pk, "sku": "B"}),
        ("/v1/inventory", "inventory_items", {"sku": "C"}),
        ("/v1/purchase-orders", "purchase_orders", {}),
        ("/v1/cycle-counts", "cycle_counts", {}),
        (
            "/v1/work-orders",
            "work_orders",
            {"bill_of_materials": make_bom(make_item("SET"), [("A", 1)]).pk, "quantity": 1},
        ),
        (
            "/api/bill_of_materials_line_items",
            "bill_of_materials_line_items",
            {"bill_of_materials_number": bom.number, "part_number": "B", "quantity": 1},
        ),
    ]


def test_every_create_alias_creates(api, stocked):
    for path, resource, body in _create_bodies():
        response = api.post(path, body, format="json")
        assert response.status_code == 201, (path, response.content)
        created = response.json()[SINGULAR[resource]]
        assert response["Location"].endswith(f"/v1/{resource}/{created['id']}"), path
        assert api.get(f"/v1/{resource}/{created['id']}").json()[SINGULAR[resource]] == created


def test_every_id_alias_answers(api, stocked):
    order = make_order(("A", 1))
    ret = make_return()
    lead = make_lead()
    for path, resource, pk in (
        (f"/v1/order/{order.pk}/retrieve", "orders", order.pk),
        (f"/v1/return/{ret.pk}/retrieve", "returns", ret.pk),
        (f"/v1/leads/{lead.pk}/retrieve", "leads", lead.pk),
    ):
        response = api.get(path)
        assert response.status_code == 200, (path, response.content)
        assert response.json() == api.get(f"/v1/{resource}/{pk}").json()

    # actions through the singular prefixes, POST and PUT
    ack = api.post(f"/v1/order/{order.pk}/hold", {"reason": "check"}, format="json").json()
    assert (ack["held"], ack["order"]["status"]) == (True, "on_hold")
    ack = api.put(f"/v1/order/{order.pk}/release", format="json").json()
    assert (ack["released"], ack["order"]["status"]) == (True, "pending")
    ack = api.post(f"/v1/return/{ret.pk}/approve", format="json").json()
    assert (ack["approved"], ack["return"]["status"]) == (True, "approved")
    ack = api.post(f"/v1/orders/{order.pk}/update", {"notes": "via the documented Update Order"}, format="json")
    assert ack.json()["order"]["notes"] == "via the documented Update Order"
