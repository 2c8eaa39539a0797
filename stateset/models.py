"""Cross-cutting models: API keys, stored idempotent responses, and the abstract bases every app uses."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, models, router
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMFieldMixin


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class NumberedModel(TimeStampedModel):
    """A business document with a readable number (`ORD-000042`).

    The number is generated from the primary key after the insert, unless the client gave one. Should a client
    have taken the generated number already, in any case, a suffix keeps it unique (`ORD-000042-2`).
    """

    number_prefix: str = ""
    number_field: str = "number"

    class Meta:
        abstract = True

    @property
    def display_number(self) -> str:
        return getattr(self, self.number_field, None) or f"#{self.pk}"

    def assign_number(self) -> None:
        """Give the document its generated number if it has none. Call right after the insert."""
        if getattr(self, self.number_field):
            return
        base = number = f"{self.number_prefix}-{self.pk:06d}"
        others = type(self)._base_manager.exclude(pk=self.pk)
        suffix = 1
        while not self._claim_number(number):
            if not others.filter(**{f"{self.number_field}__iexact": number}).exists():
                break  # the row itself is gone: nothing to number
            suffix += 1
            number = f"{base}-{suffix}"
        setattr(self, self.number_field, number)

    def _claim_number(self, number: str) -> bool:
        """Write `number` unless another row has it, compared as the document's case-insensitive unique
        constraint compares (UPPER; stateset.constraints): the check and the write are one statement. Written
        by hand, as every create runs it and the ORM's `Exists` update cost more to build than to run."""
        connection = connections[router.db_for_write(type(self))]
        qn = connection.ops.quote_name
        table, pk = qn(self._meta.db_table), qn(self._meta.pk.column)
        column = qn(self._meta.get_field(self.number_field).column)
        sql = (
            f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND NOT EXISTS "
            f"(SELECT 1 FROM {table} other WHERE UPPER(other.{column}) = UPPER(%s) AND other.{pk} <> %s)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [number, self.pk, number, self.pk])
            return cursor.rowcount == 1


class StatefulModel(ConcurrentTransitionMixin, NumberedModel):
    """A document whose `status` is a protected FSM field (see each app's `states.py` and `models.py`).

    ConcurrentTransitionMixin makes every save an `UPDATE ... WHERE status = <status when read>`: a
    transition that lost a race to another one raises ConcurrentTransition (409) instead of overwriting it.

    A document read from the database and saved without `update_fields` writes only the columns that differ
    from what was read (and `updated_at`, and every JSON value, which may have been changed in place): a
    transition's UPDATE names a handful of an order's seventy columns. The values read are kept by reference
    (no copy), and a column holding an expression (`F("x") + 1`) is always written, as a full save would.
    """

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        stored = self.__dict__.get("_stored_values")
        if stored is not None and not args and not self._state.adding and _plain_save(kwargs):
            kwargs["update_fields"] = self._changed_fields(*stored)
        super().save(*args, **kwargs)
        attnames = [f.attname for f in self._meta.concrete_fields if f.attname in self.__dict__]
        self._stored_values = (attnames, [_stored(self.__dict__[a]) for a in attnames])

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._stored_values = (field_names, values)
        return instance

    def _changed_fields(self, field_names, values) -> list[str] | None:
        if len(field_names) != len(values):
            return None  # not a row as read: a full save
        read = dict(zip(field_names, values, strict=True))
        changed = []
        for field in self._meta.concrete_fields:
            name = field.attname
            if field.primary_key or getattr(field, "generated", False) or name not in self.__dict__:
                continue  # a deferred field that was never loaded is not written, as in a full save
            value = self.__dict__[name]
            if (
                getattr(field, "auto_now", False)
                or name not in read
                or isinstance(value, (dict, list))
                or hasattr(value, "resolve_expression")
                or not (value is read[name] or value == read[name])
            ):
                changed.append(name)
        return changed

    @property
    def state_fields(self):
        """The FSM fields, found once per class: django_fsm looks through every field of the model on each
        instance's `__init__` (seventy for an order, a tenth of the cost of a page of orders; issue #16)."""
        cls = type(self)
        found = cls.__dict__.get("_state_fields")
        if found is None:
            found = tuple(field for field in self._meta.fields if isinstance(field, FSMFieldMixin))
            cls._state_fields = found
        return found


_EXPRESSION = object()  # never equal to a value: an expression saved is written again by the next save


def _stored(value):
    return _EXPRESSION if hasattr(value, "resolve_expression") else value


def _plain_save(kwargs) -> bool:
    """A save that would write every column: no update_fields, not forced to insert."""
    return kwargs.get("update_fields") is None and not kwargs.get("force_insert")


def _hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKey(models.Model):
    """A secret that authenticates API calls as its owner. Only the SHA-256 of the key is stored.

    Keys are 256-bit random strings, so a fast hash is enough (no password stretching is needed); the visible
    prefix finds the row and the hash is compared in constant time.
    """

    PREFIX_LENGTH = 11  # "sk_" and eight hex characters

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Leave empty for a key that never expires.")
    revoked = models.BooleanField(default=False, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    @staticmethod
    def new_secret() -> tuple[str, str, str]:
        """Return (raw key, prefix, hash)."""
        raw = f"sk_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"
        return raw, raw[: ApiKey.PREFIX_LENGTH], _hash_key(raw)

    def matches(self, raw: str) -> bool:
        return hmac.compare_digest(self.hashed_key, _hash_key(raw))

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return not self.revoked and not self.is_expired


def idempotency_lease_deadline() -> datetime:
    """When a claim taken now stops protecting a request that may have died (IDEMPOTENCY_LEASE_SECONDS)."""
    return timezone.now() + timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying `Idempotency-Key`, per API key (or session user).

    In flight, the row is a lease held until `lease_expires_at`; a retry may take over an expired one
    (`stateset.idempotency`). Each taking moves the deadline later, so it also tells holders apart."""

    IN_FLIGHT = "in_flight"
    COMPLETE = "complete"

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=16, default=IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.BinaryField(null=True)
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    lease_expires_at = models.DateTimeField(default=idempotency_lease_deadline)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_unique")]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class Event(models.Model):
    """One change, published: written in the transaction of the change (stateset.events), never changed after.

    `sequence` counts the events of one object (1, 2, 3 ...), so a receiver can tell a late or repeated one;
    `data` is the object as the API renders it after the change (before it, for a delete) and
    `previous_attributes` the fields the change gave new values, with their old ones."""

    type = models.CharField(max_length=100, db_index=True, editable=False)
    object_type = models.CharField(max_length=64, editable=False)
    object_id = models.BigIntegerField(editable=False)
    sequence = models.PositiveIntegerField(editable=False)
    data = models.JSONField(editable=False)
    previous_attributes = models.JSONField(null=True, blank=True, editable=False)
    actor = models.CharField(max_length=255, blank=True, editable=False)
    request_id = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["object_type", "object_id", "sequence"], name="event_object_sequence")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.object_type} {self.object_id} #{self.sequence}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Events are immutable")
        super().save(*args, **kwargs)


class EventCounter(models.Model):
    """The last sequence number given to an object's events (PostgreSQL only: the row lock orders concurrent
    writers of one object's events; SQLite, which serialises writers, numbers from the events themselves)."""

    object_type = models.CharField(max_length=64)
    object_id = models.BigIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["object_type", "object_id"], name="event_counter_object")]

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_id}: {self.last}"


