"""On PostgreSQL, with real threads: work orders racing for the last components never over-allocate."""

import pytest

from inventory.errors import InsufficientStock
from inventory.models import InventoryItem
from inventory.selectors import ledger_mismatches
from manufacturing import services as mfg
from manufacturing.models import ManufactureOrder, WorkOrder
from tests.factories import SYSTEM, level, make_bom, make_item, make_work_order
from tests.helpers import only_refused, race


def race_outcomes(functions):
    """Run the functions in threads released together; each outcome ('ok', or 'short' for InsufficientStock),
    sorted. Any other exception fails the test."""
    results = only_refused(race(functions), InsufficientStock)
    return sorted("short" if isinstance(result, InsufficientStock) else "ok" for result in results)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_work_orders_releasing_the_last_components_never_over_allocate():
    """Stock for exactly one of the two: one release wins, the other is a clean 422 and stays planned.

    The guard this catches missing: the stock level row lock taken by stock_allocate (each work order locks
    only its own row, so without it both would see 5 available and both allocate)."""
    make_item("GEAR", on_hand=5)
    make_item("SHAFT", on_hand=100)
    make_item("GEARBOX")
    bom = make_bom("GEARBOX", [("GEAR", 1), ("SHAFT", 2)])
    first, second = make_work_order(bom, 5), make_work_order(bom, 5)
    outcomes = race_outcomes([lambda wo=wo: mfg.work_order_release(work_order=wo, by=SYSTEM) for wo in (first, second)])
    assert outcomes == ["ok", "short"]
    statuses = sorted(WorkOrder.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True))
    assert statuses == ["planned", "released"]
    assert level(InventoryItem.objects.get(sku="GEAR")) == (5, 5, 0)
    assert level(InventoryItem.objects.get(sku="SHAFT")) == (100, 10, 0)
    assert ledger_mismatches() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_manufacture_order_cancel_racing_its_work_order_start_leaves_a_consistent_state():
    """The order is locked before its work orders by every service, so these two never deadlock: either the
    work order started first (and is left running) or it was cancelled first (and start is refused)."""
    make_item("GEAR", on_hand=10)
    make_item("GEARBOX")
    bom = make_bom("GEARBOX", [("GEAR", 1)])
    mo = mfg.manufacture_order_create(
        by=SYSTEM, manufacture_order_line_items=[{"bom_number": bom.number, "quantity": 2}]
    )
    mfg.manufacture_order_submit(manufacture_order=mo, by=SYSTEM)
    wo = WorkOrder.objects.get(manufacture_order=mo)
    mfg.work_order_release(work_order=wo, by=SYSTEM)
    errors = []

    def start():
        try:
            mfg.work_order_start(work_order=wo, by=SYSTEM)
        except Exception as exc:  # the loser's refusal, checked below
            errors.append(type(exc).__name__)
            raise InsufficientStock([]) from exc

    outcomes = race_outcomes([start, lambda: mfg.manufacture_order_cancel(manufacture_order=mo, by=SYSTEM)])
    assert ManufactureOrder.objects.get(pk=mo.pk).status == "cancelled"
    wo.refresh_from_db()
    gear = InventoryItem.objects.get(sku="GEAR")
    if wo.status == "in_progress":
        assert (outcomes, level(gear)[:2]) == (["ok", "ok"], (8, 0))
    else:
        assert (wo.status, outcomes, errors, level(gear)[:2]) == (
            "cancelled",
            ["ok", "short"],
            ["InvalidStateTransition"],
            (10, 0),
        )
    assert ledger_mismatches() == []
