"""Health endpoints for load balancers and orchestrators. No authentication, and no exception text in an
answer (it could name hosts, users or paths): a failed check says "error", and the log has the details."""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from django.db import connections
from django.http import JsonResponse

logger = logging.getLogger(__name__)


def healthz(request):
    """Liveness: the process answers. Touches no database, cache or broker, so an outage there does not get
    every instance restarted."""
    return JsonResponse({"status": "ok"})


def _database() -> None:
    for alias in connections.settings:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()


def _cache() -> None:
    key = f"stateset:readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", 10)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not return what was just stored")
    cache.delete(key)


def _broker() -> None:
    from stateset.celery import broker_is_reachable

    broker_is_reachable()


CHECKS = {"database": _database, "cache": _cache, "broker": _broker}


def readyz(request):
    """Readiness: the database (each alias), the cache and the Celery broker answer. 200 with each check's
    status, or 503 when any failed."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception:  # noqa: BLE001 - any failure means not ready
            logger.exception("readyz: the %s check failed", name)
            results[name] = "error"
        else:
            results[name] = "ok"
    ok = all(status == "ok" for status in results.values())
    return JsonResponse({"status": "ok" if ok else "error", "checks": results}, status=200 if ok else 503)
