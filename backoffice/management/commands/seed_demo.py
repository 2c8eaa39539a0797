from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction

from stateset.actors import Actor

# Each app's `demo.seed(by=..., progress=...)`, in dependency order. Each one writes through its services
# and skips what is already there, so running the command twice is harmless.
# Last, the history: the demo's orders spread over 90 days, and more of them, for the dashboard's charts.
HISTORY = "backoffice.demo_history"
DEMO_MODULES = ["crm.demo", "inventory.demo", "orders.demo", "returns.demo", "manufacturing.demo", HISTORY]


class Command(BaseCommand):
    help = "Load demo data (customers, stock, orders, returns, production, leads and cases) for `make run`."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="No progress bars.")
        parser.add_argument(
            "--no-history",
            action="store_true",
            help="Skip the 90 days of order history (backoffice.demo_history) the dashboard's charts show.",
        )

    def handle(self, *args, quiet, no_history=False, **options):
        by = Actor.command("seed_demo")
        modules = DEMO_MODULES if not no_history else [m for m in DEMO_MODULES if m != HISTORY]
        for module_name in modules:
            module = import_module(module_name)
            with transaction.atomic():
                summary = module.seed(by=by, progress=not quiet)
            self.stdout.write(f"{module_name.split('.')[0]}: {summary}")
