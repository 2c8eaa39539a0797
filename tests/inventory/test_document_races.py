"""Exactly once under real concurrency (PostgreSQL): racing arrivals of one packing list item, racing
reconciles of one cycle count, racing receipts against one purchase order line."""

import pytest

from inventory import selectors
from inventory.models import StockMovement
from inventory.services import counting, purchasing
from stateset.errors import DomainError
from tests.factories import SYSTEM, level, make_cycle_count, make_item, make_packing_list, make_purchase_order
from tests.helpers import only_refused, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race_outcomes(n, work):
    """Run `work()` in `n` threads released together; each outcome ('ok' or the DomainError's code), sorted.
    Any other exception fails the test."""
    results = only_refused(race([work] * n), DomainError)
    return sorted(result.code if isinstance(result, DomainError) else "ok" for result in results)


def test_ten_racing_arrivals_of_one_item_book_it_once():
    """The guard this catches missing: the packing list row lock taken before the item's `arrived` is read.
    Without it, several threads read arrived=false and each books the receipt."""
    item = make_item()
    pl = make_packing_list([(item, 5)], submit=True)
    row = pl.items.get()
    outcomes = race_outcomes(10, lambda: purchasing.packing_list_item_arrive(packing_list_item=row, by=SYSTEM))
    assert outcomes.count("ok") == 1
    assert set(outcomes) - {"ok"} <= {"already_arrived", "invalid_state_transition"}
    assert level(item) == (5, 0, 0)
    assert StockMovement.objects.filter(source_type="packing_list").count() == 1
    assert selectors.ledger_mismatches() == []


def test_five_racing_reconciles_post_once():
    """The guard: the cycle count row lock, then the counted → reconciled transition checked under it."""
    item = make_item(on_hand=10)
    cc = make_cycle_count([item], start=True)
    counting.cycle_count_count(cycle_count=cc, lines=[{"sku": item.sku, "quantity_counted": 7}], by=SYSTEM)
    counting.cycle_count_complete(cycle_count=cc, by=SYSTEM)
    outcomes = race_outcomes(5, lambda: counting.cycle_count_reconcile(cycle_count=cc, by=SYSTEM))
    assert outcomes == ["invalid_state_transition"] * 4 + ["ok"]
    assert level(item) == (7, 0, 0)
    assert StockMovement.objects.filter(reason="cycle_count").count() == 1


def test_racing_receipts_never_over_receive():
    """Eight threads each receive 3 of a line of 10: at most three succeed; the rest are over_receipt. The
    guard: the purchase order row lock before the line's outstanding quantity is read (and the CHECK
    quantity_received <= quantity_ordered behind it)."""
    item = make_item()
    po = make_purchase_order([(item, 10)], status="ordered")
    outcomes = race_outcomes(
        8,
        lambda: purchasing.purchase_order_receive(
            purchase_order=po, lines=[{"sku": item.sku, "quantity": 3}], by=SYSTEM
        ),
    )
    assert outcomes.count("ok") == 3
    assert set(outcomes) - {"ok"} <= {"over_receipt"}
    assert level(item) == (9, 0, 1)
    assert po.lines.get().quantity_received == 9
    assert selectors.ledger_mismatches() == []
