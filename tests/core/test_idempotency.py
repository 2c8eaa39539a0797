import contextlib
import hashlib
import io
import json
import threading
import time
from datetime import timedelta
from functools import partial

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.db.models.query import QuerySet
from django.utils import timezone
from rest_framework.test import APIClient

from crm import services as crm_services
from crm.api import CustomerViewSet
from crm.models import Customer, Lead
from orders.models import Order
from stateset.idempotency import _lock_id
from stateset.models import IdempotencyRecord
from tests.factories import make_customer, make_item, make_key
from tests.helpers import assert_error, race

pytestmark = pytest.mark.django_db


def keyed_client(raw=None):
    if raw is None:
        _, raw = make_key()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def crashed_claim(raw, path, body, *, lease_left, key="k"):
    """The row a worker killed mid-request leaves behind: claimed, in flight, never answered."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return IdempotencyRecord.objects.create(
        scope=hashlib.sha256(raw.encode()).hexdigest(),
        key=key,
        fingerprint=hashlib.sha256(path.encode() + b"\n" + canonical).hexdigest(),
        created_at=timezone.now() - timedelta(seconds=90),
        lease_expires_at=timezone.now() + timedelta(seconds=lease_left),
    )


def other_session():
    """A second PostgreSQL session to the test database, as another gunicorn worker's connection."""
    import psycopg

    params = {k: v for k, v in connection.get_connection_params().items() if k not in ("cursor_factory", "context")}
    return psycopg.connect(**params, autocommit=True)


@contextlib.contextmanager
def live_holder(raw, key="k"):
    """On PostgreSQL the worker holding a claim also holds its advisory lock: keep it held in another
    session, so the claim's holder is alive. (SQLite has the lease alone: nothing to hold.)"""
    if connection.vendor != "postgresql":
        yield
        return
    with other_session() as other:
        other.execute("SELECT pg_advisory_lock(%s)", [_lock_id(hashlib.sha256(raw.encode()).hexdigest(), key)])
        yield


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
    with live_holder(raw, "k1"):
        response = api.post("/v1/customers", {"email": "i@example.com"}, HTTP_IDEMPOTENCY_KEY="k1")
    assert_error(response, 409, "api_error", "idempotency_in_progress")
    assert first.status_code == 201 and Customer.objects.count() == 1


