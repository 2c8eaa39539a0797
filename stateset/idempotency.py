"""`Idempotency-Key` on every POST under /v1 (contract §1.7).

The first request with a key claims it by inserting a row (unique per scope and key) in its own committed
statement, before the view runs; a concurrent second request hits the unique constraint and sees the claim.

- same key, same body, first finished: the stored response is replayed with `Idempotent-Replayed: true`;
- same key, other body: 422 `idempotency_key_reused`;
- same key while the first is still running: 409 `idempotency_in_progress` (clients retry 409);
- a response that is worth retrying (401, 409, 429, 5xx) is not stored: the claim is dropped instead.

The scope is the API key (a hash of it), or the session user for staff browsing the API. Records are kept
for IDEMPOTENCY_TTL_HOURS; `manage.py purge_idempotency_keys` deletes older ones, and an expired record met
again is replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from stateset.api import RETRYABLE_DB_ERRORS, error_json_response
from stateset.auth import key_from_header
from stateset.models import IdempotencyRecord

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


def _claim(scope: str, key: str, fingerprint: str) -> tuple[IdempotencyRecord, bool]:
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    for _ in range(2):
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
            return existing, False
    return IdempotencyRecord.objects.get(scope=scope, key=key), False


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or not request.path_info.startswith("/v1/"):
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

        try:
            fingerprint = _fingerprint(request)
            record, claimed = _claim(scope, key, fingerprint)
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
                return error_json_response(
                    request,
                    409,
                    "api_error",
                    "idempotency_in_progress",
                    f"A request with this {HEADER} is still being processed; retry shortly.",
                )
            return self._replay(record)

        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        if response.status_code >= 500 or response.status_code in NOT_STORED or response.streaming:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return response
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            state=IdempotencyRecord.COMPLETE,
            response_status=response.status_code,
            response_body=response.content,
            response_headers={h: response[h] for h in REPLAYED_HEADERS if response.has_header(h)},
        )
        return response

    @staticmethod
    def _replay(record: IdempotencyRecord):
        from django.http import HttpResponse

        response = HttpResponse(bytes(record.response_body or b""), status=record.response_status)
        for header, value in record.response_headers.items():
            response[header] = value
        response["Idempotent-Replayed"] = "true"
        return response
