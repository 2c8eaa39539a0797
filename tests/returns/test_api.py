"""Lists, filters, search, aliases and the schema of the returns resources; list endpoints cost a fixed number
of queries whatever the page size."""

import pytest

from returns import services
from tests.factories import SYSTEM, make_order
from tests.helpers import assert_error, assert_list_queries_constant, openapi_schema
from tests.returns.support import lines_of, make_return, make_warranty, shipped, stock

pytestmark = pytest.mark.django_db


def _ids(response, plural):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()[plural]]


def test_return_filters_and_search(api):
    stock()
    first = make_return(tracking_number="1ZFIRST", serial_number="SER-9")
    second = make_return(status="approved")
    third = make_return(status="cancelled")
    assert _ids(api.get("/v1/returns?status=requested,approved&order_direction=asc"), "returns") == [
        first.pk,
        second.pk,
    ]
    assert _ids(api.get(f"/v1/returns?order_id={first.order_id}"), "returns") == [first.pk]
    assert _ids(api.get(f"/v1/returns?order_id={second.order.order_number}"), "returns") == [second.pk]
    assert _ids(api.get(f"/v1/returns?customer={third.customer_id}"), "returns") == [third.pk]
    assert _ids(api.get(f"/v1/returns?customer_email={third.customer.email.upper()}"), "returns") == [third.pk]
    assert _ids(api.get(f"/v1/returns?rma={second.rma.lower()}"), "returns") == [second.pk]
    assert _ids(api.get("/v1/returns/search?query=1zfirst"), "returns") == [first.pk]
    assert _ids(api.get("/v1/returns?search=SER-9"), "returns") == [first.pk]
    assert _ids(api.get(f"/v1/returns/search?query={third.customer.email}"), "returns") == [third.pk]
    assert _ids(api.get("/v1/returns/search?query=A"), "returns") == [third.pk, second.pk, first.pk]  # line SKU
    assert _ids(api.get("/v1/returns?created_after=2000-01-01&created_before=2999-01-01&limit=2"), "returns") == [
        third.pk,
        second.pk,
    ]
    assert (
        api.generic("GET", "/v1/returns", '{"status": "cancelled"}', content_type="application/json").json()[
            "total_count"
        ]
        == 1
    )
    for bad in ("status=bogus", "customer=abc", "created_after=yesterday", "order_by=nope"):
        assert_error(api.get(f"/v1/returns?{bad}"), 400, "invalid_request_error", "validation_error")


def test_return_line_item_and_warranty_filters(api):
    stock()
    ret = make_return()
    other = make_return()
    line = ret.return_line_items.get()
    assert _ids(api.get(f"/v1/return_line_items?return_id={ret.pk}"), "return_line_items") == [line.pk]
    assert len(_ids(api.get("/v1/return_line_items?sku=a&condition=new,like_new"), "return_line_items")) == 2
    assert api.get(f"/v1/return_line_item/{line.pk}").json()["return_line_item"]["return_id"] == ret.pk
    assert other.pk != ret.pk
    order = shipped()
    claim = make_warranty(order, serial_number="SN-77", lines=[{"sku": "A", "serial_number": "LINE-SN"}])
    make_warranty(status="denied")
    assert _ids(api.get(f"/v1/warranties?order_id={order.order_number}"), "warranties") == [claim.pk]
    assert _ids(api.get("/v1/warranties?status=requested"), "warranties") == [claim.pk]
    assert _ids(api.get(f"/v1/warranty?warrantyNumber={claim.warranty_number}"), "warranties") == [claim.pk]
    assert _ids(api.get("/v1/warranties/search?query=line-sn"), "warranties") == [claim.pk]
    assert _ids(api.get("/v1/warranty/list?serial_number=sn-77"), "warranties") == [claim.pk]
    line = claim.warranty_line_items.get()
    assert _ids(api.get(f"/v1/warranty_line_item?warranty_id={claim.pk}"), "warranty_line_items") == [line.pk]


def test_aliases_serve_the_same_views(api):
    stock()
    ret = make_return()
    assert api.get(f"/v1/return/{ret.pk}/retrieve").json()["return"]["rma"] == ret.rma
    assert api.get(f"/v1/return/{ret.pk}").json()["return"]["id"] == ret.pk
    assert api.get(f"/v1/returns/{ret.pk}/").status_code == 200
    assert api.post(f"/v1/return/{ret.pk}/approve/").json()["approved"] is True
    claim = make_warranty()
    assert api.get(f"/v1/warranty/{claim.pk}").json()["warranty"]["id"] == claim.pk
    assert api.get("/v1/warranty/list").json()["total_count"] == 1
    assert api.post(f"/v1/warranty/{claim.pk}/status", {"status": "approved"}).json()["warranty"]["status"] == (
        "approved"
    )
    assert_error(api.get("/v1/returns/999999"), 404, "not_found_error", "resource_not_found")
    assert_error(api.post("/v1/returns/1/explode"), 404, "not_found_error", "resource_not_found")


