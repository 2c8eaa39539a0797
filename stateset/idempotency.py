"""`Idempotency-Key` on every POST to the API: /v1, and its aliases at the root and under /api/ (contract §1.7).

The first request with a key claims it by inserting a row (unique per scope and key) in its own committed
statement, before the view runs; a concurrent second request hits the unique constraint and sees the claim.

- same key, same body, first finished: the stored response is replayed with `Idempotent-Replayed: true`;
- same key, other body: 422 `idempotency_key_reused`;
- same key while the first is still running: 409 `idempotency_in_progress` with `Retry-After` (clients
  retry 409);
- a response that is worth retrying (401, 409, 429, 5xx) is not stored: the view's writes are rolled back
  and the claim is dropped, so the retry runs the request once.

The view runs inside a transaction opened here, and its response is stored on the claim row inside that
same transaction: a write and the response that answers it commit together or not at all. A committed write
therefore always replays, and a request that dies before storing (killed worker, lost connection) leaves
nothing but its claim. A refused request (an error answered by the exception handler) keeps none of the
view's writes either, as under ATOMIC_REQUESTS; its answer is stored after the rollback.

A claim in flight is a lease until `lease_expires_at` (IDEMPOTENCY_LEASE_SECONDS after it was taken). A
retry with the same body that meets an expired lease takes it over with one conditional UPDATE (in flight
and expired) and runs the request; only one of several racing retries can win it. The lease is also the
fence: the holder stores its response only where the row still carries the deadline it took, and every
takeover moves the deadline later. A holder that outlived its lease and was taken over therefore stores
nothing, rolls its writes back and answers 409, and only the new holder's writes commit. Set the lease
above the longest request. We do not keep the claim row locked for the whole view on PostgreSQL to detect
a live holder (`select_for_update(nowait=True)`): the lease works the same on SQLite, costs no extra
statement, and the fence already keeps a slow holder from committing beside its successor.

On PostgreSQL a claim's holder is also known to be alive by a session-level advisory lock on a 64-bit hash
of its scope and key: each keyed request tries it (`pg_try_advisory_lock`, never waiting) before its INSERT,
and releases it in a `finally` once it has answered (the connection outlives the request, CONN_MAX_AGE).
A request that holds the lock and meets a claim in flight knows no live session holds that claim (its
worker was killed and PostgreSQL released the lock with its connection): it takes the claim over at once,
with the same fenced conditional UPDATE (on the lease value it read; the new deadline is later), instead of
waiting out the lease. A request that cannot get the lock meets a live holder (or a request just looking):
409 as before, or the lease takeover once the lease has expired. The lock is session-level, not
transaction-level, because the claim is committed on its own before the view's transaction begins. It
costs two statements per keyed POST (the try and the unlock). A hash collision between two keys can only
make a dead holder look alive (the lease then applies), never a live one dead; a live holder without the
lock (it took over an expired lease, or its connection was reset) can be taken over, and the fence then
keeps it from committing. SQLite keeps the lease alone.

The scope is the API key (a hash of it), or the session user for staff browsing the API. Records are kept
for IDEMPOTENCY_TTL_HOURS; `manage.py purge_idempotency_keys` deletes older ones and expired leases, and
an expired record met again is replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from stateset import events
from stateset.api import RETRYABLE_DB_ERRORS, error_json_response, is_api_path
from stateset.auth import key_from_header
from stateset.models import IdempotencyRecord, idempotency_lease_deadline

HEADER = "Idempotency-Key"
NOT_STORED = {401, 409, 429}
REPLAYED_HEADERS = ("Content-Type", "Location")


def _scope(request) -> str | None:
    raw = key_from_header(request)
    if raw:
        return hashlib.sha256(raw.encode()).hexdigest()
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return hashlib.sha256(f"user:{user.pk}".encode()).hexdigest()
    return None


def _fingerprint(request) -> str:
    body = request.body
    with contextlib.suppress(ValueError, RecursionError):  # not JSON: the raw bytes stand; the view refuses them
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(request.get_full_path().encode() + b"\n" + body).hexdigest()


def _lock_id(scope: str, key: str) -> int:
    digest = hashlib.sha256(f"idempotency\n{scope}\n{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _try_lock(lock_id: int) -> bool:
    """PostgreSQL: take the claim's advisory lock if no other session holds it (never waits)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
        return bool(cursor.fetchone()[0])


def _unlock(lock_id: int) -> None:
    with contextlib.suppress(DatabaseError), connection.cursor() as cursor:  # a lost connection released it
        cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])


