"""Request ids, and one routing rule for the API: every API route (/v1, /api and the root aliases) answers with
or without a trailing slash."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

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
