from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key (or per session user). The rate comes from API_RATE_LIMIT.

    One counter per key in the cache, created by the window's first request and expiring with the window;
    each request adds one atomically (`cache.incr`: Redis's INCR, or the local-memory cache's lock), so
    processes sharing the cache (REDIS_URL) share the count and concurrent requests cannot both take the last
    slot. (DRF's own throttle reads a list of timestamps and writes it back: two processes racing both pass.)
    """

    scope = "api_key"
    cache = cache

    def get_cache_key(self, request, view):
        if request.auth is not None and hasattr(request.auth, "pk"):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        # The window's start, for Retry-After; `add` keeps the first writer's.
        self.cache.add(f"{self.key}:start", self.now, self.duration)
        self.cache.add(self.key, 0, self.duration)
        try:
            count = self.cache.incr(self.key)
        except ValueError:  # the window ended between add and incr
            self.cache.add(self.key, 1, self.duration)
            count = 1
        if count == 1:
            # The window's first request. Also covers the counter expiring between the Redis backend's EXISTS
            # and INCR: INCR then creates it without an expiry, and it would never reset.
            self.cache.touch(self.key, self.duration)
        return count <= self.num_requests

    def wait(self):
        start = self.cache.get(f"{self.key}:start", self.now)
        return max(start + self.duration - self.now, 1)
