"""`If-Match` (contract §1.6, 412 `precondition_failed`): compared with the row's ETag under the row lock, in
the write's transaction, on every write route (update, action, delete); each write answers with the new ETag.
The races run on PostgreSQL only (SQLite serialises writers); the sequential rules on both databases."""

from collections import Counter
from functools import partial

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_fsm_log.models import StateLog

from crm.models import Customer
from orders.models import Order
from tests.factories import api_client, make_customer
from tests.helpers import assert_error, race
from tests.orders.support import create, fresh, snapshot, stock

PRECONDITION = (412, "invalid_request_error", "precondition_failed")


def etag_of(api, path: str) -> str:
    response = api.get(path)
    assert response.status_code == 200, response.content
    return response["ETag"]


def order_state(order: Order) -> tuple:
    """The order, its notes and updated_at, everything `snapshot` covers and its history rows."""
    row = fresh(order)
    history = list(StateLog.objects.for_(row).order_by("pk").values_list("pk", "transition", "state"))
    return row.notes, row.updated_at, snapshot(row), history


# ---- on both databases ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_update_answers_the_etag_a_get_then_returns(api):
    customer = make_customer()
    path = f"/v1/customers/{customer.pk}"
    for send in (api.patch, api.put):
        response = send(path, {"phone": send.__name__}, HTTP_IF_MATCH=etag_of(api, path))
        assert response.status_code == 200, response.content
        assert response["ETag"] == etag_of(api, path)
    # Without If-Match too.
    response = api.patch(path, {"phone": "3"})
    assert response["ETag"] == etag_of(api, path)


@pytest.mark.django_db
def test_create_answers_the_etag_a_get_then_returns(api):
    response = api.post("/v1/customers", {"email": "new@example.com"})
    assert response.status_code == 201, response.content
    assert response["ETag"] == etag_of(api, f"/v1/customers/{response.json()['customer']['id']}")


@pytest.mark.django_db
def test_action_answers_the_etag_of_its_object(api):
    stock()
    order = create()
    path = f"/v1/orders/{order.pk}"
    response = api.post(f"{path}/hold", {"reason": "check"}, format="json", HTTP_IF_MATCH=etag_of(api, path))
    assert response.status_code == 200, response.content
    assert response["ETag"] == etag_of(api, path)
    assert fresh(order).status == "on_hold"


@pytest.mark.django_db
def test_stale_etag_on_update_is_412_and_changes_nothing(api):
    customer = make_customer(phone="1")
    path = f"/v1/customers/{customer.pk}"
    stale = etag_of(api, path)
    assert api.patch(path, {"phone": "2"}).status_code == 200
    before = Customer.objects.get(pk=customer.pk)
    for send in (api.patch, api.put):
        assert_error(send(path, {"phone": "3"}, HTTP_IF_MATCH=stale), *PRECONDITION)
        assert_error(send(path, {"phone": "3"}, HTTP_IF_MATCH='"nonsense"'), *PRECONDITION)
    after = Customer.objects.get(pk=customer.pk)
    assert (after.phone, after.updated_at) == ("2", before.updated_at)


@pytest.mark.django_db
def test_stale_etag_on_an_order_update_or_action_is_412_and_changes_nothing(api):
    stock()
    order = create()
    path = f"/v1/orders/{order.pk}"
    stale = etag_of(api, path)
    assert api.patch(path, {"notes": "first"}, format="json").status_code == 200
    before = order_state(order)
    assert_error(api.patch(path, {"notes": "second"}, format="json", HTTP_IF_MATCH=stale), *PRECONDITION)
    assert_error(api.post(f"{path}/hold", {"reason": "x"}, format="json", HTTP_IF_MATCH=stale), *PRECONDITION)
    assert_error(api.post(f"{path}/update", {"notes": "third"}, format="json", HTTP_IF_MATCH=stale), *PRECONDITION)
    assert order_state(order) == before
    assert before[0] == "first"


@pytest.mark.django_db
def test_stale_etag_on_delete_is_412_and_keeps_the_row(api):
    customer = make_customer()
    path = f"/v1/customers/{customer.pk}"
    stale = etag_of(api, path)
    api.patch(path, {"phone": "2"})
    assert_error(api.delete(path, HTTP_IF_MATCH=stale), *PRECONDITION)
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert api.delete(path, HTTP_IF_MATCH=etag_of(api, path)).status_code == 200
    assert not Customer.objects.filter(pk=customer.pk).exists()


