import pytest

from tests.helpers import openapi_schema


@pytest.mark.django_db
def test_orders_are_in_the_schema_and_their_aliases_are_not():
    paths = openapi_schema()["paths"]
    for path in (
        "/v1/orders",
        "/v1/orders/{id}",
        "/v1/orders/{id}/cancel",
        "/v1/orders/{id}/update",
        "/v1/orders/{id}/merge",
        "/v1/orders/merge",
        "/v1/orders/{id}/history",
        "/v1/promotions/{id}",
        "/v1/wholesale_orders/{id}/approve",
    ):
        assert path in paths, path
    assert not any(p.startswith(("/v1/order/", "/v1/wholesale_order/")) for p in paths)
    assert "delete" not in paths["/v1/orders/{id}"]
    split = paths["/v1/orders/{id}/split"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert split["$ref"].endswith("/OrderSplitAck")
