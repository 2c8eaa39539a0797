"""Bad input is never a 500 (contract §1.6): odd values found by fuzzing the API, on every resource they reach."""

import datetime
import json

import pytest

from stateset.filters import IdFilter
from stateset.urls import RESOURCES
from tests.factories import api_client, level, make_customer, make_item, make_lead, make_location
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


@pytest.mark.parametrize(
    "value", ["99999999999999999999999", "9223372036854775808", "1.5", "-1", "0", "abc", "²", "１", "1.0", " 1"]
)
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


# ---- issue #14.4: lone surrogates, an inline email past its column, stock past its bound -------------------


def _writes():
    from crm.models import Customer
    from inventory.models import StockMovement
    from orders.models import Order

    return Order.objects.count(), Customer.objects.count(), StockMovement.objects.count()


@pytest.mark.parametrize(
    "extra",
    [
        {"metadata": {"note": "\ud800"}},
        {"metadata": {"\udfff": 1}},
        {"payment": {"method": "card", "payment_intent_id": "pi_\ud83d"}},
        {"shipping_address": {"line1": "2 Elm \udc00", "city": "Oslo"}},
        {"customer": {"email": "s@example.com", "first_name": "\ud800"}},
    ],
    ids=["metadata-value", "metadata-key", "payment", "address", "inline-customer"],
)
def test_a_lone_surrogate_anywhere_in_a_json_body_is_400_and_writes_nothing(api, extra):
    # PostgreSQL cannot encode one in UTF-8: a 500 on insert. JSON allows the escape, Unicode text does not.
    make_item("A", on_hand=5)
    before = _writes()
    body = {"order_line_items": [{"sku": "A", "quantity": 1, "unit_price": 1}], **extra}
    response = api.post("/v1/orders", json.dumps(body), content_type="application/json")
    error = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert "surrogate" in error["message"]
    assert _writes() == before


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 10**273])
def test_an_integer_past_64_bits_in_a_json_field_is_kept_and_rendered(api, number):
    # Metadata keeps what the client sent; the renderer (orjson) holds 64-bit integers only, and every answer
    # rendering the movement was a 500: found by the fuzzer through an item's movements.
    item = make_item("A", on_hand=5)
    body = f'{{"quantity": 1, "reason": "count", "metadata": {{"n": {number}}}}}'
    response = api.post(f"/v1/inventory_items/{item.pk}/adjust", body, content_type="application/json")
    assert response.status_code == 200, response.content
    movements = api.get(f"/v1/inventory_items/{item.pk}/movements")
    assert movements.status_code == 200
    assert json.loads(movements.content)["movements"][0]["metadata"] == {"n": number}


def test_an_inline_customer_email_longer_than_its_column_is_400_and_writes_nothing(api):
    # Django's EmailValidator takes up to 320 characters; the column holds 254: a DataError 500 on PostgreSQL.
    make_item("A", on_hand=5)
    before = _writes()
    email = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".com"
    assert 254 < len(email) <= 320
    body = {"customer": {"email": email}, "order_line_items": [{"sku": "A", "quantity": 1, "unit_price": 1}]}
    error = assert_error(api.post("/v1/orders", body, format="json"), 400, "invalid_request_error", "validation_error")
    assert "email" in error["errors"]["customer"]
    assert _writes() == before


def test_stock_past_its_maximum_is_a_422_and_moves_nothing(api):
    # Repeated +1,000,000 adjustments overflowed the integer columns near 2.1 billion (a 500 on PostgreSQL).
    from inventory.models import StockMovement
    from stateset.limits import MAX_STOCK

    item = make_item("BIG", on_hand=MAX_STOCK - 500_000)
    movements = StockMovement.objects.count()
    response = api.post(f"/v1/inventory_items/{item.pk}/adjust", {"quantity": 1_000_000}, format="json")
    error = assert_error(response, 422, "invalid_request_error", "stock_limit_exceeded")
    assert str(MAX_STOCK) in error["message"].replace(",", "")
    assert StockMovement.objects.count() == movements
    assert api.get(f"/v1/inventory_items/{item.pk}").json()["inventory_item"]["warehouse"] == MAX_STOCK - 500_000
    done = api.post(f"/v1/inventory_items/{item.pk}/adjust", {"quantity": 500_000}, format="json")
    assert done.status_code == 200, done.content


