"""The nightly check_inventory task (run in process, as the worker would run it)."""

import logging

import pytest

from inventory.models import StockLevel
from inventory.tasks import check_inventory
from tests.factories import make_item

pytestmark = pytest.mark.django_db


def test_check_inventory_logs_nothing_wrong_when_the_ledger_explains_every_level(caplog):
    make_item(on_hand=3)
    with caplog.at_level(logging.INFO, logger="inventory.tasks"):
        assert check_inventory.apply().get() == 0
    assert [r.levelname for r in caplog.records if r.name == "inventory.tasks"] == ["INFO"]


def test_check_inventory_logs_each_mismatch_and_changes_nothing(caplog):
    item = make_item("DRIFT", on_hand=3)
    make_item("FINE", on_hand=1)
    StockLevel.objects.filter(item=item).update(on_hand=9)  # changed behind the ledger's back
    before = list(StockLevel.objects.order_by("pk").values_list("on_hand", "allocated"))
    with caplog.at_level(logging.INFO, logger="inventory.tasks"):
        assert check_inventory.apply().get() == 1
        assert check_inventory.apply().get() == 1  # idempotent: the same answer, nothing written
    errors = [r.getMessage() for r in caplog.records if r.name == "inventory.tasks" and r.levelname == "ERROR"]
    assert (
        errors == ["check_inventory: MISMATCH DRIFT at MAIN: on_hand 9, ledger 3; allocated 0, open allocations 0"] * 2
    )
    assert list(StockLevel.objects.order_by("pk").values_list("on_hand", "allocated")) == before
