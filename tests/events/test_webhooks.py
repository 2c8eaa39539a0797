"""Webhook endpoints and deliveries: URL rules, the secret, signatures, retries on a controlled clock, order per
object, at-least-once, and the API and admin views of what was sent (issue #17)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from crm import services as crm
from stateset import webhooks
from stateset.models import Event, WebhookDelivery, WebhookEndpoint
from tests.factories import SYSTEM, api_client, make_lead, make_user

pytestmark = pytest.mark.django_db

PORT = 8711


class Receiver:
    """A local HTTP receiver: records each POST (headers, body) and answers `status`."""

    def __init__(self, port: int = PORT):
        self.received: list[tuple[dict, bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok" if receiver.status < 300 else b"nope")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{port}/hook"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Clock:
    def __init__(self):
        self.now = timezone.now()

    def __call__(self):
        return self.now

    def advance(self, seconds: float):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def setup(settings, monkeypatch):
    """Private URLs allowed (a local receiver), events settled at once, enqueued tasks recorded, a clock."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    monkeypatch.setattr("stateset.pagination.CURSOR_SETTLE_SECONDS", 0.0)
    enqueued: list[int] = []
    monkeypatch.setattr(webhooks, "_enqueue", lambda pk, countdown=0: enqueued.append(pk))
    monkeypatch.setattr(webhooks, "_after_commit", lambda fn: fn())  # the test's transaction never commits
    clock = Clock()
    monkeypatch.setattr(webhooks, "now", clock)
    return clock, enqueued


def endpoint_for(url: str, events=("lead.*",)) -> WebhookEndpoint:
    endpoint, _ = webhooks.webhook_endpoint_create(url=url, enabled_events=list(events), by=SYSTEM)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(created_at=timezone.now() - timedelta(days=10))
    return WebhookEndpoint.objects.get(pk=endpoint.pk)


def deliveries(endpoint) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("event__created_at", "event_id"))


