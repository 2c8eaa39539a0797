"""`python manage.py import_inventory FILE.csv [--dry-run]`: load a stock sheet (sku, description, location,
quantity), all or nothing.

The quantity of a row is the on hand counted at that location: the import *sets* on hand to it, with one
ledger `adjustment` movement of the difference (none when it already matches). Running the same file twice
therefore changes nothing the second time. Missing items (with the row's description) and locations are
created. Every row is checked first; any bad row — a missing SKU, a quantity that is not a whole number
from 0 to 1,000,000 (the API's bound), a SKU, location or description too long for its column, a (sku,
location) repeated, a level that would fall below what is allocated — is reported with its line
number, nothing is imported, and the command exits 1. `--dry-run` runs the whole import and rolls it back.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from inventory import services
from inventory.models import InventoryItem, Location, StockLevel
from stateset.actors import Actor
from stateset.errors import DomainError
from stateset.limits import MAX_QUANTITY

REQUIRED = ("sku", "quantity")
# The bounds the API enforces (a quantity per request; the columns' lengths), checked before any write.
SKU_LENGTH = InventoryItem._meta.get_field("sku").max_length
CODE_LENGTH = Location._meta.get_field("code").max_length
DESCRIPTION_LENGTH = InventoryItem._meta.get_field("description").max_length
OPTIONAL = ("description", "location")


@dataclass
class Row:
    line: int
    sku: str
    description: str
    location: str
    quantity: int


class DryRunDone(Exception):
    """Raised at the end of a dry run to roll the transaction back."""


class Command(BaseCommand):
    help = (
        "Import stock from a CSV with columns sku, description, location, quantity (a header row). Each row "
        "sets on hand at its location (default MAIN) by one adjustment movement; missing items and locations "
        "are created. All or nothing: any bad row is reported by line number, nothing is imported, exit 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The CSV file.")
        parser.add_argument("--dry-run", action="store_true", help="Check and report; change nothing.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, file: Path, dry_run: bool, no_progress: bool, **options):
        rows, errors = self.parse(file)
        if not errors:
            try:
                with transaction.atomic():
                    summary, errors = self.apply(rows, file, progress=not no_progress)
                    if errors or dry_run:
                        raise DryRunDone
            except DryRunDone:
                pass
        if errors:
            for line, message in errors:
                self.stderr.write(f"line {line}: {message}")
            raise CommandError(f"{len(errors)} bad row(s) in {file}; nothing was imported.")
        prefix = "Dry run, nothing changed: would import" if dry_run else "Imported"
        self.stdout.write(
            f"{prefix} {len(rows)} row(s): {summary['items']} item(s) and {summary['locations']} location(s) "
            f"created, {summary['adjustments']} adjustment(s) ({summary['units']:+d} units)."
        )

    # ---- reading ---------------------------------------------------------------------------------------

    def parse(self, file: Path) -> tuple[list[Row], list[tuple[int, str]]]:
        try:
            handle = file.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.")
        try:
            with handle:
                return self._read(file, handle)
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV.")

    def _read(self, file: Path, handle) -> tuple[list[Row], list[tuple[int, str]]]:
        reader = csv.DictReader(handle)
        columns = [c.strip().lower() for c in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise CommandError(
                f"{file} lacks the column(s) {', '.join(missing)} (header: sku, description, location, quantity)."
            )
        unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
        if unknown:
            raise CommandError(f"{file} has unknown column(s) {', '.join(unknown)}.")
        reader.fieldnames = columns
        rows, errors, seen = [], [], {}
        for raw in reader:
            line = reader.line_num
            if not any((v or "").strip() for v in raw.values() if isinstance(v, str)):
                continue  # a blank line
            sku = (raw.get("sku") or "").strip()
            location = (raw.get("location") or "").strip() or "MAIN"
            text = (raw.get("quantity") or "").strip()
            if not sku:
                errors.append((line, "sku is empty"))
                continue
            try:
                quantity = int(text)
            except ValueError:
                errors.append((line, f"{sku}: quantity '{text}' is not a whole number"))
                continue
            if not 0 <= quantity <= MAX_QUANTITY:
                errors.append((line, f"{sku}: quantity {quantity} is not between 0 and {MAX_QUANTITY}"))
                continue
            description = (raw.get("description") or "").strip()
            too_long = [
                f"{name} is longer than {limit} characters"
                for name, value, limit in (
                    ("sku", sku, SKU_LENGTH),
                    ("location", location, CODE_LENGTH),
                    ("description", description, DESCRIPTION_LENGTH),
                )
                if len(value) > limit
            ]
            if too_long:
                errors.append((line, f"{sku[:SKU_LENGTH]}: {', '.join(too_long)}"))
                continue
            if (sku, location) in seen:
                errors.append((line, f"{sku} at {location} is already on line {seen[(sku, location)]}"))
                continue
            seen[(sku, location)] = line
            rows.append(Row(line, sku, description, location, quantity))
        return rows, errors

    # ---- writing ---------------------------------------------------------------------------------------

    def apply(self, rows: list[Row], file: Path, *, progress: bool) -> tuple[dict, list[tuple[int, str]]]:
        by = Actor.command("import_inventory")
        summary = {"items": 0, "locations": 0, "adjustments": 0, "units": 0}
        errors: list[tuple[int, str]] = []
        items = {i.sku: i for i in InventoryItem.objects.filter(sku__in={r.sku for r in rows})}
        locations = {loc.code: loc for loc in Location.objects.filter(code__in={r.location for r in rows})}
        for row in tqdm(rows, desc="import_inventory", unit="row", disable=not progress):
            try:
                if row.location not in locations:
                    locations[row.location] = services.location_create(by=by, code=row.location)
                    summary["locations"] += 1
                if row.sku not in items:
                    items[row.sku] = services.item_create(by=by, sku=row.sku, description=row.description)
                    summary["items"] += 1
                item, location = items[row.sku], locations[row.location]
                current = StockLevel.objects.filter(item=item, location=location).values_list("on_hand", flat=True)
                delta = row.quantity - (current.first() or 0)
                if delta:
                    services.stock_adjust(
                        inventory_item=item,
                        location=location,
                        quantity=delta,
                        reason="import",
                        note=f"import_inventory {file.name} line {row.line}",
                        by=by,
                    )
                    summary["adjustments"] += 1
                    summary["units"] += delta
            except DomainError as exc:
                errors.append((row.line, f"{row.sku} at {row.location}: {exc.message}"))
        return summary, errors
