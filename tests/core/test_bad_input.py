"""Bad input is never a 500 (contract §1.6): odd values found by fuzzing the API, on every resource they reach."""

import datetime
import json

import pytest

from stateset.filters import IdFilter
from stateset.urls import RESOURCES
from tests.factories import api_client, make_customer, make_item, make_lead, make_location
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

# ---- id filters ---------------------------------------------------------------------------------------------

ID_FILTERS = [
    (prefix, name)
    for prefix, viewset in RESOURCES
    if viewset.filterset_class is not None
    for name, filter_ in viewset.filterset_class.base_filters.items()
    if isinstance(filter_, IdFilter)
]


def test_every_foreign_key_filter_is_an_id_filter():
    assert ("orders", "customer") in ID_FILTERS
    assert len(ID_FILTERS) >= 20


@pytest.mark.parametrize("value", ["99999999999999999999999", "9223372036854775808", "1.5", "-1", "0", "abc", "²"])
@pytest.mark.parametrize(("prefix", "name"), ID_FILTERS)
def test_a_bad_id_in_a_filter_is_400(api, prefix, name, value):
    # Numbers past a BIGINT used to reach SQLite (OverflowError, a 500); "1.5" matched id 1.
    body = assert_error(api.get(f"/v1/{prefix}", {name: value}), 400, "invalid_request_error", "validation_error")
    assert name in body["errors"]


@pytest.mark.parametrize("value", ["99999999999999999999999", "²", "007"])
@pytest.mark.parametrize(
    "path", ["/v1/orders?location=", "/v1/wholesale_orders?location=", "/v1/returns?order=", "/v1/warranties?order_id="]
)
def test_an_id_or_code_filter_takes_any_text(api, path, value):
    # The value is a code or number unless it is a whole number in range; "²" is a digit to str.isdigit only.
    make_location("007")
    response = api.get(path + value)
    assert response.status_code == 200, response.content


# ---- NUL characters (PostgreSQL stores none in text or jsonb) ---------------------------------------------


@pytest.mark.parametrize("param", ["search", "query", "sku"])
@pytest.mark.parametrize("prefix", [prefix for prefix, _ in RESOURCES])
def test_a_null_character_in_a_list_parameter_is_400(api, prefix, param):
    # `search` and plain filters (`sku` on items) reached PostgreSQL, which refuses NUL in text: a 500.
    body = assert_error(api.get(f"/v1/{prefix}", {param: "a\x00b"}), 400, "invalid_request_error", "validation_error")
    assert body["errors"] == {param: "Null characters are not allowed."}


def test_a_null_character_in_a_list_body_on_get_is_400(api):
    response = api.generic("GET", "/v1/orders", json.dumps({"search": "\x00"}), content_type="application/json")
    assert_error(response, 400, "invalid_request_error", "validation_error")


# ---- unknown routes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/v1/nope", "/v1/orders/abc/cancel", "/v1/orders/null", "/api/nope"])
def test_a_write_to_an_unknown_route_is_a_json_404_not_a_csrf_page(method, path):
    # The catch-all view ran behind CsrfViewMiddleware: a key-authenticated POST got Django's HTML 403.
    client = api_client()
    client.handler.enforce_csrf_checks = True
    response = getattr(client, method)(path, {"a": 1}, format="json")
    assert_error(response, 404, "not_found_error", "resource_not_found")


# ---- OPTIONS -----------------------------------------------------------------------------------------------


def _option_paths():
    for prefix, viewset in RESOURCES:
        yield f"/v1/{prefix}"
        yield f"/v1/{prefix}/1"
        for extra in viewset.get_extra_actions():
            yield f"/v1/{prefix}/1/{extra.url_path}" if extra.detail else f"/v1/{prefix}/{extra.url_path}"


@pytest.mark.parametrize("path", sorted(set(_option_paths())))
def test_options_on_every_route_is_never_a_500(api, path):
    # DRF describes PUT by loading the object; POST /v1/orders/merge (PUT too) has no id: an AssertionError 500.
    response = api.options(path)
    if response.status_code == 404:
        assert_error(response, 404, "not_found_error", "resource_not_found")
    else:
        assert response.status_code == 200, response.content


def test_options_on_the_merge_route_describes_it(api):
    response = api.options("/v1/orders/merge")
    assert response.status_code == 200, response.content
    assert "POST" in response["Allow"]


