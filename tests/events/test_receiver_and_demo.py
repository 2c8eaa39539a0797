"""`manage.py listen_webhooks` verifies what it gets; the demo endpoint subscribes after the bulk of the data."""

from __future__ import annotations

import io
import threading
import time

import httpx
import pytest
from django.core.management import call_command

from backoffice.management.commands.seed_demo import demo_webhook
from stateset import webhooks
from stateset.models import WebhookDelivery, WebhookEndpoint
from tests.factories import SYSTEM, make_customer

PORT = 8712


def test_listen_webhooks_accepts_a_signed_event_and_refuses_a_bad_signature():
    out = io.StringIO()
    thread = threading.Thread(
        target=call_command,
        args=("listen_webhooks",),
        kwargs={"port": PORT, "secret": "whsec_t", "stdout": out},
        daemon=True,
    )
    thread.start()
    time.sleep(0.5)
    body = b'{"id":7,"type":"order.shipped","object_type":"order","object_id":42,"sequence":3}'
    signed = webhooks.signature_header(body, ["whsec_t"], int(time.time()))
    url = f"http://127.0.0.1:{PORT}/"
    assert httpx.post(url, content=body, headers={"StateSet-Signature": signed}).status_code == 200
    assert httpx.post(url, content=body + b" ", headers={"StateSet-Signature": signed}).status_code == 400
    assert "event 7 order.shipped order 42 #3" in out.getvalue() and "REFUSED" in out.getvalue()


@pytest.mark.django_db
def test_the_demo_endpoint_subscribes_after_the_data_and_queues_a_handful(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    monkeypatch.setattr("stateset.pagination.CURSOR_SETTLE_SECONDS", 0.0)
    monkeypatch.setattr(webhooks, "_after_commit", lambda fn: None)
    for k in range(5):
        make_customer(email=f"seeded{k}@example.com")  # the bulk, before the endpoint
    time.sleep(0.01)
    assert "1 endpoint" in demo_webhook(by=SYSTEM)
    assert "already" in demo_webhook(by=SYSTEM)
    webhooks.dispatch()
    endpoint = WebhookEndpoint.objects.get()
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 3
