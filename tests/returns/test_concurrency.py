"""Real threads racing on PostgreSQL (row locks): two returns for the last returnable unit have exactly one
winner whichever path they take, and two receives restock exactly once. Each thread has its own connection
and closes it; the losers get 409 or 422, never a 5xx, and leave nothing half-done."""

from collections import Counter
from functools import partial

import pytest

from inventory.models import StockMovement
from inventory.selectors import ledger_mismatches
from returns.models import Return, ReturnLineItem
from tests.factories import api_client, level, make_item, make_order
from tests.helpers import race
from tests.returns.support import assert_consistent, fresh, lines_of, make_return

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_returns_for_the_last_unit_have_exactly_one_winner():
    make_item("A", on_hand=20)
    for _ in range(3):
        order = make_order(("A", 3, "10.00"), status="delivered")
        (line,) = lines_of(order)
        make_return(order, {line: 2})  # one unit left
        by_api, by_action = api_client(), api_client()
        responses = race(
            [
                partial(
                    by_api.post,
                    "/v1/returns",
                    {"order_id": order.pk, "return_line_items": [{"order_line_item": line.pk, "quantity": 1}]},
                    format="json",
                ),
                partial(
                    by_action.post,
                    f"/v1/orders/{order.pk}/return",
                    {"items": [{"order_item_id": line.pk, "quantity": 1}]},
                    format="json",
                ),
            ]
        )
        statuses = sorted(getattr(r, "status_code", repr(r)) for r in responses)
        assert statuses in ([200, 422], [201, 422]), [getattr(r, "content", r) for r in responses]
        loser = next(r for r in responses if r.status_code == 422)
        assert loser.json()["code"] in ("return_exceeds_shipped", "invalid_state_transition")
        assert (fresh(line).quantity_returned, fresh(order).status) == (3, "returned")
        assert Return.objects.filter(order=order).count() == 2
        assert sum(ReturnLineItem.objects.filter(order_line_item=line).values_list("quantity", flat=True)) == 3
    assert_consistent()


def test_two_receives_restock_exactly_once():
    item = make_item("R", on_hand=20)
    for _ in range(3):
        ret = make_return(make_order(("R", 2, "10.00"), status="delivered"), status="approved")
        before = level(item)
        first, second = api_client(), api_client()
        responses = race([partial(c.post, f"/v1/returns/{ret.pk}/receive") for c in (first, second)])
        statuses = Counter(getattr(r, "status_code", repr(r)) for r in responses)
        assert statuses[200] == 1 and statuses[409] + statuses[422] == 1, statuses
        assert level(item) == (before[0] + 2, 0, 0)
        assert StockMovement.objects.filter(reason="return_restock", source_id=ret.pk).count() == 1
    assert ledger_mismatches() == []
