"""Lists at any length (issue #16): a bounded count with its flag, an exact `has_more`, the offset bound, and
cursor pages (`starting_after` / `ending_before`) that stay stable while rows are inserted and never skip a row
that commits late."""

import threading
import time

import pytest
from django.db import connection, transaction

from crm.models import Customer
from stateset import pagination
from tests.factories import api_client, make_customer
from tests.helpers import assert_error


@pytest.fixture
def settled(monkeypatch):
    """Cursor pages list rows at once (the settle window is tested on its own below)."""
    monkeypatch.setattr(pagination, "CURSOR_SETTLE_SECONDS", 0)


def ids(body, key="customers"):
    return [row["id"] for row in body[key]]


# ---- counting --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_page_that_reaches_the_end_is_its_own_count(api):
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):
        make_customer()
    api.get("/v1/customers")  # the key cached
    cases = [({"limit": 10}, 5, False), ({"limit": 2, "offset": 4}, 5, False), ({"limit": 2}, 5, True)]
    cases += [({"limit": 2, "offset": 7}, 5, True)]  # an empty page past the end: counted
    for params, total, counted in cases:
        with CaptureQueriesContext(connection) as ctx:
            body = api.get("/v1/customers", params).json()
        assert (body["total_count"], body["total_count_exact"]) == (total, True), params
        assert any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries) is counted, params