def test_a_claim_left_by_a_crashed_request_is_taken_over_once_its_lease_expires():
    _, raw = make_key()
    api = keyed_client(raw)
    body = {"email": "crash@example.com"}
    crashed_claim(raw, "/v1/customers", body, lease_left=-1)
    response = api.post("/v1/customers", body, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 201
    assert Customer.objects.filter(email="crash@example.com").count() == 1
    record = IdempotencyRecord.objects.get(key="k")
    assert (record.state, record.response_status, bytes(record.response_body)) == (
        IdempotencyRecord.COMPLETE,
        201,
        response.content,
    )
    again = api.post("/v1/customers", body, HTTP_IDEMPOTENCY_KEY="k")
    assert again["Idempotent-Replayed"] == "true" and again.json() == response.json()
    assert Customer.objects.count() == 1


def test_a_claim_with_a_live_lease_is_409_with_retry_after_and_another_body_is_422_even_when_expired():
    _, raw = make_key()
    api = keyed_client(raw)
    body = {"email": "live@example.com"}
    live = crashed_claim(raw, "/v1/customers", body, lease_left=30)
    with live_holder(raw):
        response = api.post("/v1/customers", body, HTTP_IDEMPOTENCY_KEY="k")
    assert_error(response, 409, "api_error", "idempotency_in_progress")
    assert int(response["Retry-After"]) >= 1
    IdempotencyRecord.objects.filter(pk=live.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    other = api.post("/v1/customers", {"email": "other@example.com"}, HTTP_IDEMPOTENCY_KEY="k")
    assert_error(other, 422, "invalid_request_error", "idempotency_key_reused")
    assert not Customer.objects.exists()
    assert IdempotencyRecord.objects.get().state == IdempotencyRecord.IN_FLIGHT


def test_a_crash_between_the_write_and_storing_its_response_leaves_neither(monkeypatch):
    """The stored response is written in the write's transaction: if storing it fails (the connection is lost,
    the worker dies), the write is not committed either, so a retry runs the request once."""
    api = keyed_client()
    api.raise_request_exception = False
    real_update = QuerySet.update

    def lost_connection(self, **kwargs):
        if self.model is IdempotencyRecord and "response_status" in kwargs:
            raise OperationalError("server closed the connection unexpectedly")
        return real_update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", lost_connection)
    body = {"email": "lost@example.com"}
    assert api.post("/v1/customers", body, HTTP_IDEMPOTENCY_KEY="k").status_code == 500
    assert not Customer.objects.exists()
    assert not IdempotencyRecord.objects.filter(state=IdempotencyRecord.COMPLETE).exists()
    monkeypatch.setattr(QuerySet, "update", real_update)
    retry = api.post("/v1/customers", body, HTTP_IDEMPOTENCY_KEY="k")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
    assert Customer.objects.filter(email="lost@example.com").count() == 1


def test_a_500_after_the_write_commits_nothing_and_a_retry_creates_exactly_one(monkeypatch):
    """The order-committed-but-client-saw-500 case: the view fails after its service wrote."""
    api = keyed_client()
    api.raise_request_exception = False

    def create_then_fail(**kwargs):
        crm_services.customer_create(**kwargs)
        raise RuntimeError("the worker fell over after the write")

    monkeypatch.setattr(CustomerViewSet, "create_service", create_then_fail)
    body = {"email": "half@example.com"}
    assert api.post("/v1/customers", body, HTTP_IDEMPOTENCY_KEY="k").status_code == 500
    assert not Customer.objects.exists() and not IdempotencyRecord.objects.exists()
    monkeypatch.undo()
    assert api.post("/v1/customers", body, HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    assert Customer.objects.count() == 1


def test_a_committed_write_always_has_its_stored_response():
    api = keyed_client()
    body = {"email": "kept@example.com"}
    first = api.post("/v1/customers", body, HTTP_IDEMPOTENCY_KEY="k")
    record = IdempotencyRecord.objects.get(key="k")
    assert (record.state, record.response_status, bytes(record.response_body)) == (
        IdempotencyRecord.COMPLETE,
        201,
        first.content,
    )
    again = api.post("/v1/customers", body, HTTP_IDEMPOTENCY_KEY="k")
    assert again["Idempotent-Replayed"] == "true" and again.content == first.content
    assert Customer.objects.count() == 1


def test_a_holder_whose_lease_was_taken_over_commits_nothing_and_answers_409(monkeypatch):
    """A request that outlives its lease must not commit beside the retry that took it over: its store is
    fenced on the lease it holds, and storing nothing means committing nothing."""
    api = keyed_client()

    def create_while_taken_over(**kwargs):
        customer = crm_services.customer_create(**kwargs)
        # a retry took the expired claim over meanwhile (the takeover moves the deadline)
        IdempotencyRecord.objects.update(lease_expires_at=timezone.now() + timedelta(seconds=120))
        return customer

    monkeypatch.setattr(CustomerViewSet, "create_service", create_while_taken_over)
    response = api.post("/v1/customers", {"email": "slow@example.com"}, HTTP_IDEMPOTENCY_KEY="k")
    assert_error(response, 409, "api_error", "idempotency_in_progress")
    assert not Customer.objects.exists()
    assert IdempotencyRecord.objects.get().state == IdempotencyRecord.IN_FLIGHT


def test_a_refused_request_commits_none_of_its_writes_and_its_answer_is_replayed(monkeypatch):
    from crm.errors import CustomerHasDocuments

    api = keyed_client()

    def create_then_refuse(**kwargs):
        crm_services.customer_create(**kwargs)
        raise CustomerHasDocuments("refused after a write")

    monkeypatch.setattr(CustomerViewSet, "create_service", create_then_refuse)
    body = {"email": "refused@example.com"}
    refused = api.post("/v1/customers", body, HTTP_IDEMPOTENCY_KEY="k")
    assert refused.status_code == 422
    assert not Customer.objects.exists()
    again = api.post("/v1/customers", body, HTTP_IDEMPOTENCY_KEY="k")
    assert again["Idempotent-Replayed"] == "true" and again.content == refused.content
    assert not Customer.objects.exists()


def test_a_key_costs_one_insert_and_one_update_beside_the_view():
    """Beside transaction control (the view's atomic blocks become savepoints), a keyed POST runs the unkeyed
    POST's statements plus the claim's INSERT and the UPDATE storing the response; on PostgreSQL also the
    try of the claim's advisory lock first and its unlock last (4 statements beside the view)."""
    from django.test.utils import CaptureQueriesContext

    api = keyed_client()
    api.get("/v1/customers")  # the key and its permissions are cached from now on
    statements = []
    for n, headers in enumerate(({}, {"HTTP_IDEMPOTENCY_KEY": "q"})):
        with CaptureQueriesContext(connection) as ctx:
            assert api.post("/v1/customers", {"email": f"{n}@example.com"}, **headers).status_code == 201
        control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", 'UPDATE "stateset_apikey"')
        statements.append([q["sql"][:45] for q in ctx.captured_queries if not q["sql"].startswith(control)])
    plain, keyed = statements
    if connection.vendor == "postgresql":
        assert keyed[0].startswith("SELECT pg_try_advisory_lock(")
        assert keyed[-1].startswith("SELECT pg_advisory_unlock(")
        keyed = keyed[1:-1]
    assert len(keyed) == len(plain) + 2
    assert keyed[0].startswith('INSERT INTO "stateset_idempotencyrecord"')
    assert keyed[-1].startswith('UPDATE "stateset_idempotencyrecord"')
    assert keyed[1:-1] == plain


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


def test_purge_clears_expired_leases_and_keeps_live_ones():
    expired = IdempotencyRecord.objects.create(
        scope="s", key="expired", fingerprint="f", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    live = IdempotencyRecord.objects.create(scope="s", key="live", fingerprint="f")
    IdempotencyRecord.objects.filter(pk=live.pk).update(created_at=timezone.now() - timedelta(hours=2))
    call_command("purge_idempotency_keys", stdout=io.StringIO())
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["live"]
    assert not IdempotencyRecord.objects.filter(pk=expired.pk).exists()


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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_a_crashed_request_run_it_once():
    """Six retries race for a claim whose holder died: one takes the expired lease over and creates the lead
    (leads have no unique field, only the claim keeps a second one out); the others get 409 or its replay."""
    _, raw = make_key()
    body = {"firstName": "Crash"}
    crashed_claim(raw, "/v1/leads", body, lease_left=-1, key="race")
    results = race([lambda: keyed_client(raw).post("/v1/leads", body, HTTP_IDEMPOTENCY_KEY="race")] * 6)
    assert Lead.objects.filter(first_name="Crash").count() == 1
    ran = [r for r in results if r.status_code == 201 and r.get("Idempotent-Replayed") != "true"]
    assert len(ran) == 1
    for r in results:
        assert r.status_code in (201, 409)
        if r.status_code == 409:
            assert r.json()["code"] == "idempotency_in_progress"
        else:
            assert r.content == ran[0].content
    record = IdempotencyRecord.objects.get(key="race")
    assert (record.state, record.response_status, bytes(record.response_body)) == (
        IdempotencyRecord.COMPLETE,
        201,
        ran[0].content,
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_holder_that_outlives_its_lease_commits_nothing_beside_the_retry_that_took_over(monkeypatch):
    """The holder has written its lead and is still running when its lease runs out; a retry takes the claim
    over and commits its own lead and response. The holder's store is fenced on its lease: it rolls back and
    answers 409, so there is one lead, and the stored response is the retry's."""
    from crm import services as crm_services
    from crm.api import LeadViewSet

    key, raw = make_key()
    # Used just now, so neither request writes last_used_at: that write would hold the key's row lock in the
    # holder's transaction, and the retry would wait for a holder that here waits for the retry.
    type(key).objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    body = {"firstName": "Slow"}
    written, taken_over = threading.Event(), threading.Event()
    calls = []

    def slow_first_time(**kwargs):
        lead = crm_services.lead_create(**kwargs)
        calls.append(lead.pk)
        if len(calls) == 1:
            written.set()
            assert taken_over.wait(30)
        return lead

    monkeypatch.setattr(LeadViewSet, "create_service", slow_first_time)
    holder = {}

    def hold():
        try:
            holder["response"] = keyed_client(raw).post("/v1/leads", body, HTTP_IDEMPOTENCY_KEY="slow")
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert written.wait(30)
        IdempotencyRecord.objects.filter(key="slow").update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        retry = keyed_client(raw).post("/v1/leads", body, HTTP_IDEMPOTENCY_KEY="slow")
    finally:
        taken_over.set()
        thread.join()
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
    assert_error(holder["response"], 409, "api_error", "idempotency_in_progress")
    assert list(Lead.objects.filter(first_name="Slow").values_list("pk", flat=True)) == [calls[1]]
    record = IdempotencyRecord.objects.get(key="slow")
    assert (record.state, bytes(record.response_body)) == (IdempotencyRecord.COMPLETE, retry.content)


def kill_and_wait(session):
    """Close the session as a SIGKILLed worker's connection goes, and wait until its backend has exited
    (PostgreSQL releases the session's advisory locks when it does)."""
    pid = session.info.backend_pid
    session.close()
    with other_session() as watcher:
        for _ in range(100):
            if not watcher.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                return
            time.sleep(0.05)
    raise AssertionError("the closed session's backend did not exit")


def claim_in(session, raw, path, body, key):
    """What a worker does before running the view: takes the claim's lock, inserts the claim (lease 60 s)."""
    scope = hashlib.sha256(raw.encode()).hexdigest()
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    session.execute("SELECT pg_advisory_lock(%s)", [_lock_id(scope, key)])
    session.execute(
        f"INSERT INTO {IdempotencyRecord._meta.db_table} "
        " (scope, key, fingerprint, state, response_headers, created_at, lease_expires_at)"
        " VALUES (%s, %s, %s, %s, '{}', now(), now() + interval '60 seconds')",
        [scope, key, hashlib.sha256(path.encode() + b"\n" + canonical).hexdigest(), IdempotencyRecord.IN_FLIGHT],
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_whose_worker_died_is_taken_over_at_once_and_the_retry_creates_one_order():
    """The worker claimed the key and was killed (its connection closed, its lock released with it); its lease
    has 60 s left. The retry takes the claim over at once, creates the order and stores its answer; a second
    retry replays it: one order."""
    _, raw = make_key()
    make_item("IDEM-A", on_hand=10)
    body = {
        "customer": make_customer().pk,
        "order_line_items": [{"sku": "IDEM-A", "quantity": 2, "unit_price": "5.00"}],
    }
    dead = other_session()
    claim_in(dead, raw, "/v1/orders", body, "dead")
    kill_and_wait(dead)
    api = keyed_client(raw)
    retry = api.post("/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="dead")
    assert retry.status_code == 201, retry.content
    again = api.post("/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="dead")
    assert again["Idempotent-Replayed"] == "true" and again.content == retry.content
    assert Order.objects.count() == 1
    record = IdempotencyRecord.objects.get(key="dead")
    assert (record.state, bytes(record.response_body)) == (IdempotencyRecord.COMPLETE, retry.content)
    with connection.cursor() as cursor:  # the retry's lock was released with its answer
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        assert cursor.fetchone()[0] == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_whose_worker_is_alive_is_409_and_changes_nothing():
    """The worker holding the claim is still running (its session open, its lock held): a retry gets 409 and
    takes nothing over; once it is killed, the next retry runs the request."""
    _, raw = make_key()
    make_item("IDEM-B", on_hand=10)
    body = {
        "customer": make_customer().pk,
        "order_line_items": [{"sku": "IDEM-B", "quantity": 1, "unit_price": "5.00"}],
    }
    alive = other_session()
    claim_in(alive, raw, "/v1/orders", body, "alive")
    lease = IdempotencyRecord.objects.get(key="alive").lease_expires_at
    api = keyed_client(raw)
    try:
        response = api.post("/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="alive")
        assert_error(response, 409, "api_error", "idempotency_in_progress")
        assert not Order.objects.exists()
        record = IdempotencyRecord.objects.get(key="alive")
        assert (record.state, record.lease_expires_at) == (IdempotencyRecord.IN_FLIGHT, lease)
    finally:
        kill_and_wait(alive)
    assert api.post("/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="alive").status_code == 201
    assert Order.objects.count() == 1