@pytest.mark.django_db
def test_if_match_star_passes(api):
    stock()
    customer = make_customer()
    order = create(customer=customer)
    assert api.patch(f"/v1/customers/{customer.pk}", {"phone": "9"}, HTTP_IF_MATCH="*").status_code == 200
    hold = api.post(f"/v1/orders/{order.pk}/hold", {"reason": "x"}, format="json", HTTP_IF_MATCH="*")
    assert hold.status_code == 200, hold.content
    assert Customer.objects.get(pk=customer.pk).phone == "9"
    assert fresh(order).status == "on_hold"


@pytest.mark.django_db
def test_if_match_adds_one_query_and_none_without_it(api):
    """The row lock is the only statement If-Match adds (besides the savepoint the service's own transaction
    becomes inside the view's); without If-Match the PATCH costs what it did before If-Match was checked under
    the lock."""
    customer = make_customer()
    path = f"/v1/customers/{customer.pk}"
    api.patch(path, {"phone": "0"})  # warm-up: the key's last_used_at, content types, permission caches

    def statements(**headers) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            assert api.patch(path, {"phone": str(len(headers))}, **headers).status_code == 200
        return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]

    plain = statements()
    guarded = statements(HTTP_IF_MATCH=etag_of(api, path))
    assert len(plain) == PLAIN_PATCH_QUERIES[connection.vendor], plain
    assert len(guarded) - len(plain) <= 1, guarded
    assert sum("FOR UPDATE" in q for q in guarded) == sum("FOR UPDATE" in q for q in plain) + (
        1 if connection.vendor == "postgresql" else 0
    )


# A customer PATCH without If-Match, measured before If-Match moved under the lock (savepoints left out).
# Issue #17: +1, the INSERT of its customer.updated event.
PLAIN_PATCH_QUERIES = {"sqlite": 5, "postgresql": 5}


# ---- races on PostgreSQL ------------------------------------------------------------------------------------


def _one_winner(responses) -> int:
    statuses = Counter(getattr(r, "status_code", repr(r)) for r in responses)
    assert statuses == {200: 1, 412: len(responses) - 1}, statuses
    for r in responses:
        if r.status_code == 412:
            assert_error(r, *PRECONDITION)
    return next(i for i, r in enumerate(responses) if r.status_code == 200)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_patches_with_one_etag_on_a_customer_have_one_winner():
    customer = make_customer()
    path = f"/v1/customers/{customer.pk}"
    clients = [api_client() for _ in range(10)]
    etag = etag_of(clients[0], path)

    responses = race([partial(c.patch, path, {"phone": f"p{i}"}, HTTP_IF_MATCH=etag) for i, c in enumerate(clients)])

    winner = _one_winner(responses)
    assert Customer.objects.get(pk=customer.pk).phone == f"p{winner}"
    assert responses[winner]["ETag"] == etag_of(clients[0], path)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_patches_with_one_etag_on_an_order_have_one_winner():
    stock()
    order = create()
    path = f"/v1/orders/{order.pk}"
    clients = [api_client() for _ in range(10)]
    etag = etag_of(clients[0], path)
    history = StateLog.objects.for_(order).count()

    responses = race(
        [partial(c.patch, path, {"notes": f"n{i}"}, format="json", HTTP_IF_MATCH=etag) for i, c in enumerate(clients)]
    )

    winner = _one_winner(responses)
    assert fresh(order).notes == f"n{winner}"
    assert StateLog.objects.for_(order).count() == history + 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_action_racing_a_patch_with_one_etag_has_one_winner():
    stock()
    for _ in range(3):
        order = create()
        path = f"/v1/orders/{order.pk}"
        holder, editor = api_client(), api_client()
        etag = etag_of(holder, path)

        hold, patch = race(
            [
                partial(holder.post, f"{path}/hold", {"reason": "race"}, format="json", HTTP_IF_MATCH=etag),
                partial(editor.patch, path, {"notes": "race"}, format="json", HTTP_IF_MATCH=etag),
            ]
        )

        winner = _one_winner([hold, patch])
        final = fresh(order)
        assert (final.status, final.notes) == (("on_hold", "") if winner == 0 else ("pending", "race"))
