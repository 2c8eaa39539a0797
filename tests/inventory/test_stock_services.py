"""The stock services: every change through the ledger, all or nothing, never negative or over-allocated."""

from functools import partial

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from inventory import selectors
from inventory import services as inv
from inventory.errors import InsufficientStock
from inventory.models import Allocation, StockLevel, StockMovement
from stateset.actors import Actor
from stateset.errors import DomainError, PermissionDenied
from tests.factories import SYSTEM, level, make_item, make_location, make_user
from tests.helpers import only_refused, race

pytestmark = pytest.mark.django_db


def line(n, doc=1, kind="order"):
    return inv.LineRef(kind, doc, n)


def test_adjust_writes_one_movement_and_refuses_below_zero():
    item = make_item(on_hand=5)
    movement = inv.stock_adjust(inventory_item=item, quantity=-2, reason="damaged", note="dropped", by=SYSTEM)
    assert (movement.reason, movement.reason_text, movement.quantity, movement.on_hand_after) == (
        "adjustment",
        "damaged",
        -2,
        3,
    )
    assert level(item) == (3, 0, 0)
    with pytest.raises(InsufficientStock) as err:
        inv.stock_adjust(inventory_item=item, quantity=-4, by=SYSTEM)
    assert item.sku in err.value.errors
    assert level(item) == (3, 0, 0)
    assert StockMovement.objects.filter(item=item).count() == 2  # the seed receipt and the one adjustment
    assert selectors.ledger_mismatches() == []


def test_adjust_cannot_go_below_allocated():
    item = make_item(on_hand=5)
    inv.stock_allocate(requests=[inv.StockRequest(item, inv.default_location(), 4, line(1))], by=SYSTEM)
    with pytest.raises(InsufficientStock):
        inv.stock_adjust(inventory_item=item, quantity=-2, by=SYSTEM)
    assert level(item) == (5, 4, 0)


def test_adjust_needs_the_named_permission():
    item = make_item(on_hand=5)
    clerk = Actor(user=make_user("inventory.change_inventoryitem"), channel="api")
    with pytest.raises(PermissionDenied, match="adjust_inventoryitem"):
        inv.stock_adjust(inventory_item=item, quantity=1, by=clerk)
    assert level(item) == (5, 0, 0)


def test_allocate_is_all_or_nothing_and_names_every_short_line():
    main = inv.default_location()
    a, b, c = make_item("A", on_hand=5), make_item("B", on_hand=1), make_item("C", on_hand=0)
    requests = [
        inv.StockRequest(a, main, 5, line(1)),
        inv.StockRequest(b, main, 2, line(2)),
        inv.StockRequest(c, main, 1, line(3)),
    ]
    with pytest.raises(InsufficientStock) as err:
        inv.stock_allocate(requests=requests, by=SYSTEM)
    assert set(err.value.errors) == {"B", "C"}
    assert "B at MAIN (requested 2, available 1)" in err.value.message
    assert [level(x) for x in (a, b, c)] == [(5, 0, 0), (1, 0, 0), (0, 0, 0)]
    assert Allocation.objects.count() == 0


def test_two_lines_of_one_sku_are_checked_together():
    main = inv.default_location()
    item = make_item(on_hand=3)
    with pytest.raises(InsufficientStock):
        inv.stock_allocate(
            requests=[inv.StockRequest(item, main, 2, line(1)), inv.StockRequest(item, main, 2, line(2))], by=SYSTEM
        )
    inv.stock_allocate(
        requests=[inv.StockRequest(item, main, 2, line(1)), inv.StockRequest(item, main, 1, line(2))], by=SYSTEM
    )
    assert level(item) == (3, 3, 0)


def test_release_partial_and_full():
    main = inv.default_location()
    item = make_item(on_hand=10)
    inv.stock_allocate(requests=[inv.StockRequest(item, main, 6, line(1))], by=SYSTEM)
    assert inv.stock_release(lines=[line(1)], quantity=2, by=SYSTEM) == 2
    assert level(item) == (10, 4, 0)
    assert inv.stock_release(lines=[line(1)], by=SYSTEM) == 4
    assert level(item) == (10, 0, 0)
    assert Allocation.objects.get().status == "released"
    assert selectors.ledger_mismatches() == []


def test_consume_ships_what_was_allocated():
    main = inv.default_location()
    a, b = make_item(on_hand=10), make_item(on_hand=10)
    inv.stock_allocate(
        requests=[inv.StockRequest(a, main, 3, line(1)), inv.StockRequest(b, main, 4, line(2))], by=SYSTEM
    )
    movements = inv.stock_consume(lines=[line(1), line(2)], source=inv.Source("order", 1, "ORD-000001"), by=SYSTEM)
    assert sorted(m.quantity for m in movements) == [-4, -3]
    assert {m.reason for m in movements} == {"shipment"}
    assert (level(a), level(b)) == ((7, 0, 0), (6, 0, 0))
    assert set(Allocation.objects.values_list("status", flat=True)) == {"consumed"}
    assert selectors.ledger_mismatches() == []


