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
        self.stdout.write(f"webhooks: {demo_webhook(by=by)}")


DEMO_WEBHOOK = "demo endpoint: points at nothing, so the admin shows its failing deliveries"


def demo_webhook(*, by: Actor) -> str:
    """A webhook endpoint at a closed local port, subscribed after the bulk of the demo data (it receives the
    events written from its creation on), then a few changes for it to fail to deliver: a handful of
    deliveries, retried on the schedule, in the admin under Webhook deliveries."""
    from django.conf import settings

    from crm import services as crm
    from crm.models import Customer
    from stateset import webhooks
    from stateset.models import WebhookEndpoint

    if WebhookEndpoint.objects.filter(description=DEMO_WEBHOOK).exists():
        return "the demo endpoint is there already"
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        return "no demo endpoint (it points at a local port: set WEBHOOK_ALLOW_PRIVATE=1)"
    webhooks.webhook_endpoint_create(
        url="http://127.0.0.1:9/webhooks", enabled_events=["customer.*", "order.*"], description=DEMO_WEBHOOK, by=by
    )
    for customer in Customer.objects.order_by("pk")[:3]:
        crm.customer_update(customer=customer, by=by, phone=customer.phone or "555-0100")
    return "1 endpoint (http://127.0.0.1:9/webhooks), 3 customer changes queued for it"