# ---- URLs ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "http://192.168.0.5/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "ftp://93.184.216.34/hook",
        "javascript:alert(1)",
    ],
)
def test_a_private_or_non_http_url_is_refused(api, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = api.post("/v1/webhook_endpoints", {"url": url}, format="json")
    assert response.status_code == 400, response.content
    assert WebhookEndpoint.objects.count() == 0


def test_a_public_address_is_accepted_and_a_private_one_with_the_setting(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    assert api.post("/v1/webhook_endpoints", {"url": "https://93.184.216.34/hook"}, format="json").status_code == 201
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert api.post("/v1/webhook_endpoints", {"url": "http://127.0.0.1:9/hook"}, format="json").status_code == 201


def test_the_address_is_checked_again_at_delivery(setup, settings):
    endpoint = endpoint_for("http://127.0.0.1:9/hook")
    make_lead()
    webhooks.dispatch()
    settings.WEBHOOK_ALLOW_PRIVATE = False
    (delivery,) = deliveries(endpoint)
    assert webhooks.attempt(delivery.pk) == "retry"
    attempt = delivery.attempt_log.get()
    assert attempt.status_code is None and "private" in attempt.error


# ---- the API ---------------------------------------------------------------------------------------------------


def test_crud_shows_the_secret_once_and_rotation_keeps_the_old_one_for_the_grace(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    created = api.post(
        "/v1/webhook_endpoints", {"url": "http://127.0.0.1:9/h", "enabled_events": ["order.*"]}, format="json"
    )
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    endpoint = created.json()["webhook_endpoint"]
    assert secret.startswith("whsec_") and endpoint["enabled_events"] == ["order.*"]
    shown = api.get(f"/v1/webhook_endpoints/{endpoint['id']}").content.decode()
    assert secret not in shown and 'secret"' not in shown
    assert secret not in json.dumps(list(Event.objects.values_list("data", flat=True)))
    rotated = api.post(f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret", {}, format="json").json()
    new = rotated["secret"]
    row = WebhookEndpoint.objects.get()
    assert webhooks.signing_secrets(row) == [new, secret]
    header = webhooks.signature_header(b"{}", webhooks.signing_secrets(row), int(time.time()))
    assert webhooks.verify_signature(header, b"{}", secret) and webhooks.verify_signature(header, b"{}", new)
    patched = api.patch(f"/v1/webhook_endpoints/{endpoint['id']}", {"enabled": False}, format="json")
    assert patched.json()["webhook_endpoint"]["enabled"] is False
    assert api.delete(f"/v1/webhook_endpoints/{endpoint['id']}").status_code == 200
    assert WebhookEndpoint.objects.count() == 0


def test_endpoints_need_their_own_permission(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    clerk = api_client(make_user("orders.view_order", "orders.change_order"))
    assert clerk.get("/v1/webhook_endpoints").status_code == 403
    assert clerk.post("/v1/webhook_endpoints", {"url": "http://127.0.0.1:9/"}, format="json").status_code == 403
    owner = api_client(make_user("stateset.view_webhookendpoint", "stateset.add_webhookendpoint"))
    assert owner.post("/v1/webhook_endpoints", {"url": "http://127.0.0.1:9/"}, format="json").status_code == 201


# ---- signatures ------------------------------------------------------------------------------------------------


def test_a_signature_verifies_and_a_tampered_body_or_a_stale_timestamp_does_not():
    body = b'{"id":1,"type":"order.created"}'
    fresh = webhooks.signature_header(body, ["whsec_a"], int(time.time()))
    assert webhooks.verify_signature(fresh, body, "whsec_a")
    assert not webhooks.verify_signature(fresh, body.replace(b"1", b"2"), "whsec_a")
    assert not webhooks.verify_signature(fresh, body, "whsec_b")
    stale = webhooks.signature_header(body, ["whsec_a"], int(time.time()) - webhooks.TOLERANCE_SECONDS - 1)
    assert not webhooks.verify_signature(stale, body, "whsec_a")
    assert not webhooks.verify_signature("v1=deadbeef", body, "whsec_a")


# ---- delivery --------------------------------------------------------------------------------------------------


def test_each_subscribed_event_is_posted_once_signed(setup):
    clock, enqueued = setup
    with Receiver() as receiver:
        endpoint = endpoint_for(receiver.url, events=["lead.*"])
        _, secret = webhooks.webhook_endpoint_rotate_secret(webhook_endpoint=endpoint, by=SYSTEM, grace_hours=0)
        lead = make_lead("engaged")
        crm.customer_create(by=SYSTEM, email="not-subscribed@example.com")
        due = webhooks.dispatch()
        assert webhooks.dispatch() == []  # nothing twice
        assert [d.event.type for d in deliveries(endpoint)] == ["lead.created", "lead.engaged"]
        for pk in due:
            webhooks.attempt(pk)
        for pk in list(enqueued):  # the next of the same lead, queued when the first succeeded
            webhooks.attempt(pk)
        assert [d.status for d in deliveries(endpoint)] == ["succeeded", "succeeded"]
        bodies = [json.loads(body) for _, body in receiver.received]
        assert [(b["type"], b["object_id"]) for b in bodies] == [("lead.created", lead.pk), ("lead.engaged", lead.pk)]
        for headers, body in receiver.received:
            assert webhooks.verify_signature(headers["StateSet-Signature"], body, secret)
        attempt = deliveries(endpoint)[0].attempt_log.get()
        assert (attempt.status_code, attempt.response_body) == (200, "ok")


def test_retries_follow_the_schedule_then_fail_and_disable_the_endpoint(setup, settings):
    clock, _ = setup
    settings.WEBHOOK_RETRY_HOURS = 1
    with Receiver() as receiver:
        receiver.status = 500
        endpoint = endpoint_for(receiver.url)
        make_lead()
        (pk,) = webhooks.dispatch()
        delivery = WebhookDelivery.objects.get(pk=pk)
        waits = []
        while True:
            outcome = webhooks.attempt(pk)
            delivery.refresh_from_db()
            if outcome != "retry":
                break
            wait = (delivery.next_attempt_at - clock.now).total_seconds()
            waits.append(wait)
            assert webhooks.attempt(pk) == "not due"
            clock.advance(wait)
        for n, wait in enumerate(waits, start=1):
            expected = min(30 * 2 ** (n - 1), 6 * 3600)
            assert expected * 0.8 <= wait <= expected * 1.2, (n, wait)
        assert outcome == "failed" and delivery.status == "failed"
        assert sum(waits) >= 3600 - 0.2 * 3600 and len(waits) == len(receiver.received) - 1
        assert delivery.attempt_log.count() == len(receiver.received) == delivery.attempts
    endpoint.refresh_from_db()
    assert endpoint.enabled is False and "failed" in endpoint.disabled_reason
    assert Event.objects.filter(type="webhook_endpoint.disabled", object_id=endpoint.pk).count() == 1


def test_a_later_event_of_an_object_waits_while_an_earlier_one_is_retried(setup):
    clock, enqueued = setup
    with Receiver() as receiver:
        endpoint = endpoint_for(receiver.url, events=["lead.*"])
        lead = make_lead()
        webhooks.dispatch()
        other = make_lead()  # another object is not held up
        crm.lead_engage(lead=lead, by=SYSTEM)
        webhooks.dispatch()
        first, other_created, second = deliveries(endpoint)
        receiver.status = 503
        assert webhooks.attempt(first.pk) == "retry"
        assert webhooks.attempt(second.pk) == "waiting for an earlier event"
        assert webhooks.attempt(other_created.pk) == "retry"  # its own line, not behind the first lead
        receiver.status = 200
        clock.advance(3600)
        assert webhooks.attempt(first.pk) == "succeeded"
        assert enqueued[-1] == second.pk  # the next one queued as the first succeeded
        assert webhooks.attempt(second.pk) == "succeeded"
        order = [(json.loads(b)["type"], json.loads(b)["object_id"]) for _, b in receiver.received]
        assert [t for t, oid in order if oid == lead.pk] == ["lead.created", "lead.created", "lead.engaged"]
        assert other.pk


def test_a_worker_killed_mid_delivery_loses_nothing(setup, monkeypatch):
    clock, enqueued = setup
    with Receiver() as receiver:
        endpoint = endpoint_for(receiver.url)
        make_lead()
        (pk,) = webhooks.dispatch()

        def killed(*args):
            raise SystemExit("worker killed during the POST")

        monkeypatch.setattr(webhooks, "post", killed)
        with pytest.raises(SystemExit):
            webhooks.attempt(pk)
        monkeypatch.undo()
        monkeypatch.setattr(webhooks, "now", clock)
        monkeypatch.setattr(webhooks, "_enqueue", lambda pk, countdown=0: enqueued.append(pk))
        monkeypatch.setattr(webhooks, "_after_commit", lambda fn: fn())
        delivery = WebhookDelivery.objects.get(pk=pk)
        assert delivery.status == "pending" and delivery.attempts == 0
        assert webhooks.sweep() == []  # leased: not sent twice at once
        clock.advance(60)
        assert webhooks.sweep() == [pk]
        assert webhooks.attempt(pk) == "succeeded"
        assert len(receiver.received) == 1 and deliveries(endpoint)[0].status == "succeeded"


def test_deliveries_are_listed_with_their_attempts_and_can_be_sent_again(setup, api):
    clock, enqueued = setup
    with Receiver() as receiver:
        endpoint = endpoint_for(receiver.url)
        make_lead()
        (pk,) = webhooks.dispatch()
        webhooks.attempt(pk)
        listed = api.get(f"/v1/webhook_endpoints/{endpoint.pk}/deliveries").json()["webhook_deliveries"]
        assert [(d["event_type"], d["status"], len(d["attempt_log"])) for d in listed] == [
            ("lead.created", "succeeded", 1)
        ]
        again = api.post(f"/v1/webhook_endpoints/{endpoint.pk}/deliveries/{pk}/redeliver")
        assert again.json()["webhook_delivery"]["status"] == "pending"
        assert webhooks.attempt(pk) == "succeeded"
        assert len(receiver.received) == 2
        assert receiver.received[0][1] == receiver.received[1][1]  # the same event, the same id
        assert api.post(f"/v1/webhook_endpoints/{endpoint.pk}/deliveries/999/redeliver").status_code == 404


def test_the_admin_shows_deliveries_and_attempts_and_redelivers(setup, admin_client):
    clock, enqueued = setup
    with Receiver() as receiver:
        receiver.status = 500
        endpoint = endpoint_for(receiver.url)
        make_lead()
        (pk,) = webhooks.dispatch()
        webhooks.attempt(pk)
        page = admin_client.get(f"/admin/stateset/webhookdelivery/{pk}/change/").content.decode()
        assert "nope" in page and "500" in page
        response = admin_client.post(
            "/admin/stateset/webhookdelivery/", {"action": "redeliver", "_selected_action": [pk]}, follow=True
        )
        assert "Queued: 1 done." in response.content.decode()
        assert WebhookDelivery.objects.get(pk=pk).next_attempt_at <= clock.now
        assert admin_client.get(f"/admin/stateset/webhookendpoint/{endpoint.pk}/change/").status_code == 200