# ---- offset ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [2**63, 10**30])
@pytest.mark.parametrize("prefix", [prefix for prefix, _ in RESOURCES])
def test_an_offset_past_a_bigint_is_400(api, prefix, offset):
    # SQLite raised "datatype mismatch", answered as a 409 that StateSet's client retries forever; PostgreSQL a 500.
    response = api.get(f"/v1/{prefix}", {"offset": offset})
    body = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert "offset" in body["errors"]


def test_an_offset_past_the_bound_is_400_and_the_ledger_and_history_pages_are_bounded_too(api):
    # Issue #16: an offset above 10,000 is a 400 that points to the cursor (it used to be an empty page).
    item, lead = make_item(on_hand=1), make_lead()
    body = assert_error(
        api.get("/v1/customers", {"offset": 2**63 - 1}), 400, "invalid_request_error", "validation_error"
    )
    assert "starting_after" in body["errors"]["offset"]
    for path in (f"/v1/inventory_items/{item.pk}/movements", f"/v1/leads/{lead.pk}/history"):
        assert_error(api.get(path, {"offset": 2**63}), 400, "invalid_request_error", "validation_error")


# ---- date-time filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize("param", ["created_after", "created_before", "updated_after"])
def test_a_date_time_filter_with_any_iso_offset_answers(api, param):
    # PostgreSQL takes offsets up to ±15:59 only: -22:09 was a DataError, a 500. The filter compares in UTC.
    customer = make_customer()
    stamp = customer.created_at.astimezone(datetime.timezone(datetime.timedelta(hours=-22, minutes=-9)))
    body = api.get("/v1/customers", {param: stamp.isoformat()}).json()
    assert [c["id"] for c in body["customers"]] == [customer.pk]


@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", "2026-13-45", "yesterday"])
def test_a_date_time_filter_out_of_range_or_malformed_is_400(api, value):
    body = assert_error(
        api.get("/v1/orders", {"created_after": value}), 400, "invalid_request_error", "validation_error"
    )
    assert "created_after" in body["errors"]


# ---- bodies the parser or Django refuses before a view ---------------------------------------------------------


def nested(depth: int) -> str:
    return '{"email": "deep@example.com", "metadata": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("depth", [33, 400, 5000])
@pytest.mark.parametrize("keyed", [False, True], ids=["plain", "idempotency-key"])
def test_a_body_nested_too_deeply_is_a_400(api, depth, keyed):
    from crm.models import Customer

    headers = {"HTTP_IDEMPOTENCY_KEY": f"deep-{depth}"} if keyed else {}
    response = api.post("/v1/customers", nested(depth), content_type="application/json", **headers)
    body = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert "nested deeper than 32 levels" in body["message"]
    assert not Customer.objects.exists()


@pytest.mark.parametrize("keyed", [False, True], ids=["plain", "idempotency-key"])
def test_a_body_above_the_upload_limit_is_a_413_in_the_error_shape(api, settings, keyed):
    from crm.models import Customer

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    headers = {"HTTP_IDEMPOTENCY_KEY": "big"} if keyed else {}
    payload = json.dumps({"email": "big@example.com", "firstName": "x" * 2000})
    response = api.post("/v1/customers", payload, content_type="application/json", **headers)
    body = assert_error(response, 413, "invalid_request_error", "request_too_large")
    assert "1000 bytes" in body["message"]
    assert not Customer.objects.exists()


def test_a_lock_clash_while_claiming_an_idempotency_key_is_a_retryable_409(api, monkeypatch):
    from django.db import OperationalError

    from crm.models import Customer
    from stateset import idempotency

    def locked(*args):
        raise OperationalError("database is locked")

    monkeypatch.setattr(idempotency, "_claim", locked)
    response = api.post("/v1/customers", {"email": "l@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert_error(response, 409, "api_error", "conflict")
    assert not Customer.objects.exists()


def test_errors_outside_any_view_are_json_under_the_api_and_html_elsewhere(rf):
    from django.core.exceptions import SuspiciousOperation

    from stateset.api import bad_request, server_error

    for path in ("/v1/customers", "/api/bill_of_materials_line_items"):
        assert json.loads(server_error(rf.get(path)).content)["code"] == "internal_error"
        assert json.loads(bad_request(rf.get(path), SuspiciousOperation()).content)["code"] == "bad_request"
    assert server_error(rf.get("/admin/")).headers["Content-Type"].startswith("text/html")


def test_a_request_with_a_host_we_do_not_serve_is_a_400_in_the_error_shape(api):
    response = api.get("/v1/customers", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