class WebhookEndpoint(models.Model):
    """A URL that receives the events it subscribes to, signed with its secret (stateset.webhooks)."""

    url = models.URLField(max_length=2000)
    enabled_events = models.JSONField(
        default=list, blank=True, help_text='Event types or patterns ("order.*"); empty or ["*"] means every event.'
    )
    enabled = models.BooleanField(default=True)
    description = models.CharField(max_length=255, blank=True)
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=255, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "webhook endpoint"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        patterns = self.enabled_events or ["*"]
        return any(
            p == "*" or p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1])) for p in patterns
        )


class WebhookDelivery(models.Model):
    """One event to one endpoint: pending until a 2xx (succeeded) or the retry window ends (failed)."""

    PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
    STATUSES = [(PENDING, "pending"), (SUCCEEDED, "succeeded"), (FAILED, "failed")]

    # No index of its own: the endpoint's indexes below start with it (tests/core/test_redundant_indexes.py).
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    # The event's object, so that one endpoint's deliveries for one object go out in order (stateset.webhooks).
    object_key = models.CharField(max_length=100, editable=False)
    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once")]
        indexes = [models.Index(fields=["endpoint", "object_key", "status"], name="webhook_delivery_object")]

    def __str__(self) -> str:
        return f"{self.event.type} to {self.endpoint.url} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST of a delivery: what the receiver answered (or why there was no answer), and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_body = models.TextField(blank=True, help_text="The first KB of the answer.")
    error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} in {self.duration_ms} ms"


class WebhookDispatch(models.Model):
    """Where the dispatcher is in the event feed: the last event it made deliveries for (one row)."""

    last_created_at = models.DateTimeField(null=True)
    last_event_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"after event {self.last_event_id}"