# ---- issue #14.5: an encoded newline in a /v1 path ----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/v1/orders/1%0A", "/v1/orders%0A", "/v1/orders/1/cancel%0A", "/v1/nope%0Ax", "/v1/%0A", "/api/x%0Ay"],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_encoded_newline_in_an_api_path_is_the_json_404(api, method, path):
    # `.` in the catch-all route matched no newline, so Django answered its HTML 404 page.
    from orders.models import Order

    make_item("A", on_hand=1)
    response = getattr(api, method)(path, {"reason": "x"}, format="json")
    assert_error(response, 404, "not_found_error", "resource_not_found")
    assert not Order.objects.exists()


# ---- issue #14.6: every typed filter refuses a bad value -----------------------------------------------------


def _typed_filters():
    """(prefix, name) of every boolean, number, date and choice filter of every list, read from the router's
    viewsets: what a filter parses is its form field."""
    from django import forms

    from stateset.filters import CommaSeparatedChoiceField, StrictBooleanField

    typed = (
        forms.NullBooleanField,
        forms.BooleanField,
        forms.IntegerField,
        forms.DecimalField,
        forms.FloatField,
        forms.DateField,
        forms.DateTimeField,
        forms.ChoiceField,
        CommaSeparatedChoiceField,
        StrictBooleanField,
    )
    for prefix, viewset in RESOURCES:
        for name, filter_ in (viewset.filterset_class.base_filters if viewset.filterset_class else {}).items():
            field_class = filter_.field_class
            if issubclass(field_class, typed):
                yield prefix, name


TYPED_FILTERS = sorted(set(_typed_filters()))


def test_the_typed_filter_walk_sees_every_kind():
    names = {f"{prefix}.{name}" for prefix, name in TYPED_FILTERS}
    assert {"promotions.active", "locations.active", "bill_of_materials.revision", "orders.start_date"} <= names
    assert {"promotions.type", "orders.status", "return_line_items.restocked"} <= names


@pytest.mark.parametrize(("prefix", "name"), TYPED_FILTERS)
def test_a_garbage_value_in_any_typed_filter_is_400(api, prefix, name):
    # `?active=garbage` on promotions listed everything: django-filter's BooleanFilter ignores what it cannot read.
    body = assert_error(api.get(f"/v1/{prefix}", {name: "garbage"}), 400, "invalid_request_error", "validation_error")
    assert name in body["errors"]


# ---- issue #14.7: losing the database ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ("OperationalError", "server closed the connection unexpectedly"),
        ("OperationalError", "terminating connection due to administrator command"),
        ("InterfaceError", "connection already closed"),
    ],
)
def test_a_lost_database_connection_is_a_retryable_503(api, monkeypatch, error):
    from django import db

    from crm.api import CustomerViewSet

    def lost(self):
        raise getattr(db, error[0])(error[1])

    monkeypatch.setattr(CustomerViewSet, "get_queryset", lost)
    response = api.get("/v1/customers")
    assert_error(response, 503, "api_error", "service_unavailable")
    assert int(response["Retry-After"]) >= 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_request_after_the_database_connection_is_terminated_is_not_a_500():
    import psycopg
    from django.db import close_old_connections, connection

    from crm.models import Customer

    api = api_client()
    assert api.get("/v1/customers").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])

    # The test client skips the request_started handler that checks the connection: the dead one is used.
    response = api.post("/v1/customers", {"email": "lost@example.com"}, format="json")
    assert_error(response, 503, "api_error", "service_unavailable")
    assert "Retry-After" in response
    # A server runs that handler before each request: with CONN_HEALTH_CHECKS the lost connection is replaced.
    close_old_connections()
    response = api.post("/v1/customers", {"email": "lost@example.com"}, format="json")
    assert response.status_code == 201, response.content
    assert Customer.objects.filter(email="lost@example.com").count() == 1


