"""`python manage.py check_inventory`: does the ledger explain every quantity? (contract §2)"""

from django.core.management.base import BaseCommand, CommandError

from inventory import selectors
from inventory.models import StockLevel


class Command(BaseCommand):
    help = (
        "Check every stock level: on hand must equal the sum of its ledger movements, and allocated the sum of "
        "its open allocations. Prints each mismatch and exits 1 if there is any; prints 'OK: N levels checked'."
    )

    def handle(self, *args, **options):
        mismatches = selectors.ledger_mismatches()
        for m in mismatches:
            self.stdout.write(
                f"MISMATCH {m['sku']} at {m['location']}: on_hand {m['on_hand']}, ledger {m['ledger']}; "
                f"allocated {m['allocated']}, open allocations {m['open_allocations']}"
            )
        if mismatches:
            raise CommandError(f"{len(mismatches)} stock level(s) do not match the ledger.")
        self.stdout.write(f"OK: {StockLevel.objects.count()} levels checked")
