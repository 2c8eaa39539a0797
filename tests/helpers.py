"""Assertions and admin-client helpers every app's tests share."""

from __future__ import annotations

import functools
import json
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_user

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
    api.get(url)  # warm again: making rows may have saved a user, which empties the API-key cache
    with CaptureQueriesContext(connection) as large:
        assert len(api.get(url).json()[plural]) == 1 + more
    assert len(small) == len(large), [q["sql"] for q in large.captured_queries]


def race(calls: Sequence[Callable[[], Any]], *, timeout: float = 60) -> list[Any]:
    """Run each callable in its own thread (so its own database connection, closed after), all released at once
    by a barrier; return what each returned, or the exception it raised, in the order of `calls`. A call still
    running after `timeout` seconds leaves None."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:  # a refusal or a crash is a result too: the assertions will show it
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results


def only_refused(results: list[Any], refusal: type[Exception] | tuple[type[Exception], ...]) -> list[Any]:
    """`results` of race(), after raising any exception that is not a `refusal` (so a crash fails the test with
    its own traceback instead of hiding among the expected refusals)."""
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, refusal):
            raise result
    return results


@functools.cache
def openapi_schema() -> dict[str, Any]:
    """The OpenAPI schema as `manage.py spectacular --validate --fail-on-warn` builds it (a warning fails the
    test that asks), parsed. Built once per run and shared: read it, never change it."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "schema.json"
        call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(out))
        return json.loads(out.read_text())


def history(client, resource: str, pk: int) -> list[tuple[str, str, str, str | None, str]]:
    """(transition, from, to, by, reason) of each row, oldest first; each names the door (the `auditor`
    fixture's key)."""
    rows = client.get(f"/v1/{resource}/{pk}/history?order_direction=asc").json()["history"]
    assert all(h["description"].startswith("[auditor via API key") for h in rows), rows
    return [
        (h["transition"], h["source_state"], h["state"], h["by"], h["description"].partition("] ")[2]) for h in rows
    ]


# ---- the admin, as a browser drives it ----------------------------------------------------------------------


def staff_client(*perms: str) -> Client:
    """A browser logged in to the admin as a new staff user holding exactly `perms`."""
    client = Client()
    client.force_login(make_user(*perms))
    return client


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def op_url(obj, name: str) -> str:
    """The form of an Operation (stateset.admin.Operation) on `obj`."""
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_operation", args=[obj.pk, name])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def change_form_data(response) -> dict:
    """What the browser posts back from an add or change form: the form's current values and the inlines'."""
    data = {}

    def add(form, prefix=""):
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[f"{prefix}{name}"] = "on" if value is True else value
            if form.fields[name].show_hidden_initial:  # a field with a callable default: the browser posts both
                data[f"initial-{prefix}{name}"] = data[f"{prefix}{name}"]

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        add(formset.management_form, f"{formset.prefix}-")
        for i, form in enumerate(formset.forms):
            add(form, f"{formset.prefix}-{i}-")
    return data