def test_transfer_moves_available_stock_only():
    main, east = inv.default_location(), make_location("EAST")
    item = make_item(on_hand=5)
    inv.stock_allocate(requests=[inv.StockRequest(item, main, 3, line(1))], by=SYSTEM)
    with pytest.raises(InsufficientStock):
        inv.stock_transfer(inventory_item=item, from_location=main, to_location=east, quantity=3, by=SYSTEM)
    inv.stock_transfer(inventory_item=item, from_location=main, to_location=east, quantity=2, by=SYSTEM)
    assert (level(item), level(item, east)) == ((3, 3, 0), (2, 0, 0))
    assert selectors.ledger_mismatches() == []


def test_receive_from_incoming():
    main = inv.default_location()
    item = make_item()
    inv.stock_incoming(inventory_item=item, location=main, delta=10, by=SYSTEM)
    inv.stock_receive(
        inventory_item=item,
        location=main,
        quantity=4,
        from_incoming=True,
        source=inv.Source("purchase_order", 1, "PO-000001"),
        by=SYSTEM,
    )
    assert level(item) == (4, 0, 6)
    with pytest.raises(DomainError, match="incoming"):
        inv.stock_incoming(inventory_item=item, location=main, delta=-7, by=SYSTEM)
    assert level(item) == (4, 0, 6)


def test_allocation_transfer_moves_holdings_between_lines():
    main = inv.default_location()
    item = make_item(on_hand=10)
    inv.stock_allocate(requests=[inv.StockRequest(item, main, 6, line(1, doc=1))], by=SYSTEM)
    inv.allocation_transfer(from_line=line(1, doc=1), to_line=line(9, doc=2), quantity=4, by=SYSTEM)
    held = {a.line_id: a.quantity for a in Allocation.objects.filter(status="open")}
    assert held == {1: 2, 9: 4}
    assert level(item) == (10, 6, 0)
    assert selectors.ledger_mismatches() == []


def test_the_ledger_is_append_only():
    item = make_item(on_hand=1)
    movement = StockMovement.objects.get(item=item)
    with pytest.raises(TypeError):
        movement.save()
    with pytest.raises(TypeError):
        movement.delete()
    with pytest.raises(TypeError):
        StockMovement.objects.filter(pk=movement.pk).update(quantity=5)
    with pytest.raises(TypeError):
        StockMovement.objects.all().delete()
    # and the database itself refuses an UPDATE that bypasses the ORM
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE inventory_stockmovement SET quantity = 5 WHERE id = %s", [movement.pk])
    assert StockMovement.objects.get(pk=movement.pk).quantity == 1


def test_check_constraints_guard_levels_whatever_the_code_does():
    item = make_item(on_hand=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(item=item).update(allocated=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(item=item).update(incoming=-1)


def test_ledger_mismatches_find_a_level_changed_behind_the_ledger():
    item = make_item(on_hand=2)
    StockLevel.objects.filter(item=item).update(on_hand=7)
    assert selectors.ledger_mismatches() == [
        {"sku": item.sku, "location": "MAIN", "on_hand": 7, "ledger": 2, "allocated": 0, "open_allocations": 0}
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_threads_allocating_and_adjusting_one_level_never_break_it():
    """20 threads race on one level: 10 allocate 3 each, 10 adjust it down by 2 each, from 20 on hand.

    The guard this catches missing: `_lock_levels`' SELECT ... FOR UPDATE. Without it, each thread checks
    `available` on a stale read and both an allocation and an adjustment can pass the check against the
    same units; the level then ends over-allocated (the CHECK constraint would turn that into errors, and
    without the constraint it would silently go wrong).
    """
    item = make_item(on_hand=20)
    main = inv.default_location()

    def allocate(n):
        inv.stock_allocate(requests=[inv.StockRequest(item, main, 3, line(n))], by=SYSTEM)
        return "allocated"

    def adjust(n):
        inv.stock_adjust(inventory_item=item, quantity=-2, by=SYSTEM)
        return "adjusted"

    results = only_refused(race([partial(allocate if n % 2 else adjust, n) for n in range(20)]), InsufficientStock)
    outcomes = ["short" if isinstance(result, InsufficientStock) else result for result in results]
    on_hand, allocated, _ = level(item)
    assert 0 <= allocated <= on_hand
    assert allocated == 3 * outcomes.count("allocated")
    assert on_hand == 20 - 2 * outcomes.count("adjusted")
    assert len(outcomes) == 20 and outcomes.count("short") > 0  # 20 units cannot satisfy 50 asked for
    assert selectors.ledger_mismatches() == []
