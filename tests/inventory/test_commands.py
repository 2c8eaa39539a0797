"""The operators' door: check_inventory and import_inventory (and the demo data), with their exit codes."""

from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db.models import F

from inventory import selectors
from inventory import services as inv
from inventory.models import InventoryItem, Location, PurchaseOrder, StockLevel, StockMovement
from tests.factories import SYSTEM, level, make_item, make_location
from tests.inventory.support import stock_snapshot

pytestmark = pytest.mark.django_db


def exit_code(*argv) -> int:
    """Run `manage.py <argv>` in this process and return its exit status (the connection stays open)."""
    with mock.patch("django.db.connections.close_all"):
        try:
            execute_from_command_line(["manage.py", *argv])
        except SystemExit as exc:
            return exc.code
    return 0


# ---- check_inventory ---------------------------------------------------------------------------------------


def test_check_inventory_is_clean_and_exits_0(capsys):
    make_item(on_hand=3)
    make_item(on_hand=4, location=make_location())
    assert exit_code("check_inventory") == 0
    assert capsys.readouterr().out.strip() == "OK: 2 levels checked"


def test_check_inventory_prints_each_mismatch_and_exits_1(capsys):
    item = make_item("DRIFT", on_hand=3)
    make_item("FINE", on_hand=1)
    StockLevel.objects.filter(item=item).update(on_hand=9)  # changed behind the ledger's back
    assert exit_code("check_inventory") == 1
    out, err = capsys.readouterr()
    assert out.strip() == "MISMATCH DRIFT at MAIN: on_hand 9, ledger 3; allocated 0, open allocations 0"
    assert "1 stock level(s) do not match the ledger" in err
    with pytest.raises(CommandError):
        call_command("check_inventory", stdout=StringIO())


# ---- import_inventory --------------------------------------------------------------------------------------


def write(tmp_path, text: str):
    path = tmp_path / "stock.csv"
    path.write_text(text)
    return path


def run_import(path, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_inventory", str(path), "--no-progress", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_sets_on_hand_creates_what_is_missing_and_is_idempotent(tmp_path):
    existing = make_item("EXISTING", on_hand=10, description="kept")
    path = write(
        tmp_path,
        "sku,description,location,quantity\nEXISTING,ignored,MAIN,7\nNEW-1,A new thing,WEST,5\nNEW-1,,,2\n",
    )
    out, _ = run_import(path)
    assert "Imported 3 row(s): 1 item(s) and 1 location(s) created, 3 adjustment(s) (+4 units)." in out
    west = Location.objects.get(code="WEST")
    new = InventoryItem.objects.get(sku="NEW-1")
    assert (level(existing), level(new, west), level(new)) == ((7, 0, 0), (5, 0, 0), (2, 0, 0))
    assert (new.description, InventoryItem.objects.get(pk=existing.pk).description) == ("A new thing", "kept")
    movement = StockMovement.objects.filter(item=existing).latest("pk")
    assert (movement.reason, movement.reason_text, movement.quantity, movement.actor) == (
        "adjustment",
        "import",
        -3,
        "command import_inventory",
    )
    assert movement.note == "import_inventory stock.csv line 2"
    before = stock_snapshot()
    out, _ = run_import(path)
    assert "0 adjustment(s) (+0 units)" in out
    assert stock_snapshot() == before
    assert selectors.ledger_mismatches() == []


def test_import_dry_run_changes_nothing(tmp_path):
    make_item("A", on_hand=1)
    path = write(tmp_path, "sku,description,location,quantity\nA,,MAIN,4\nB,Bee,EAST,2\n")
    before, items = stock_snapshot(), InventoryItem.objects.count()
    out, _ = run_import(path, "--dry-run")
    assert out.startswith("Dry run, nothing changed: would import 2 row(s): 1 item(s) and 1 location(s) created")
    assert (stock_snapshot(), InventoryItem.objects.count()) == (before, items)
    assert not Location.objects.filter(code="EAST").exists()


def test_import_is_all_or_nothing_with_a_report_by_line(tmp_path):
    make_item("A", on_hand=1)
    path = write(
        tmp_path,
        "sku,description,location,quantity\n"
        "A,,MAIN,4\n"  # fine on its own
        "B,,MAIN,two\n"
        ",,MAIN,1\n"
        "C,,MAIN,-1\n"
        "A,,MAIN,5\n",
    )
    before, items = stock_snapshot(), InventoryItem.objects.count()
    with pytest.raises(CommandError, match="4 bad row"):
        run_import(path)
    assert (stock_snapshot(), InventoryItem.objects.count()) == (before, items)
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_inventory", str(path), "--no-progress", stdout=StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        "line 3: B: quantity 'two' is not a whole number",
        "line 4: sku is empty",
        "line 5: C: quantity -1 is not between 0 and 1000000",
        "line 6: A at MAIN is already on line 2",
    ]


