"""Assertions every app's tests share."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext

ERROR_KEYS = {"type", "message", "code", "detail", "path", "status", "errors", "request_id"}


def assert_error(response, status: int, type_: str, code: str) -> dict:
    """The contract's error shape (§1.6), with this status, type and code. Returns the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert (body["status"], body["type"], body["code"]) == (status, type_, code), body
    assert body["request_id"] == response["X-Request-ID"]
    return body


def assert_list_queries_constant(api, url: str, plural: str, make_one: Callable[[], object], *, more: int = 49):
    """The list at `url` costs the same number of queries with 1 row and with 1 + `more` rows."""
    make_one()
    api.get(url)  # warm-up: the key's last_used_at, content types, permission caches
    with CaptureQueriesContext(connection) as small:
        assert len(api.get(url).json()[plural]) == 1
    for _ in range(more):
        make_one()
    with CaptureQueriesContext(connection) as large:
        assert len(api.get(url).json()[plural]) == 1 + more
    assert len(small) == len(large), [q["sql"] for q in large.captured_queries]


def history(client, resource: str, pk: int) -> list[tuple[str, str, str, str | None, str]]:
    """(transition, from, to, by, reason) of each row, oldest first; each names the door (the `auditor`
    fixture's key)."""
    rows = client.get(f"/v1/{resource}/{pk}/history?order_direction=asc").json()["history"]
    assert all(h["description"].startswith("[auditor via API key") for h in rows), rows
    return [
        (h["transition"], h["source_state"], h["state"], h["by"], h["description"].partition("] ")[2]) for h in rows
    ]
