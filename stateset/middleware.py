"""Request ids, the access log, and one routing rule for the API: every API route (/v1, /api and the root
aliases) answers with or without a trailing slash."""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from contextlib import ExitStack

from django.db import connections

from stateset.limits import MAX_URL_LENGTH

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Outside the API: the admin and static files keep their paths (the API is served at the root too).
NON_API_PREFIXES = ("/admin/", "/static/")


def current_request_id() -> str:
    return request_id_var.get()


class RequestIdMiddleware:
    """Give every request an id (the client's X-Request-ID when it is sane), echo it, and log with it.

    It also strips a trailing slash from API paths before URL resolution, so `/v1/orders/42/cancel/` and
    `/v1/orders/42/cancel` reach the same view and a POST is never redirected (APPEND_SLASH is off).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        if len(request.get_full_path()) > MAX_URL_LENGTH:
            from stateset.api import error_json_response  # the API module imports this one

            try:
                response = error_json_response(
                    request,
                    414,
                    "invalid_request_error",
                    "uri_too_long",
                    f"The URL is longer than {MAX_URL_LENGTH} characters.",
                )
            finally:
                request_id_var.reset(token)
            response["X-Request-ID"] = request_id
            return response
        path = request.path_info
        if not path.startswith(NON_API_PREFIXES) and len(path) > 1 and path.endswith("/"):
            request.path_info = path.rstrip("/") or "/"
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


access_logger = logging.getLogger("stateset.access")
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def _route(request) -> str | None:
    """The URL pattern that answered (`v1/orders/<pk>/cancel`), not the path: ids do not split the counts."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return None
    return _NAMED_GROUP.sub(r"<\1>", match.route).replace("^", "").replace("$", "")


class AccessLogMiddleware:
    """One log line per request on the `stateset.access` logger: request id, API key prefix, method, route,
    status, duration and the number of SQL queries (counted on every database alias, with DEBUG off too).
    With LOG_FORMAT=json each line is one JSON object (stateset/logging.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        counter = _QueryCounter()
        started = time.perf_counter()
        with ExitStack() as stack:
            for conn in connections.all():
                stack.enter_context(conn.execute_wrapper(counter))
            response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        auth = getattr(request, "auth", None)
        fields = {
            "request_id": getattr(request, "request_id", "-"),
            "api_key": getattr(auth, "prefix", None),
            "method": request.method,
            "route": _route(request),
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "queries": counter.count,
        }
        access_logger.info(
            "%s %s %s %sms %sq key=%s",
            request.method,
            fields["route"] or request.path,
            response.status_code,
            duration_ms,
            counter.count,
            fields["api_key"] or "-",
            extra={"access": fields},
        )
        return response


class _QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)
