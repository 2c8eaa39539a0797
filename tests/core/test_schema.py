import pytest

from tests.helpers import openapi_schema


@pytest.mark.django_db
def test_schema_builds_without_warnings():
    paths = openapi_schema()["paths"]
    assert "/v1/customers" in paths and "/v1/customers/{id}" in paths
    # aliases are routes onto the same views, not documented twice
    assert not any(p.startswith("/v1/customer/") or p == "/v1/customers/list" for p in paths)
    # every operation documents the error shape
    get_list = paths["/v1/customers"]["get"]["responses"]
    assert get_list["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert "CustomerList" in get_list["200"]["content"]["application/json"]["schema"]["$ref"]


@pytest.mark.django_db
def test_schema_and_docs_are_served(api, admin_client):
    assert api.get("/v1/schema").status_code == 200
    response = admin_client.get("/v1/docs")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content and b"cdn" not in response.content.lower()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/v1/schema", "/v1/docs"])
def test_schema_and_docs_need_a_key_and_answer_errors_in_the_error_shape(api, path):
    from rest_framework.test import APIClient

    from tests.helpers import assert_error

    assert_error(APIClient().get(path), 401, "authentication_error", "missing_api_key")
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Token sk_nope")
    assert_error(stranger.get(path), 401, "authentication_error", "invalid_api_key")
    assert_error(api.options(path), 405, "invalid_request_error", "method_not_allowed")


@pytest.mark.django_db
def test_action_request_bodies_are_their_input_serializers():
    paths = openapi_schema()["paths"]

    def body(path):
        return paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]

    assert body("/v1/orders/{id}/ship").endswith("/OrdersShipInputRequest")
    assert body("/v1/inventory_items/{id}/adjust").endswith("/InventoryAdjustInputRequest")


@pytest.mark.django_db
def test_id_filters_are_integers_and_date_filters_date_times(api):
    params = {
        p["name"]: p["schema"]
        for p in api.get("/v1/schema?format=json").json()["paths"]["/v1/orders"]["get"]["parameters"]
    }
    assert params["customer"]["type"] == "integer"
    assert params["created_after"] == {"type": "string", "format": "date-time"}
