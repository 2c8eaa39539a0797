"""What the events outbox costs W1, and how fast one worker delivers (issue #17). In process, on the database
of DATABASE_URL (migrated), in one run:

1. W1 through the services (N orders of 3 lines, then ship each) with events off (the hook removed, `emit`
   a no-op), then on: orders/s created and shipped, and the events per second written with them.
2. One worker's delivery rate: the events of step 2 delivered to a local receiver (127.0.0.1:8714, answers
   200 at once) by `stateset.webhooks.attempt` called one after the other, as one solo worker runs them
   (without the broker's round trip).

    DATABASE_URL=postgres://... PYTHONPATH=. python bench/events_rate.py --n 200
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stateset.settings")
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE", "1")

import django  # noqa: E402

django.setup()

from django.db.transaction import Atomic  # noqa: E402

from inventory import services as inv  # noqa: E402
from inventory.models import Location  # noqa: E402
from orders import services as orders  # noqa: E402
from stateset import events, webhooks  # noqa: E402
from stateset.actors import Actor  # noqa: E402
from stateset.models import Event, WebhookDelivery  # noqa: E402

BY = Actor.system("bench events_rate")


def w1(n: int, tag: str) -> tuple[float, float]:
    location = Location.objects.get_or_create(code="MAIN", defaults={"name": "Main"})[0]
    skus = [f"EV{tag}{k}" for k in range(20)]
    for sku in skus:
        item = inv.item_create(by=BY, sku=sku)
        inv.stock_adjust(inventory_item=item, location=location, quantity=n * 10, reason="bench", by=BY)
    made = []
    start = time.perf_counter()
    for i in range(n):
        lines = [{"sku": skus[(i + k) % 20], "quantity": k + 1, "unit_price": "9.99"} for k in range(3)]
        made.append(orders.order_create(by=BY, customer_email=f"{tag}{i}@example.com", order_line_items=lines))
    created = time.perf_counter() - start
    start = time.perf_counter()
    for order in made:
        orders.order_ship(order=order, by=BY, tracking_number="T", carrier="UPS")
    shipped = time.perf_counter() - start
    return n / created, n / shipped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    stamp = str(int(time.time()))

    hooked, emit = Atomic.__exit__, events.emit
    Atomic.__exit__, events.emit = events._original_exit, lambda *a, **k: None
    off = w1(args.n, f"off{stamp}")
    Atomic.__exit__, events.emit = hooked, emit

    before = Event.objects.count()
    start = time.perf_counter()
    on = w1(args.n, f"on{stamp}")
    elapsed = time.perf_counter() - start
    written = Event.objects.count() - before
    print(f"W1 n={args.n}, events off: {off[0]:.1f} creates/s, {off[1]:.1f} ships/s")
    print(f"W1 n={args.n}, events on:  {on[0]:.1f} creates/s, {on[1]:.1f} ships/s")
    print(f"events written with W1 (incl. setup): {written} in {elapsed:.1f} s = {written / elapsed:.0f} events/s")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 8714), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    webhooks._enqueue = lambda *a, **k: None
    webhooks._after_commit = lambda fn: None
    endpoint, _ = webhooks.webhook_endpoint_create(url="http://127.0.0.1:8714/", by=BY)
    from django.utils import timezone

    type(endpoint).objects.filter(pk=endpoint.pk).update(created_at=timezone.now() - timezone.timedelta(days=1))
    time.sleep(1.2)
    webhooks.dispatch(limit=100_000)
    pending = list(
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .order_by("event__created_at", "event_id")
        .values_list("pk", flat=True)[:2000]
    )
    start = time.perf_counter()
    done = sum(webhooks.attempt(pk) == "succeeded" for pk in pending)
    took = time.perf_counter() - start
    print(f"one worker: {done} deliveries in {took:.1f} s = {done / took:.1f} deliveries/s (local receiver)")
    server.shutdown()


if __name__ == "__main__":
    main()
