"""`search` and `/search` find orders, customers and returns by number, email, SKU and tracking number, on
SQLite and on PostgreSQL (where the trigram indexes serve them; tests/core/test_list_plans.py checks the plans),
each document once however many of its lines match."""

import pytest

from tests.factories import make_customer, make_item, make_order
from tests.returns.support import make_return, shipped

pytestmark = pytest.mark.django_db


def found(api, path, text, key):
    ids = [row["id"] for row in api.get(path, {"search": text}).json()[key]]
    via_search = [row["id"] for row in api.get(f"{path}/search", {"query": text}).json()[key]]
    assert ids == via_search
    return ids


def test_orders_by_number_email_and_sku(api):
    widget, gadget = make_item("WIDGET-RED-42", on_hand=20), make_item("GADGET-9", on_hand=20)
    customer = make_customer(email="Ann.Lee@Example.org", first_name="Ann", last_name="Leeward")
    order = make_order((widget, 1), (gadget, 1), customer=customer)
    other = make_order((gadget, 2))
    number = order.order_number
    assert found(api, "/v1/orders", number.lower(), "orders") == [order.pk]
    assert found(api, "/v1/orders", "ann.lee@example", "orders") == [order.pk]  # the customer's email
    assert found(api, "/v1/orders", "leeward", "orders") == [order.pk]  # the customer's name
    assert found(api, "/v1/orders", "widget-red", "orders") == [order.pk]  # a line's SKU
    assert found(api, "/v1/orders", "GADGET", "orders") == [other.pk, order.pk]  # once each, newest first
    assert found(api, "/v1/orders", "gadget ann", "orders") == [order.pk]  # every word must match
    assert found(api, "/v1/orders", "nothing-like-it", "orders") == []


def test_an_address_matches_emails_from_their_start_and_a_fragment_anywhere(api):
    ann = make_customer(email="Ann.Lee@Example.org", first_name="Ann", last_name="Lee")
    jo = make_customer(email="jo.ann.lee@example.org", first_name="Jo", last_name="Lee")
    other = make_customer(email="ann.lee@example.com", first_name="Ann", last_name="Other")
    orders = {c.pk: make_order((make_item(on_hand=5), 1), customer=c).pk for c in (ann, jo, other)}
    # An address (an @ after the first character): from the email's start, case-insensitive.
    assert found(api, "/v1/customers", "ANN.LEE@example.org", "customers") == [ann.pk]
    assert found(api, "/v1/customers", "ann.lee@example", "customers") == [other.pk, ann.pk]
    assert found(api, "/v1/orders", "ann.lee@example.org", "orders") == [orders[ann.pk]]
    assert found(api, "/v1/orders", "lee@example.org", "orders") == []  # not from the start of any email
    # A fragment without an address's shape: anywhere, as every other field.
    assert found(api, "/v1/customers", "ann.lee", "customers") == [other.pk, jo.pk, ann.pk]
    assert found(api, "/v1/orders", "@example.org", "orders") == [orders[jo.pk], orders[ann.pk]]
    # Every word must still match: an address and a name.
    assert found(api, "/v1/orders", "ann.lee@ other", "orders") == [orders[other.pk]]


def test_orders_by_sku_filter_are_exact_and_each_once(api):
    widget, gadget = make_item("WIDGET-RED-42", on_hand=20), make_item("WIDGET-RED-4", on_hand=20)
    both = make_order((widget, 1), (gadget, 1))
    twice = make_order((widget, 1))
    make_order((gadget, 2))
    ids = [row["id"] for row in api.get("/v1/orders", {"sku": "WIDGET-RED-42"}).json()["orders"]]
    assert ids == [twice.pk, both.pk]  # newest first, each once; WIDGET-RED-4 is not WIDGET-RED-42
    assert api.get("/v1/orders", {"sku": "widget-red-42"}).json()["orders"] == []  # SKUs are exact, as elsewhere
    assert api.get("/v1/orders", {"sku": "WIDGET-RED-42"}).json()["total_count"] == 2


def test_customers_by_email_and_name(api):
    ann = make_customer(email="ann.search@example.org", first_name="Annabel", last_name="Quill")
    make_customer(email="bob@example.org")
    assert found(api, "/v1/customers", "ANN.SEARCH", "customers") == [ann.pk]
    assert found(api, "/v1/customers", "quil", "customers") == [ann.pk]


def test_returns_by_tracking_number_rma_and_sku(api):
    item = make_item("RETURNED-SKU-7", on_hand=20)
    ret = make_return(shipped((item, 2)), tracking_number="1Z999AA10123456784")
    make_return(shipped((make_item("KEPT-1", on_hand=5), 1)))
    assert found(api, "/v1/returns", "1z999aa1012", "returns") == [ret.pk]
    assert found(api, "/v1/returns", ret.rma.lower(), "returns") == [ret.pk]
    assert found(api, "/v1/returns", "returned-sku", "returns") == [ret.pk]