# ---- issue #14.8: loose parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", ['"1.0"', "1.0", "1e2", '"1e2"', '"１"', '"٣"', "true", '" 2"'])
def test_a_quantity_that_is_not_a_json_integer_or_ascii_digits_is_400(api, quantity):
    # DRF's IntegerField took 1.0, 1e2 (100.0) and any Unicode digit (int("１") == 1).
    from orders.models import Order

    make_item("A", on_hand=500)
    body = '{"order_line_items": [{"sku": "A", "quantity": ' + quantity + ', "unit_price": 1}]}'
    error = assert_error(
        api.post("/v1/orders", body, content_type="application/json"), 400, "invalid_request_error", "validation_error"
    )
    assert "quantity" in error["errors"]["order_line_items"]["0"]
    assert not Order.objects.exists()


@pytest.mark.parametrize("quantity", ["1.0", "1e2", '"１"'])
def test_an_action_quantity_that_is_not_an_integer_is_400(api, quantity):
    from inventory.models import StockMovement

    item = make_item("A", on_hand=5)
    movements = StockMovement.objects.count()
    body = '{"quantity": ' + quantity + "}"
    response = api.post(f"/v1/inventory_items/{item.pk}/adjust", body, content_type="application/json")
    assert "quantity" in assert_error(response, 400, "invalid_request_error", "validation_error")["errors"]
    assert StockMovement.objects.count() == movements


def test_an_integer_may_be_a_json_integer_or_a_string_of_ascii_digits(api):
    item = make_item("A", on_hand=5)
    for quantity in (2, "3"):
        response = api.post(f"/v1/inventory_items/{item.pk}/adjust", {"quantity": quantity}, format="json")
        assert response.status_code == 200, response.content
    assert level(item)[0] == 10


@pytest.mark.parametrize("path", ["/v1/customers/１", "/v1/customers/١", "/v1/customers/１/history"])
def test_an_id_in_a_path_is_ascii_digits(api, path):
    make_customer()
    assert_error(api.get(path), 404, "not_found_error", "resource_not_found")


