"""Webhook endpoints and the delivery of events to them (issue #17).

- **Outbox.** The events table is the outbox: `dispatch()` follows it in feed order behind the settle horizon
  (stateset.pagination.settle_horizon, as `/v1/events`), so it never skips an event that commits late, and
  makes one WebhookDelivery per (subscribed endpoint, event). Each event's write kicks it after the commit
  (when an endpoint is enabled); the periodic `sweep()` runs it too.
- **Delivery.** `attempt(delivery_id)` POSTs the event's JSON, signed (`StateSet-Signature: t=<unix>,v1=<hex>`,
  HMAC-SHA256 of `<t>.<body>`; during a secret's grace period a second `v1` with the previous one). A 2xx is
  success; anything else, a timeout or a refused connection is retried after 30 s, 1 min, 2 min ... (doubling,
  at most 6 h, ±20% jitter) until WEBHOOK_RETRY_HOURS have passed since the event: then the delivery is
  failed, and an endpoint with no success in that whole window is disabled (event
  `webhook_endpoint.disabled`). Every attempt is logged (status, duration, first KB of the answer).
- **Order.** Only the oldest pending delivery of one object to one endpoint is attempted; the next goes when
  it has succeeded or failed for good. A later event for an order never arrives before an earlier one.
- **At least once.** An attempt takes a lease (next_attempt_at moved past the timeout) before it POSTs; a
  worker killed mid-POST leaves the delivery pending, and `sweep()` sends it again once the lease ends.
  Receivers deduplicate on the event's `id`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import random
import secrets as secrets_module
import socket
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from stateset import events
from stateset.actors import Actor
from stateset.errors import ValidationFailed
from stateset.fsm import lock
from stateset.models import Event, WebhookAttempt, WebhookDelivery, WebhookDispatch, WebhookEndpoint

SIGNATURE_HEADER = "StateSet-Signature"
TOLERANCE_SECONDS = 300
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 6 * 3600
JITTER = 0.2
ANY_ENABLED = "webhooks:any-enabled"


def now() -> datetime:
    """The clock of this module (tests move it)."""
    return timezone.now()


# ---- signatures ------------------------------------------------------------------------------------------


def sign(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secrets: list[str], timestamp: int) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={sign(body, s, timestamp)}" for s in secrets)])


def verify_signature(header: str, body: bytes, secret: str, *, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether `header` signs `body` with `secret`, at a timestamp within `tolerance` seconds of now."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit() or abs(time.time() - int(stamps[0])) > tolerance:
        return False
    expected = sign(body, secret, int(stamps[0]))
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in parts)


# ---- URLs ------------------------------------------------------------------------------------------------


def check_url(url: str) -> None:
    """http(s) only; a host that resolves to a loopback, private, link-local or otherwise reserved address is
    refused unless WEBHOOK_ALLOW_PRIVATE (checked at creation and again before every delivery)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed("A webhook URL must be http:// or https:// with a host.", errors={"url": "http(s)"})
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        raise ValidationFailed(f"The host {parts.hostname} does not resolve.", errors={"url": "does not resolve"})
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise ValidationFailed(
                f"{parts.hostname} resolves to {address}, a private, loopback or link-local address; webhooks go "
                "to public addresses only (WEBHOOK_ALLOW_PRIVATE allows others, for local development).",
                errors={"url": "private address"},
            )


def _check_events(patterns: Any) -> list[str]:
    if patterns is None:
        return ["*"]
    if not isinstance(patterns, list) or not all(isinstance(p, str) and p.strip() for p in patterns):
        raise ValidationFailed("enabled_events is a list of event types.", errors={"enabled_events": "list"})
    return [p.strip() for p in patterns] or ["*"]


# ---- endpoints ---------------------------------------------------------------------------------------------


def new_secret() -> str:
    return f"whsec_{secrets_module.token_urlsafe(32)}"


def _note_enabled() -> None:
    transaction.on_commit(lambda: cache.delete(ANY_ENABLED))


def webhook_endpoint_create(
    *, url: str, by: Actor, enabled_events: list[str] | None = None, enabled: bool = True, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """An endpoint, and its signing secret: returned here only, never shown again (rotate to get a new one).
    It receives the events written from now on."""
    check_url(url)
    secret = new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url,
            enabled_events=_check_events(enabled_events),
            enabled=enabled,
            description=description,
            secret=secret,
        )
        events.emit(endpoint, "create", by=by)
        _note_enabled()
    return endpoint, secret


WEBHOOK_FIELDS = {"url", "enabled_events", "enabled", "description"}


def webhook_endpoint_update(*, webhook_endpoint: WebhookEndpoint, by: Actor, **fields: Any) -> WebhookEndpoint:
    unknown = set(fields) - WEBHOOK_FIELDS
    if unknown:
        raise TypeError(f"webhook endpoint fields not known: {sorted(unknown)}")
    if "url" in fields:
        check_url(fields["url"])
    if "enabled_events" in fields:
        fields["enabled_events"] = _check_events(fields["enabled_events"])
    with transaction.atomic():
        endpoint = lock(WebhookEndpoint, webhook_endpoint.pk)
        for name, value in fields.items():
            setattr(endpoint, name, value)
        if fields.get("enabled"):
            endpoint.disabled_reason = ""
        endpoint.save()
        events.emit(endpoint, "update", by=by)
        _note_enabled()
    return endpoint


