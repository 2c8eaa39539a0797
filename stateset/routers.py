"""The read replica (DATABASE_REPLICA_URL), used only where it cannot show a stale or half-written state.

A request reads from the replica only when AccessLogMiddleware has marked it read-only (a GET or HEAD under
/v1: the API's lists, retrievals, searches and histories) and no transaction is open on the primary. Every
write, every read in a write request (a POST reads what it is about to change), and every read inside a
transaction goes to the primary. The replica lags the primary by its replication delay: a client that
writes and then lists may not see its write for that long (a write's own response carries the object).

The event feed and the webhook rows (`PRIMARY_ONLY`) are always read from the primary (issue #17): a consumer
paging `/v1/events` by cursor must never be served a page from a replica that has not yet replayed an event
below the settle horizon, which the primary would have shown, or it would skip it for good.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

from django.db import connections

REPLICA = "replica"
# Read from the primary whatever the request (see above).
PRIMARY_ONLY = frozenset(
    {
        "stateset.event",
        "stateset.eventcounter",
        "stateset.webhookendpoint",
        "stateset.webhookdelivery",
        "stateset.webhookattempt",
        "stateset.webhookdispatch",
    }
)
read_only_request: contextvars.ContextVar[bool] = contextvars.ContextVar("read_only_request", default=False)


@contextmanager
def reading_from_replica(allowed: bool):
    """Mark the code inside as a read-only request (or not), for the router below."""
    token = read_only_request.set(allowed)
    try:
        yield
    finally:
        read_only_request.reset(token)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if model._meta.label_lower in PRIMARY_ONLY:
            return "default"
        if read_only_request.get() and REPLICA in connections.settings and not connections["default"].in_atomic_block:
            return REPLICA
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class ReadReplicaMiddleware:
    """Marks GET and HEAD requests under /v1 as read-only, so their queries may use the replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        read_only = request.method in ("GET", "HEAD") and request.path_info.startswith("/v1/")
        with reading_from_replica(read_only):
            return self.get_response(request)
