import pytest

from crm.models import Customer
from tests.factories import make_customer
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

SEED_FIELDS = {
    "sso_id",
    "activationDate",
    "email",
    "firstName",
    "lastName",
    "phone",
    "stripe_customer_id",
    "timestamp",
    "id",
    "object",
    "created_at",
    "updated_at",
}


def test_create_with_the_seed_fields(api):
    body = {
        "sso_id": "1234-5678-9012-3456",
        "activationDate": "2020-01-01T00:00:00.000Z",
        "email": "customer@customer.com",
        "firstName": "Customer",
        "lastName": "Customer",
        "phone": "123-456-7890",
        "stripe_customer_id": "cus_1234567890",
        "timestamp": "2020-01-01T00:00:00.000Z",
    }
    response = api.post("/v1/customers", body)
    assert response.status_code == 201
    customer = response.json()["customer"]
    assert set(customer) == SEED_FIELDS
    assert customer["object"] == "customer"
    assert customer["activationDate"] == "2020-01-01T00:00:00Z"
    assert customer["timestamp"] == "2020-01-01T00:00:00Z"
    saved = Customer.objects.get(pk=customer["id"])
    assert (saved.first_name, saved.last_name, saved.sso_id) == (
        "Customer",
        "Customer",
        "1234-5678-9012-3456",
    )


def test_seed_list_call(api):
    """The seed's curl: GET /v1/customers/list with {"sso_id": ...} as a JSON body."""
    make_customer(sso_id="1234-5678-9012-3456", first_name="Customer")
    make_customer(sso_id="other")
    response = api.generic(
        "GET", "/v1/customers/list", '{"sso_id": "1234-5678-9012-3456"}', content_type="application/json"
    )
    customers = response.json()["customers"]
    assert [c["sso_id"] for c in customers] == ["1234-5678-9012-3456"]
    assert customers[0]["firstName"] == "Customer"


def test_email_is_unique_case_insensitively(api):
    make_customer(email="Ann@Example.com")
    body = assert_error(
        api.post("/v1/customers", {"email": "ann@example.COM"}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert "email" in body["errors"]
    assert Customer.objects.count() == 1


def test_sso_id_unique_when_given_and_blank_is_none(api):
    make_customer(sso_id="s1")
    assert_error(
        api.post("/v1/customers", {"email": "b@example.com", "sso_id": "s1"}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    # two customers without an sso_id (blank or absent) are fine
    assert api.post("/v1/customers", {"email": "c@example.com", "sso_id": ""}).status_code == 201
    assert api.post("/v1/customers", {"email": "d@example.com"}).status_code == 201
    assert Customer.objects.filter(sso_id__isnull=True).count() == 2


def test_update_keeps_uniqueness(api):
    a = make_customer(email="a@example.com")
    b = make_customer(email="b@example.com")
    assert_error(
        api.patch(f"/v1/customers/{b.pk}", {"email": "A@example.com"}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    b.refresh_from_db()
    assert b.email == "b@example.com"
    # a customer may keep (or re-case) its own email
    assert api.patch(f"/v1/customers/{a.pk}", {"email": "A@example.com"}).status_code == 200


def test_retrieve_update_delete(api):
    customer = make_customer()
    assert api.get(f"/v1/customers/{customer.pk}").json()["customer"]["email"] == customer.email
    response = api.put(f"/v1/customers/{customer.pk}", {"firstName": "Renamed", "phone": "42"})
    assert response.json()["customer"]["firstName"] == "Renamed"
    assert api.delete(f"/v1/customers/{customer.pk}").json() == {
        "id": customer.pk,
        "object": "customer",
        "deleted": True,
    }
    assert not Customer.objects.filter(pk=customer.pk).exists()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sso_id=s2", ["b@example.com"]),
        ("email=A@EXAMPLE.com", ["a@example.com"]),
        ("search=bee", ["b@example.com"]),
        ("query=bee", ["b@example.com"]),
    ],
)
def test_filters_and_search(api, query, expected):
    make_customer(email="a@example.com", sso_id="s1", first_name="Ay")
    make_customer(email="b@example.com", sso_id="s2", first_name="Bee")
    emails = [c["email"] for c in api.get(f"/v1/customers?{query}").json()["customers"]]
    assert emails == expected


def test_search_endpoint(api):
    make_customer(email="zed@example.com", last_name="Zed")
    make_customer(email="amy@example.com")
    body = api.get("/v1/customers/search?query=zed").json()
    assert [c["email"] for c in body["customers"]] == ["zed@example.com"]


def test_created_range_filters(api):
    from datetime import timedelta

    from django.utils import timezone

    old = make_customer(email="old@example.com")
    Customer.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    make_customer(email="new@example.com")
    cutoff = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    after = [c["email"] for c in api.get(f"/v1/customers?created_after={cutoff}").json()["customers"]]
    before = [c["email"] for c in api.get(f"/v1/customers?created_before={cutoff}").json()["customers"]]
    assert (after, before) == (["new@example.com"], ["old@example.com"])


def test_admin_creates_and_edits_through_the_service(admin_client):
    response = admin_client.post(
        "/admin/crm/customer/add/",
        {
            "email": "adm@example.com",
            "first_name": "Ad",
            "last_name": "Min",
            "timestamp_0": "2026-01-01",
            "timestamp_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content
    customer = Customer.objects.get(email="adm@example.com")
    # the admin refuses a duplicate email, case-insensitively, like the API
    response = admin_client.post(
        "/admin/crm/customer/add/",
        {"email": "ADM@example.com", "timestamp_0": "2026-01-01", "timestamp_1": "00:00:00"},
    )
    assert response.status_code == 200
    assert Customer.objects.count() == 1
    changelist = admin_client.get("/admin/crm/customer/?q=adm")
    assert customer.email.encode() in changelist.content