@pytest.mark.django_db
def test_total_count_is_exact_up_to_the_bound_then_flagged(api, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_BOUND", 5)
    for _ in range(5):
        make_customer()
    body = api.get("/v1/customers", {"limit": 2}).json()
    assert (body["total_count"], body["total_count_exact"], body["has_more"]) == (5, True, True)

    for _ in range(3):
        make_customer()
    body = api.get("/v1/customers", {"limit": 2}).json()
    assert body["total_count_exact"] is False
    # Above the bound: at least bound + 1 (the planner's estimate on PostgreSQL, the bound + 1 elsewhere).
    assert body["total_count"] >= 6
    if connection.vendor != "postgresql":
        assert body["total_count"] == 6
    # A filtered list under the bound is exact again.
    one = Customer.objects.order_by("pk").first()
    body = api.get("/v1/customers", {"email": one.email}).json()
    assert (body["total_count"], body["total_count_exact"], body["has_more"]) == (1, True, False)


@pytest.mark.django_db
def test_has_more_is_exact_without_the_count(api, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_BOUND", 1)  # the count is an estimate; has_more must not care
    for _ in range(3):
        make_customer()
    assert api.get("/v1/customers", {"limit": 3}).json()["has_more"] is False
    assert api.get("/v1/customers", {"limit": 2}).json()["has_more"] is True
    assert api.get("/v1/customers", {"limit": 2, "offset": 1}).json()["has_more"] is False
    assert api.get("/v1/customers", {"limit": 1, "offset": 1}).json()["has_more"] is True


# ---- offset ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_offset_above_ten_thousand_is_400_pointing_to_the_cursor(api):
    assert api.get("/v1/customers", {"offset": 10_000}).status_code == 200
    for path in ("/v1/customers", "/v1/orders", "/v1/returns", "/v1/inventory_items"):
        body = assert_error(api.get(path, {"offset": 10_001}), 400, "invalid_request_error", "validation_error")
        assert "starting_after" in body["errors"]["offset"] and "starting_after" in body["message"]


# ---- cursors -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_cursor_pages_walk_the_whole_list_both_ways(api, settled, direction):
    made = [make_customer().pk for _ in range(7)]
    expected = sorted(made, reverse=direction == "desc")
    seen, cursor = [], None
    while True:
        query = {"limit": 3, "order_direction": direction, **({"starting_after": cursor} if cursor else {})}
        body = api.get("/v1/customers", query).json()
        seen += ids(body)
        assert body["has_more"] is (len(seen) < len(expected))
        if not body["has_more"]:
            break
        cursor = seen[-1]
    assert seen == expected
    # Backwards from the last row: the same rows, each page in the list's order.
    back, cursor = [], expected[-1]
    while True:
        body = api.get("/v1/customers", {"limit": 3, "order_direction": direction, "ending_before": cursor}).json()
        back = ids(body) + back
        if not body["has_more"]:
            break
        cursor = ids(body)[0]
    assert back == expected[:-1]


@pytest.mark.django_db
def test_cursor_pages_keyed_on_another_sort(api, settled):
    made = {make_customer(email=f"{name}@example.com").pk: name for name in "dbeac"}
    first = api.get("/v1/customers", {"order_by": "email", "order_direction": "asc", "limit": 2}).json()
    rest = api.get(
        "/v1/customers", {"order_by": "email", "order_direction": "asc", "starting_after": ids(first)[-1]}
    ).json()
    assert [made[pk] for pk in ids(first) + ids(rest)] == list("abcde")


@pytest.mark.django_db
def test_cursor_pages_are_stable_while_rows_are_inserted(api, settled):
    """A feed read oldest first while rows keep arriving: every row once, none missed, none repeated."""
    made = [make_customer().pk for _ in range(5)]
    seen, cursor = [], None
    for _ in range(20):
        query = {"limit": 2, "order_direction": "asc", **({"starting_after": cursor} if cursor else {})}
        body = api.get("/v1/customers", query).json()
        seen += ids(body)
        cursor = seen[-1] if seen else None
        if len(made) < 11:
            made.append(make_customer().pk)  # inserted between two pages
        elif not body["has_more"]:
            break
    assert seen == sorted(made)
    # Newest first, the rows inserted meanwhile go above the cursor and never shift the pages below it.
    top = ids(api.get("/v1/customers", {"limit": 4}).json())
    make_customer()
    make_customer()
    assert ids(api.get("/v1/customers", {"limit": 4, "starting_after": top[1]}).json()) == sorted(made)[-6:-2][::-1]


@pytest.mark.django_db
def test_bad_cursors_are_400(api):
    customer = make_customer()
    cases = [
        ({"starting_after": 999_999}, "starting_after"),
        ({"ending_before": "abc"}, "ending_before"),
        ({"starting_after": customer.pk, "ending_before": customer.pk}, "starting_after"),
        ({"starting_after": customer.pk, "offset": 3}, "starting_after"),
    ]
    for query, field in cases:
        body = assert_error(api.get("/v1/customers", query), 400, "invalid_request_error", "validation_error")
        assert field in body["errors"], body
    # A sort on a field some rows lack cannot carry a cursor (orders' numbers may be empty).
    body = assert_error(
        api.get("/v1/orders", {"order_by": "order_number", "starting_after": 1}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert "starting_after" in body["errors"]


@pytest.mark.django_db
def test_cursor_pages_wait_for_the_settle_window(api):
    old = make_customer()
    Customer.objects.filter(pk=old.pk).update(created_at=old.created_at.replace(year=2020))
    fresh = make_customer()
    body = api.get("/v1/customers", {"order_direction": "asc", "starting_after": old.pk}).json()
    assert fresh.pk not in ids(body)  # created less than a second ago: not yet on a cursor page
    assert fresh.pk in ids(api.get("/v1/customers").json())  # a page without a cursor shows it at once
    time.sleep(pagination.CURSOR_SETTLE_SECONDS + 0.1)
    body = api.get("/v1/customers", {"order_direction": "asc", "starting_after": old.pk}).json()
    assert ids(body) == [fresh.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_cursor_reader_never_skips_a_row_that_commits_after_a_later_one():
    """A takes its id and timestamp, then commits after B (a later id) has committed. A feed reader following
    the cursor sees B only once A is visible too, so it reads A then B, and skips neither."""
    api = api_client()
    seed = make_customer()
    Customer.objects.filter(pk=seed.pk).update(created_at=seed.created_at.replace(year=2020))
    inserted, release = threading.Event(), threading.Event()
    slow = {}

    def slow_writer():
        try:
            with transaction.atomic():
                slow["pk"] = make_customer(email="slow@example.com").pk
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert inserted.wait(10)
    fast = make_customer(email="fast@example.com")  # a later id and timestamp, committed first
    assert fast.pk > slow["pk"]

    seen, cursor, deadline = [], seed.pk, time.monotonic() + 15
    released_at = time.monotonic() + 2.5  # the slow transaction stays open 2.5 s more
    while time.monotonic() < deadline and len(seen) < 2:
        if not release.is_set() and time.monotonic() > released_at:
            release.set()
        body = api.get("/v1/customers", {"order_direction": "asc", "starting_after": cursor}).json()
        if not release.is_set():
            assert ids(body) == [], "a cursor page listed a row while an older one was uncommitted"
        seen += ids(body)
        cursor = seen[-1] if seen else cursor
        time.sleep(0.2)
    release.set()
    thread.join()
    assert seen == [slow["pk"], fast.pk]