def test_import_refuses_a_level_below_what_is_allocated_and_rolls_back_earlier_rows(tmp_path):
    held = make_item("HELD", on_hand=5)
    inv.stock_allocate(
        requests=[inv.StockRequest(held, inv.default_location(), 4, inv.LineRef("order", 1, 1))], by=SYSTEM
    )
    path = write(tmp_path, "sku,description,location,quantity\nNEW,,MAIN,3\nHELD,,MAIN,2\n")
    before = stock_snapshot()
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_inventory", str(path), "--no-progress", stdout=StringIO(), stderr=err)
    assert err.getvalue().startswith("line 3: HELD at MAIN: Insufficient stock")
    assert stock_snapshot() == before
    assert not InventoryItem.objects.filter(sku="NEW").exists()  # the good first row went too


def test_import_exit_codes_and_bad_files(tmp_path):
    good = write(tmp_path, "sku,quantity\nX,1\n")
    assert exit_code("import_inventory", str(good), "--no-progress") == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,quantity\nX,oops\n")
    assert exit_code("import_inventory", str(bad), "--no-progress") == 1
    no_column = tmp_path / "cols.csv"
    no_column.write_text("sku,qty\nX,1\n")
    with pytest.raises(CommandError, match="lacks the column"):
        run_import(no_column)
    with pytest.raises(CommandError, match="Cannot read"):
        run_import(tmp_path / "missing.csv")


def test_import_checks_the_apis_bounds_before_writing_anything(tmp_path):
    path = write(
        tmp_path,
        "sku,description,location,quantity\n"
        "OK,,MAIN,3\n"
        f"{'S' * 101},,MAIN,1\n"
        f"LONGLOC,,{'L' * 51},1\n"
        f"LONGDESC,{'d' * 501},MAIN,1\n"
        "HUGE,,MAIN,99999999999999999999\n"
        "BIG,,MAIN,1000001\n",
    )
    before, items = stock_snapshot(), InventoryItem.objects.count()
    err = StringIO()
    with pytest.raises(CommandError, match="5 bad row"):
        call_command("import_inventory", str(path), "--no-progress", stdout=StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        f"line 3: {'S' * 100}: sku is longer than 100 characters",
        "line 4: LONGLOC: location is longer than 50 characters",
        "line 5: LONGDESC: description is longer than 500 characters",
        "line 6: HUGE: quantity 99999999999999999999 is not between 0 and 1000000",
        "line 7: BIG: quantity 1000001 is not between 0 and 1000000",
    ]
    assert (stock_snapshot(), InventoryItem.objects.count()) == (before, items)


def test_import_of_a_file_that_is_not_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("sku,description,quantity\nCAF,Café crème,2\n".encode("latin-1"))
    with pytest.raises(CommandError, match="is not UTF-8 text"):
        run_import(path)
    assert not InventoryItem.objects.filter(sku="CAF").exists()


# ---- the demo ----------------------------------------------------------------------------------------------


def test_inventory_demo_seeds_once_with_low_stock_and_a_purchase_order_in_progress():
    from inventory import demo

    by = SYSTEM
    summary = demo.seed(by=by, progress=False)
    assert "12 items" in summary
    assert demo.seed(by=by, progress=False) == "demo stock already present"
    skus = set(InventoryItem.objects.values_list("sku", flat=True))
    assert {"WIDGET-RED", "WIDGET-BLUE", "GADGET", "BOLT-M4", "PANEL", "MOTOR", "FRAME"} <= skus
    low = selectors.item_list().filter(available_total__lte=F("reorder_point"))
    assert {"MOTOR", "PANEL", "GIZMO", "SCREW-M3"} <= set(low.values_list("sku", flat=True))
    po = PurchaseOrder.objects.get()
    assert po.status == "partially_received"
    assert level(InventoryItem.objects.get(sku="MOTOR")) == (12, 0, 10)
    assert selectors.ledger_mismatches() == []
