import io
from datetime import timedelta
from functools import partial

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import Customer, Lead
from stateset.models import IdempotencyRecord
from tests.factories import make_key
from tests.helpers import assert_error, race

pytestmark = pytest.mark.django_db


def keyed_client(raw=None):
    if raw is None:
        _, raw = make_key()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def test_same_key_same_body_replays_the_first_response():
    api = keyed_client()
    first = api.post("/v1/customers", {"email": "i@example.com"}, HTTP_IDEMPOTENCY_KEY="k1")
    second = api.post("/v1/customers", {"email": "i@example.com"}, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert second["Location"] == first["Location"]
    assert "Idempotent-Replayed" not in first
    assert Customer.objects.count() == 1


def test_same_key_other_body_is_422_and_changes_nothing():
    api = keyed_client()
    api.post("/v1/customers", {"email": "i@example.com"}, HTTP_IDEMPOTENCY_KEY="k1")
    response = api.post("/v1/customers", {"email": "j@example.com"}, HTTP_IDEMPOTENCY_KEY="k1")
    assert_error(response, 422, "invalid_request_error", "idempotency_key_reused")
    assert list(Customer.objects.values_list("email", flat=True)) == ["i@example.com"]


def test_key_order_in_the_body_does_not_matter():
    api = keyed_client()
    api.post("/v1/customers", {"email": "i@example.com", "phone": "1"}, HTTP_IDEMPOTENCY_KEY="k")
    again = api.post("/v1/customers", {"phone": "1", "email": "i@example.com"}, HTTP_IDEMPOTENCY_KEY="k")
    assert again["Idempotent-Replayed"] == "true"


def test_key_still_in_flight_is_409():
    _, raw = make_key()
    api = keyed_client(raw)
    first = api.post("/v1/customers", {"email": "i@example.com"}, HTTP_IDEMPOTENCY_KEY="k1")
    IdempotencyRecord.objects.update(state=IdempotencyRecord.IN_FLIGHT)
    response = api.post("/v1/customers", {"email": "i@example.com"}, HTTP_IDEMPOTENCY_KEY="k1")
    assert_error(response, 409, "api_error", "idempotency_in_progress")
    assert first.status_code == 201 and Customer.objects.count() == 1


def test_keys_are_scoped_per_api_key():
    a, b = keyed_client(), keyed_client()
    assert a.post("/v1/customers", {"email": "a@example.com"}, HTTP_IDEMPOTENCY_KEY="same").status_code == 201
    assert b.post("/v1/customers", {"email": "b@example.com"}, HTTP_IDEMPOTENCY_KEY="same").status_code == 201
    assert Customer.objects.count() == 2


def test_a_refused_request_is_replayed_too_but_a_retryable_one_is_not():
    api = keyed_client()
    bad = api.post("/v1/customers", {"email": "nope"}, HTTP_IDEMPOTENCY_KEY="k")
    assert bad.status_code == 400
    assert api.post("/v1/customers", {"email": "nope"}, HTTP_IDEMPOTENCY_KEY="k")["Idempotent-Replayed"] == "true"
    unauth = APIClient().post("/v1/customers", {"email": "x@example.com"}, HTTP_IDEMPOTENCY_KEY="z")
    assert unauth.status_code == 401
    assert not IdempotencyRecord.objects.filter(key="z").exists()


def test_overlong_key_is_400():
    api = keyed_client()
    response = api.post("/v1/customers", {"email": "i@example.com"}, HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert_error(response, 400, "invalid_request_error", "validation_error")
    assert Customer.objects.count() == 0


def test_purge_hours_zero_means_every_finished_record_and_keeps_live_claims():
    from django.core.management.base import CommandError

    api = keyed_client()
    api.post("/v1/customers", {"email": "done@example.com"}, HTTP_IDEMPOTENCY_KEY="done")
    live = IdempotencyRecord.objects.create(scope="s", key="live", fingerprint="f")  # a request in flight
    stuck = IdempotencyRecord.objects.create(scope="s", key="stuck", fingerprint="f")
    IdempotencyRecord.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=25))
    call_command("purge_idempotency_keys", "--hours", "0", stdout=io.StringIO())
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == [live.key]
    with pytest.raises(CommandError, match="0 or more"):
        call_command("purge_idempotency_keys", "--hours", "-1")
    assert IdempotencyRecord.objects.filter(pk=live.pk).exists()


def test_expired_records_are_purged_and_replaced():
    api = keyed_client()
    api.post("/v1/customers", {"email": "i@example.com"}, HTTP_IDEMPOTENCY_KEY="k")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    # an expired key is free again: a new body is accepted, not a 422
    response = api.post("/v1/customers", {"email": "j@example.com"}, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 201
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    call_command("purge_idempotency_keys")
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "body", "created"),
    [
        ("/v1/customers", {"email": "race@example.com"}, lambda: Customer.objects.filter(email="race@example.com")),
        # Leads have no unique field: only the key's claim can keep the second request from creating one.
        ("/v1/leads", {"firstName": "Race"}, lambda: Lead.objects.filter(first_name="Race")),
    ],
    ids=["customer", "lead"],
)
def test_two_concurrent_requests_with_one_key_run_the_view_once(path, body, created):
    """Four requests race to claim the key; the unique (scope, key) row lets exactly one run the view."""
    _, raw = make_key()
    clients = [keyed_client(raw) for _ in range(4)]
    results = race([partial(client.post, path, body, HTTP_IDEMPOTENCY_KEY="race") for client in clients])
    assert created().count() == 1
    assert sorted(r.status_code for r in results)[0] == 201 and {r.status_code for r in results} <= {201, 409}
    for r in results:
        if r.status_code == 409:  # the claim was in flight (clients retry it), never a constraint's conflict
            assert r.json()["code"] == "idempotency_in_progress"
        elif r.get("Idempotent-Replayed") != "true":
            first = r
    # exactly one response ran the view; the other 201s are replays of it
    assert [r for r in results if r.status_code == 201 and r.get("Idempotent-Replayed") != "true"] == [first]
    record = IdempotencyRecord.objects.get(key="race")
    assert (record.state, record.response_status) == (IdempotencyRecord.COMPLETE, 201)
