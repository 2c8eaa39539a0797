from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction

from stateset.actors import Actor

# Each app's `demo.seed(by=..., progress=...)`, in dependency order. Each one writes through its services
# and skips what is already there, so running the command twice is harmless.
DEMO_MODULES = ["crm.demo", "inventory.demo", "orders.demo", "returns.demo", "manufacturing.demo"]


class Command(BaseCommand):
    help = "Load demo data (customers, stock, orders, returns, production, leads and cases) for `make run`."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="No progress bars.")

    def handle(self, *args, quiet, **options):
        by = Actor.command("seed_demo")
        for module_name in DEMO_MODULES:
            module = import_module(module_name)
            with transaction.atomic():
                summary = module.seed(by=by, progress=not quiet)
            self.stdout.write(f"{module_name.split('.')[0]}: {summary}")
