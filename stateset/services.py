"""Writes for API access: keys and stored idempotent responses. (The staff roles live in backoffice.services.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from stateset.actors import Actor
from stateset.errors import NotFound
from stateset.fsm import lock, log_event
from stateset.models import ApiKey, Event, EventCounter, IdempotencyRecord


def api_key_create(*, user, name: str, expires_at: datetime | None = None, by: Actor) -> tuple[ApiKey, str]:
    """Create a key for `user`. Returns the row and the raw key, which is never stored and cannot be shown again."""
    raw, prefix, hashed = ApiKey.new_secret()
    key = ApiKey.objects.create(user=user, name=name, prefix=prefix, hashed_key=hashed, expires_at=expires_at)
    return key, raw


API_KEY_FIELDS = {"name", "expires_at"}


def api_key_update(*, api_key: ApiKey, by: Actor, **fields: Any) -> ApiKey:
    """Rename a key or change its expiry (its secret, owner and revocation never change here). Leaves an
    audit row like every other update: a history row `update` naming the fields given, in the key's state
    (active or revoked)."""
    unknown = set(fields) - API_KEY_FIELDS
    if unknown:
        raise TypeError(f"API key fields not known: {sorted(unknown)}")
    with transaction.atomic():
        key = lock(ApiKey, api_key.pk)
        for name, value in fields.items():
            setattr(key, name, value)
        if fields:
            key.save(update_fields=sorted(fields))
        state = "revoked" if key.revoked else "active"
        log_event(key, "update", by=by, reason=f"changed {', '.join(sorted(fields)) or 'nothing'}", state=state)
    return key


def api_key_delete(*, api_key: ApiKey, by: Actor) -> None:
    """Delete a key (revoking it keeps the row; this does not). Requests with it answer 401 from now on."""
    with transaction.atomic():
        lock(ApiKey, api_key.pk).delete()


def api_key_create_for_username(*, username: str, name: str, by: Actor) -> tuple[ApiKey, str]:
    try:
        user = get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise NotFound(f"User '{username}' does not exist.")
    return api_key_create(user=user, name=name, by=by)


def api_key_revoke(*, api_key: ApiKey, by: Actor) -> ApiKey:
    """Revoke a key at once; requests with it answer 401 from now on. Revoking twice is harmless."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if not key.revoked:
            key.revoked = True
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked", "revoked_at"])
    return key


def idempotency_purge(*, older_than: timedelta | None = None, by: Actor) -> int:
    """Delete stored responses older than `older_than` (default: the retention, IDEMPOTENCY_TTL_HOURS; 0
    means all of them), and claims whose lease has expired (their worker died mid-request; nothing of theirs
    was committed). A claim in flight under a live lease is kept unless it is older than the retention:
    deleting a live claim would let a retry run the request a second time (and its holder, fenced on the
    lease, would then commit nothing). Returns how many went."""
    ttl = timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    older_than = ttl if older_than is None else older_than
    if older_than < timedelta(0):
        raise ValueError("older_than must not be negative")
    now = timezone.now()
    done = Q(state=IdempotencyRecord.COMPLETE, created_at__lt=now - older_than)
    abandoned = Q(state=IdempotencyRecord.IN_FLIGHT, lease_expires_at__lt=now)
    stuck = Q(created_at__lt=now - max(older_than, ttl))
    deleted, _ = IdempotencyRecord.objects.filter(done | abandoned | stuck).delete()
    return deleted


def event_purge(*, older_than: timedelta | None = None, by: Actor) -> int:
    """Delete events older than `older_than` (default: EVENT_RETENTION_DAYS) in batches, and their deliveries.
    Each object's sequence goes on from its counter, so a later event never reuses a purged one's number.
    Returns how many events went."""
    older_than = timedelta(days=settings.EVENT_RETENTION_DAYS) if older_than is None else older_than
    if older_than < timedelta(0):
        raise ValueError("older_than must not be negative")
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(Event.objects.filter(created_at__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:1000])
            if not ids:
                return deleted
            batch = Event.objects.filter(pk__in=ids)
            if connection.vendor != "postgresql":  # PostgreSQL numbers from the counters already (stateset.events)
                for row in batch.values("object_type", "object_id").annotate(last=Max("sequence")):
                    EventCounter.objects.update_or_create(
                        object_type=row["object_type"], object_id=row["object_id"], defaults={"last": row["last"]}
                    )
            batch.delete()
            deleted += len(ids)