def _claim(scope: str, key: str, fingerprint: str, locked: bool = False) -> tuple[IdempotencyRecord, bool]:
    """Insert the claim, or take over one with the same body whose holder is gone: its lease expired, or
    (`locked`: this request holds the claim's advisory lock, so no live session does) at once. Returns the
    row and whether this request now holds it."""
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    for _ in range(3):
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(scope=scope, key=key, fingerprint=fingerprint), True
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
            if existing is None:
                continue  # dropped between our insert and our read: claim again
            if existing.created_at < cutoff:
                IdempotencyRecord.objects.filter(pk=existing.pk, created_at__lt=cutoff).delete()
                continue
            now = timezone.now()
            in_flight = existing.state == IdempotencyRecord.IN_FLIGHT
            expired = in_flight and existing.lease_expires_at < now
            if (expired or (in_flight and locked)) and existing.fingerprint == fingerprint:
                # its holder died: take it over, unless beaten. Fenced on the lease we read when only the
                # lock tells us so, on its expiry otherwise; either way the new deadline is later.
                lease = max(idempotency_lease_deadline(), existing.lease_expires_at + timedelta(microseconds=1))
                fence = {"lease_expires_at__lt": now} if expired else {"lease_expires_at": existing.lease_expires_at}
                if IdempotencyRecord.objects.filter(pk=existing.pk, state=IdempotencyRecord.IN_FLIGHT, **fence).update(
                    lease_expires_at=lease
                ):
                    existing.lease_expires_at = lease
                    return existing, True
                continue  # another retry took it, or its holder finished after all: look again
            return existing, False
    return IdempotencyRecord.objects.get(scope=scope, key=key), False


def _held(record: IdempotencyRecord):
    """The claim row, still in flight and still under the lease this request took."""
    return IdempotencyRecord.objects.filter(
        pk=record.pk, state=IdempotencyRecord.IN_FLIGHT, lease_expires_at=record.lease_expires_at
    )


def _store(record: IdempotencyRecord, response) -> bool:
    return bool(
        _held(record).update(
            state=IdempotencyRecord.COMPLETE,
            response_status=response.status_code,
            response_body=response.content,
            response_headers={h: response[h] for h in REPLAYED_HEADERS if response.has_header(h)},
        )
    )


def _in_progress(request):
    response = error_json_response(
        request,
        409,
        "api_error",
        "idempotency_in_progress",
        f"A request with this {HEADER} is still being processed; retry shortly.",
    )
    response["Retry-After"] = "1"
    return response


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or not is_api_path(request.path_info):
            return self.get_response(request)
        if not key or len(key) > 255:
            return error_json_response(
                request,
                400,
                "invalid_request_error",
                "validation_error",
                f"{HEADER} must be between 1 and 255 characters.",
                errors={HEADER: "1 to 255 characters"},
            )
        scope = _scope(request)
        if scope is None:
            return self.get_response(request)  # unauthenticated: the view answers 401, nothing to store
        if connection.vendor != "postgresql":
            return self._keyed(request, scope, key, locked=False)
        lock_id = _lock_id(scope, key)
        locked = _try_lock(lock_id)
        try:
            return self._keyed(request, scope, key, locked=locked)
        finally:  # success, error or exception: the persistent connection must not keep it
            if locked:
                _unlock(lock_id)

    def _keyed(self, request, scope: str, key: str, *, locked: bool):
        try:
            fingerprint = _fingerprint(request)
            record, claimed = _claim(scope, key, fingerprint, locked)
        except RequestDataTooBig:
            message = f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
            return error_json_response(request, 413, "invalid_request_error", "request_too_large", message)
        except DatabaseError as exc:
            if not any(s in str(exc).lower() for s in RETRYABLE_DB_ERRORS):
                raise
            message = "The data was locked by a concurrent request; retry it."
            return error_json_response(request, 409, "api_error", "conflict", message)
        if not claimed:
            if record.fingerprint != fingerprint:
                return error_json_response(
                    request,
                    422,
                    "invalid_request_error",
                    "idempotency_key_reused",
                    f"This {HEADER} was used with a different request body; use a new key for a new request.",
                )
            if record.state != IdempotencyRecord.COMPLETE:
                return _in_progress(request)
            return self._replay(record)

        # Usually the response is stored inside the view's transaction. A retryable answer (or a streaming
        # one, whose body is produced later) is not stored: the claim is dropped after the transaction, and
        # a retryable answer's writes are rolled back first. A refusal's writes are rolled back too, and
        # the refusal is stored after the rollback.
        stored = True
        try:
            with events.transparent(transaction.atomic()):  # the view's own transactions write their events
                response = self.get_response(request)
                retryable = response.status_code >= 500 or response.status_code in NOT_STORED
                refused = getattr(response, "exception", False) or transaction.get_rollback()
                if not (retryable or refused or response.streaming):
                    stored = _store(record, response)
                if retryable or refused or not stored:
                    transaction.set_rollback(True)
        except BaseException:
            with contextlib.suppress(DatabaseError):  # the connection may be gone: the lease runs out instead
                _held(record).delete()
            raise
        if retryable or response.streaming:
            _held(record).delete()
            return response
        if refused:
            stored = _store(record, response)
        if not stored:  # our lease ran out and a retry took the claim over: it answers, our writes are undone
            return _in_progress(request)
        return response

    @staticmethod
    def _replay(record: IdempotencyRecord):
        from django.http import HttpResponse

        response = HttpResponse(bytes(record.response_body or b""), status=record.response_status)
        for header, value in record.response_headers.items():
            response[header] = value
        response["Idempotent-Replayed"] = "true"
        return response