def test_a_duplicate_key_in_a_json_body_is_400_and_writes_nothing(api):
    # Python's json took the last of the two: the client's first value was silently dropped.
    from crm.models import Customer

    body = '{"email": "first@example.com", "firstName": "A", "email": "second@example.com"}'
    error = assert_error(
        api.post("/v1/customers", body, content_type="application/json"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert "email" in error["message"]
    nested = '{"email": "n@example.com", "metadata": {"a": 1, "a": 2}}'
    assert_error(
        api.post("/v1/customers", nested, content_type="application/json"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert not Customer.objects.exists()


def test_a_negative_unit_cost_is_refused_as_every_other_negative_price(api):
    from inventory.models import InventoryItem

    response = api.post("/v1/inventory_items", {"sku": "NEG", "unit_cost": "-1.00"}, format="json")
    assert "unit_cost" in assert_error(response, 400, "invalid_request_error", "validation_error")["errors"]
    assert not InventoryItem.objects.filter(sku="NEG").exists()
    item = make_item("POS", unit_cost="2.00")
    response = api.patch(f"/v1/inventory_items/{item.pk}", {"unit_cost": "-0.01"}, format="json")
    assert "unit_cost" in assert_error(response, 400, "invalid_request_error", "validation_error")["errors"]
    item.refresh_from_db()
    assert str(item.unit_cost) == "2.00"


# ---- issue #14.9: lines per document ---------------------------------------------------------------------------


def _line_lists():
    """(prefix, input serializer, field) for every writable list of every create, update and action input."""
    from rest_framework import serializers

    for prefix, viewset in RESOURCES:
        inputs = {viewset.create_serializer_class or viewset.serializer_class, viewset.update_serializer_class}
        inputs |= {
            extra.resource_action["input"] for extra in viewset.get_extra_actions() if hasattr(extra, "resource_action")
        }
        for serializer_class in sorted(filter(None, inputs), key=lambda c: c.__name__):
            for name, field in serializer_class().fields.items():
                if isinstance(field, serializers.ListSerializer | serializers.ListField) and not field.read_only:
                    yield prefix, serializer_class, name


LINE_LISTS = list(_line_lists())


def test_the_line_walk_sees_every_document_with_lines():
    found = {(prefix, name) for prefix, _, name in LINE_LISTS}
    assert {
        ("orders", "order_line_items"),
        ("orders", "items"),
        ("wholesale_orders", "order_line_items"),
        ("returns", "return_line_items"),
        ("warranties", "warranty_line_items"),
        ("purchase_orders", "purchase_order_line_items"),
        ("packing_lists", "packing_list_items"),
        ("cycle_counts", "cycle_count_line_items"),
        ("cycle_counts", "lines"),
        ("bill_of_materials", "line_items"),
        ("work_orders", "work_order_line_items"),
        ("manufacture_orders", "manufacture_order_line_items"),
    } <= found


@pytest.mark.parametrize(
    ("serializer_class", "name"),
    [(cls, name) for _, cls, name in LINE_LISTS],
    ids=[f"{prefix}-{cls.__name__}-{name}" for prefix, cls, name in LINE_LISTS],
)
def test_every_input_list_is_bounded_at_max_lines(serializer_class, name):
    # A 10,000-line order was accepted and held a worker for 30-40 s.
    from stateset.limits import MAX_LINES

    serializer = serializer_class(data={name: [{}] * (MAX_LINES + 1)}, context={})
    assert not serializer.is_valid()
    assert [str(e) for e in serializer.errors[name]] == [f"At most {MAX_LINES} entries per request."]


def test_an_order_past_max_lines_is_400_and_the_largest_allowed_one_is_created(api):
    from orders.models import Order, OrderLineItem
    from stateset.limits import MAX_LINES

    for n in range(MAX_LINES + 1):
        make_item(f"L{n}", on_hand=1)
    lines = [{"sku": f"L{n}", "quantity": 1, "unit_price": "1.00"} for n in range(MAX_LINES + 1)]
    response = api.post("/v1/orders", {"order_line_items": lines}, format="json")
    body = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert body["errors"] == {"order_line_items": f"At most {MAX_LINES} entries per request."}
    assert not Order.objects.exists()
    response = api.post("/v1/orders", {"order_line_items": lines[:MAX_LINES]}, format="json")
    assert response.status_code == 201, response.content
    assert OrderLineItem.objects.count() == MAX_LINES


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/v1/customers", {"email": "old@example.com", "activationDate": "0381-02-20T23:21:34Z"}, "activationDate"),
        ("/v1/leads", {"firstName": "Old", "birthdate": "0892-02-21"}, "birthdate"),
    ],
)
def test_a_date_before_the_year_1000_is_400_and_writes_nothing(api, url, body, field):
    """strftime writes such a year with fewer than four digits, which no client could parse back (fuzz)."""
    from crm.models import Customer, Lead

    before = (Customer.objects.count(), Lead.objects.count())
    response = api.post(url, body, format="json")
    body = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert field in body["errors"], body
    assert (Customer.objects.count(), Lead.objects.count()) == before


def test_a_url_past_its_limit_is_the_json_414(api):
    """gunicorn's own 414 is plain text (fuzz): its limit is off and the application answers in the error shape."""
    from stateset.limits import MAX_URL_LENGTH

    response = api.get("/v1/orders?search=" + "x" * MAX_URL_LENGTH)
    assert_error(response, 414, "invalid_request_error", "uri_too_long")
    assert api.get("/v1/orders?search=" + "x" * 100).status_code == 200


def test_gunicorn_leaves_the_url_limit_to_the_application():
    import runpy
    from pathlib import Path

    config = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    assert config["limit_request_line"] == 0