def _new_return():
    order = make_order(("A", 1, "10.00"), ("B", 1, "5.00"), status="delivered")
    a, b = lines_of(order)
    return services.return_create(
        by=SYSTEM,
        order=order,
        return_line_items=[{"order_line_item": a.pk, "quantity": 1}, {"order_line_item": b.pk, "quantity": 1}],
    )


def _new_claim():
    order = make_order(("A", 1, "10.00"), status="delivered")
    return make_warranty(order, lines=[{"sku": "A"}, {"sku": "B"}])


@pytest.mark.parametrize(
    ("url", "plural", "make_one"),
    [
        ("/v1/returns?limit=100", "returns", _new_return),
        ("/v1/return_line_items?limit=100&sku=A", "return_line_items", _new_return),
        ("/v1/warranties?limit=100", "warranties", _new_claim),
        ("/v1/warranty_line_items?limit=100&sku=A", "warranty_line_items", _new_claim),
    ],
)
def test_lists_cost_a_fixed_number_of_queries(api, url, plural, make_one):
    stock(500)
    assert_list_queries_constant(api, url, plural, make_one, more=20)


def test_customers_see_their_returns_and_warranties_and_keep_them(api, admin_client):
    stock()
    ret = make_return()
    make_warranty(ret.order)
    page = admin_client.get(f"/admin/crm/customer/{ret.customer_id}/change/").content.decode()
    assert "returns: 1" in page and "warranties: 1" in page
    changelist = admin_client.get(f"/admin/returns/return/?customer__id__exact={ret.customer_id}")
    assert changelist.status_code == 200 and ret.rma in changelist.content.decode()
    error = assert_error(
        api.delete(f"/v1/customers/{ret.customer_id}"), 422, "invalid_request_error", "customer_has_orders"
    )
    assert "returns" in error["message"] and "warranties" in error["message"]


def test_schema_lists_the_resources_and_the_order_operations_but_no_alias():
    paths = openapi_schema()["paths"]
    for path in (
        "/v1/returns",
        "/v1/returns/{id}",
        "/v1/returns/{id}/receive",
        "/v1/returns/{id}/history",
        "/v1/return_line_items/{id}",
        "/v1/warranties/{id}/status",
        "/v1/warranty_line_items",
        "/v1/orders/{id}/return",
        "/v1/orders/{id}/exchange",
    ):
        assert path in paths, path
    assert paths["/v1/orders/{id}/exchange"]["post"]["tags"] == ["orders"]
    ack = paths["/v1/orders/{id}/exchange"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ack["$ref"].endswith("/OrderExchangeAck")
    assert not any(
        p.startswith(("/v1/return/", "/v1/warranty/", "/v1/return_line_item/", "/v1/warranty_line_item/"))
        or p in ("/v1/return", "/v1/warranty", "/v1/return_line_items/create")
        for p in paths
    )


def test_a_return_for_an_order_named_by_non_ascii_digits_is_400(api):
    # "²" passed str.isdigit and then failed int(): a 500.
    from returns.models import Return

    stock()
    order = shipped()
    count = Return.objects.count()
    body = {"order_id": "²", "return_line_items": [{"sku": "A", "quantity": 1}]}
    assert_error(api.post("/v1/returns", body, format="json"), 400, "invalid_request_error", "validation_error")
    line = lines_of(order)[0]
    body = {"order_id": order.pk, "return_line_items": [{"order_line_item": "²", "quantity": 1}]}
    response = api.post("/v1/returns", body, format="json")
    assert response.status_code == 400, response.content
    assert Return.objects.count() == count
    assert line.quantity_returned == lines_of(order)[0].quantity_returned


def test_a_null_character_in_the_order_reference_is_400(api):
    # PostgreSQL stores no NUL in text: the order lookup by number reached it, a 500.
    from returns.models import Return

    stock()
    shipped()
    body = {"order_id": "\x00", "return_line_items": [{"sku": "A", "quantity": 1}]}
    assert_error(api.post("/v1/returns", body, format="json"), 400, "invalid_request_error", "validation_error")
    assert Return.objects.count() == 0


def test_a_return_line_amount_past_a_money_column_is_400(api):
    # price x quantity past 9,999,999,999.99: PostgreSQL refused it (a 500); SQLite stored it.
    from returns.models import Return

    stock()
    order = shipped()
    line = lines_of(order)[0]  # A x 2
    body = {
        "order_id": order.pk,
        "return_line_items": [{"order_line_item": line.pk, "quantity": 2, "price": "9999999999.99"}],
    }
    error = assert_error(api.post("/v1/returns", body, format="json"), 400, "invalid_request_error", "validation_error")
    assert "amount" in error["errors"]
    assert Return.objects.count() == 0
    assert lines_of(order)[0].quantity_returned == 0
