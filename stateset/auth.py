"""API key authentication: `Authorization: Token <key>` (the documented form) or `Bearer <key>` (the SDKs)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from stateset.models import ApiKey

SCHEMES = {"token", "bearer"}
# last_used_at is written at most this often per key, so a busy key does not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def key_from_header(request) -> str | None:
    """The raw key from the Authorization header, or None when the header does not carry one of our schemes."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() not in SCHEMES:
        return None
    return parts[1]


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        raw = key_from_header(request)
        if raw is None:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Token <key>' or 'Bearer <key>'.")
        key = ApiKey.objects.select_related("user").filter(prefix=raw[: ApiKey.PREFIX_LENGTH]).first()
        if key is None or not key.matches(raw):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if key.revoked:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if key.is_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if not key.user.is_active:
            raise exceptions.AuthenticationFailed("The owner of this API key is inactive.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return key.user, key

    def authenticate_header(self, request):
        return 'Token realm="api"'
