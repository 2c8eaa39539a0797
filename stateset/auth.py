"""API key authentication: `Authorization: Token <key>` (the documented form) or `Bearer <key>` (the SDKs).

A key and its owner (with the owner's permissions loaded) are cached for API_KEY_CACHE_SECONDS (default 5)
in Django's cache, so a request costs no query to authenticate or to check permissions. Every cached entry
is keyed by a generation number that any change to keys, users, groups or their permissions bumps
(`invalidate`, connected in StatesetConfig.ready), so in the process that made the change it takes effect
at once; another process sees it within API_KEY_CACHE_SECONDS while the cache is per process (the default
local-memory cache), and at once when CACHES points every process at one shared cache (Redis).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions

from stateset.models import ApiKey

SCHEMES = {"token", "bearer"}
# last_used_at is written at most this often per key, so a busy key does not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
GENERATION_KEY = "stateset:apikey:generation"


def key_from_header(request) -> str | None:
    """The raw key from the Authorization header, or None when the header does not carry one of our schemes."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() not in SCHEMES:
        return None
    return parts[1]


def invalidate(**_: object) -> None:
    """Forget every cached key (a key was revoked or edited, or a user's permissions changed): now, and again
    when the transaction commits, so that a request between the write and its commit cannot cache the old
    state for long."""
    _bump()
    transaction.on_commit(_bump)


def _bump() -> None:
    if cache.add(GENERATION_KEY, 1, timeout=None) is False:
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # evicted between add and incr
            cache.add(GENERATION_KEY, 1, timeout=None)


def _entry(prefix: str) -> str:
    return f"stateset:apikey:{cache.get(GENERATION_KEY, 0)}:{prefix}"


def _cached_key(prefix: str) -> ApiKey | None:
    seconds = settings.API_KEY_CACHE_SECONDS
    # The entry is named once, before the read: a change committed meanwhile bumps the generation, so what is
    # read here can only be stored under the old one, which nobody reads any more.
    entry = _entry(prefix)
    key = cache.get(entry) if seconds else None
    if key is None:
        key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
        if key is None:
            return None
        key.user.get_all_permissions()  # fills the user's permission caches, pickled with it
        if seconds:
            cache.set(entry, key, seconds)
    return key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        raw = key_from_header(request)
        if raw is None:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Token <key>' or 'Bearer <key>'.")
        key = _cached_key(raw[: ApiKey.PREFIX_LENGTH])
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
            # A write, not an edit of the key: no signal, no invalidation. The cached copy is refreshed, so
            # each process writes it at most once a minute per key.
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
            if settings.API_KEY_CACHE_SECONDS:
                cache.set(_entry(key.prefix), key, settings.API_KEY_CACHE_SECONDS)
        return key.user, key

    def authenticate_header(self, request):
        return 'Token realm="api"'