def webhook_endpoint_delete(*, webhook_endpoint: WebhookEndpoint, by: Actor) -> None:
    with transaction.atomic():
        endpoint = lock(WebhookEndpoint, webhook_endpoint.pk)
        events.emit(endpoint, "delete", by=by, snapshot=True)
        endpoint.delete()
        _note_enabled()


def webhook_endpoint_rotate_secret(
    *, webhook_endpoint: WebhookEndpoint, by: Actor, grace_hours: float | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (returned once). The old one keeps signing beside it, as a second `v1`, for
    `grace_hours` (WEBHOOK_SECRET_GRACE_HOURS; 0 ends it at once)."""
    grace = settings.WEBHOOK_SECRET_GRACE_HOURS if grace_hours is None else grace_hours
    with transaction.atomic():
        endpoint = lock(WebhookEndpoint, webhook_endpoint.pk)
        secret = new_secret()
        endpoint.previous_secret, endpoint.secret = endpoint.secret, secret
        endpoint.previous_secret_expires_at = now() + timedelta(hours=grace)
        endpoint.save()
        events.emit(endpoint, "rotate_secret", by=by)
    return endpoint, secret


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    keep = (
        endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now()
    )
    return [endpoint.secret, *([endpoint.previous_secret] if keep else [])]


def webhook_redeliver(*, delivery: WebhookDelivery, by: Actor) -> WebhookDelivery:
    """Send a delivery again (whatever its status): pending, due now; its attempts so far stay logged."""
    with transaction.atomic():
        row = lock(WebhookDelivery, delivery.pk)
        row.status, row.next_attempt_at = WebhookDelivery.PENDING, now()
        row.save(update_fields=["status", "next_attempt_at", "updated_at"])
        _after_commit(lambda: _enqueue(row.pk))
    return row


# ---- the outbox --------------------------------------------------------------------------------------------


def _kick_dispatch() -> None:
    """After an event's commit: dispatch soon, if any endpoint is enabled (remembered in the cache)."""
    enabled = cache.get(ANY_ENABLED)
    if enabled is False:
        return
    from stateset.limits import CURSOR_SETTLE_SECONDS
    from stateset.tasks import dispatch_webhooks

    transaction.on_commit(lambda: dispatch_webhooks.apply_async(countdown=CURSOR_SETTLE_SECONDS + 0.2))


def dispatch(*, limit: int = 1000) -> list[int]:
    """Make the deliveries of the events settled since the last dispatch; returns the deliveries to send now."""
    from stateset.pagination import settle_horizon

    with transaction.atomic():
        endpoints = list(WebhookEndpoint.objects.filter(enabled=True))
        cache.set(ANY_ENABLED, bool(endpoints), None)
        cursor, _ = WebhookDispatch.objects.get_or_create(pk=1)
        cursor = WebhookDispatch.objects.select_for_update().get(pk=1)
        horizon = settle_horizon()
        feed = Event.objects.filter(created_at__lt=horizon).order_by("created_at", "pk")
        if cursor.last_created_at is not None:
            feed = feed.filter(
                Q(created_at__gt=cursor.last_created_at)
                | Q(created_at=cursor.last_created_at, pk__gt=cursor.last_event_id)
            )
        batch = list(feed.only("pk", "type", "object_type", "object_id", "created_at")[:limit])
        if not batch:
            return []
        rows = [
            WebhookDelivery(
                endpoint=endpoint,
                event=event,
                object_key=f"{event.object_type}:{event.object_id}",
                next_attempt_at=now(),
                created_at=event.created_at,
            )
            for event in batch
            for endpoint in endpoints
            if endpoint.created_at <= event.created_at and endpoint.wants(event.type)
        ]
        WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
        cursor.last_created_at, cursor.last_event_id = batch[-1].created_at, batch[-1].pk
        cursor.save()
        due = _heads(WebhookDelivery.objects.filter(event__in=[e.pk for e in batch]))
        _after_commit(lambda: [_enqueue(pk) for pk in due])
    return due


def _heads(queryset, limit: int | None = None) -> list[int]:
    """Of these pending deliveries (the first `limit`), those first in line for their endpoint and object."""
    heads = []
    rows = queryset.filter(status=WebhookDelivery.PENDING).select_related("event")
    for d in rows[:limit] if limit else rows:
        if not _earlier_pending(d).exists():
            heads.append(d.pk)
    return heads


def _earlier_pending(d: WebhookDelivery):
    return WebhookDelivery.objects.filter(
        endpoint_id=d.endpoint_id, object_key=d.object_key, status=WebhookDelivery.PENDING
    ).filter(
        Q(event__created_at__lt=d.event.created_at) | Q(event__created_at=d.event.created_at, event_id__lt=d.event_id)
    )


def _after_commit(fn) -> None:
    transaction.on_commit(fn)


def _enqueue(delivery_id: int, countdown: float = 0) -> None:
    from stateset.tasks import deliver_webhook

    deliver_webhook.apply_async((delivery_id,), countdown=countdown)


def sweep(*, limit: int = 500) -> list[int]:
    """Dispatch, then send every pending delivery that is due and first in line (a lost task, a worker killed
    mid-delivery, a broker restart: nothing waits longer than one sweep after it is due)."""
    dispatch()
    due = WebhookDelivery.objects.filter(status=WebhookDelivery.PENDING, next_attempt_at__lte=now())
    heads = _heads(due.order_by("next_attempt_at"), limit)
    for pk in heads:
        _enqueue(pk)
    return heads


# ---- one attempt -------------------------------------------------------------------------------------------


def backoff(attempts: int) -> float:
    """Seconds before retry number `attempts` (1, 2, ...): 30 s doubling, at most 6 h, ±20% jitter."""
    base = min(RETRY_BASE_SECONDS * 2 ** (attempts - 1), RETRY_MAX_SECONDS)
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def event_body(event: Event) -> bytes:
    from stateset.events_api import EventSerializer

    return json.dumps(EventSerializer(event).data, separators=(",", ":"), default=str).encode()


_client: tuple[int, Any] | None = None


def _http():
    """One HTTP client per process (made after a worker forks), reused by every delivery: a client of its own
    per POST built a TLS context each time (about 100 ms, most of a delivery to a local receiver), and kept
    no connection alive to an endpoint that receives many events."""
    global _client
    import httpx

    if _client is None or _client[0] != os.getpid():
        _client = (os.getpid(), httpx.Client(follow_redirects=False))
    return _client[1]


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, str]:
    """(status code or None, first KB of the answer, error)."""
    import httpx

    try:
        check_url(url)
        response = _http().post(url, content=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
        return response.status_code, response.text[:1024], ""
    except ValidationFailed as exc:
        return None, "", str(exc)[:255]
    except httpx.HTTPError as exc:
        return None, "", f"{type(exc).__name__}: {exc}"[:255]


def attempt(delivery_id: int) -> str:
    """Send one delivery if it is due and first in line for its object. Returns what happened."""
    lease = timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 5)  # the POST cannot outlast it
    with transaction.atomic():
        d = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if d is None or d.status != WebhookDelivery.PENDING:
            return "not pending"
        if d.next_attempt_at > now():
            return "not due"
        if not d.endpoint.enabled:
            return "endpoint disabled"
        if _earlier_pending(d).exists():
            return "waiting for an earlier event"
        d.next_attempt_at = now() + lease  # the lease: a worker killed from here on is covered by the sweep
        d.save(update_fields=["next_attempt_at", "updated_at"])
    body = event_body(d.event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "StateSet-Webhooks/1",
        SIGNATURE_HEADER: signature_header(body, signing_secrets(d.endpoint), int(now().timestamp())),
        "StateSet-Event-Id": str(d.event_id),
    }
    started = time.monotonic()
    status, answer, error = post(d.endpoint.url, body, headers)
    duration = int((time.monotonic() - started) * 1000)
    ok = status is not None and 200 <= status < 300
    with transaction.atomic():
        row = lock(WebhookDelivery, d.pk)
        WebhookAttempt.objects.create(
            delivery=row, status_code=status, duration_ms=duration, response_body=answer, error=error
        )
        row.attempts += 1
        row.last_status_code = status
        outcome = "succeeded"
        if ok:
            row.status = WebhookDelivery.SUCCEEDED
        elif now() - row.created_at >= timedelta(hours=settings.WEBHOOK_RETRY_HOURS):
            row.status = WebhookDelivery.FAILED
            outcome = "failed"
            _disable_if_failing(row.endpoint_id)
        else:
            delay = backoff(row.attempts)
            row.next_attempt_at = now() + timedelta(seconds=delay)
            outcome = "retry"
            _after_commit(lambda: _enqueue(row.pk, countdown=delay))
        row.save()
        if outcome != "retry":  # the next event of this object to this endpoint may go now
            following = (
                WebhookDelivery.objects.filter(
                    endpoint_id=row.endpoint_id, object_key=row.object_key, status=WebhookDelivery.PENDING
                )
                .order_by("event__created_at", "event_id")
                .values_list("pk", flat=True)
                .first()
            )
            if following:
                _after_commit(lambda: _enqueue(following))
    return outcome


def _disable_if_failing(endpoint_id: int) -> None:
    """An endpoint that has failed every delivery for the whole retry window is disabled, with an event."""
    window = now() - timedelta(hours=settings.WEBHOOK_RETRY_HOURS)
    endpoint = lock(WebhookEndpoint, endpoint_id)
    if not endpoint.enabled or endpoint.created_at > window:
        return
    if WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, status=WebhookDelivery.SUCCEEDED, updated_at__gte=window
    ).exists():
        return
    endpoint.enabled = False
    endpoint.disabled_reason = f"every delivery failed for {settings.WEBHOOK_RETRY_HOURS:g} hours"
    endpoint.save()
    events.emit(endpoint, "disable", by=Actor.system("webhook delivery"))


def on_event_write() -> None:
    _kick_dispatch()
