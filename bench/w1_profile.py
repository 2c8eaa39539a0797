"""W1's creates and ships in process, for the CPU a request costs in Python (no server, no client, no network).

The WSGI application is called directly (every middleware, DRF, the services, the render) against the database
of DATABASE_URL, after a warm-up. It prints CPU milliseconds per create and per ship (the median and the best of
BLOCKS blocks of 20 requests: the best block is the least disturbed on a shared machine), and with `--profile`
writes cProfile data (CPU time) to var/create.prof and var/ship.prof and prints the Python function calls per
request, which do not depend on the machine's load.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/w1prof PYTHONPATH=. .venv/bin/python bench/w1_profile.py
    .venv/bin/python bench/w1_profile.py --profile --n 200

The database must be migrated; the script creates its user, key, items (20 SKUs) and customers on first use.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stateset.settings")
os.environ.setdefault("API_RATE_LIMIT", "1000000/min")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from stateset.wsgi import application  # noqa: E402

SKUS = 20
ROOT = Path(__file__).resolve().parent.parent


def make_key() -> str:
    user_model = get_user_model()
    if not user_model.objects.filter(username="w1profile").exists():
        user_model.objects.create_superuser("w1profile", "w1profile@example.com", None)
    out = io.StringIO()
    call_command("create_api_key", "w1profile", "--name", "w1profile", stdout=out)
    return out.getvalue().strip().splitlines()[-1]


class Client:
    def __init__(self, key: str):
        self.key = key

    def call(self, method: str, path: str, body=None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else b""
        path, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Token {self.key}",
            "HTTP_ACCEPT": "*/*",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.input": io.BytesIO(data),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        status: list[str] = []
        result = application(environ, lambda s, h, *a: status.append(s))
        content = b"".join(result)
        result.close()
        return int(status[0].split()[0]), (json.loads(content) if content else {})


def setup(client: Client) -> list[int]:
    _, items = client.call("GET", f"/v1/inventory_items?limit={SKUS}")
    if not items.get("inventory_items"):
        for s in range(SKUS):
            _, item = client.call("POST", "/v1/inventory_items", {"sku": f"SKU-{s}", "description": f"Item {s}"})
            for _ in range(10):
                client.call("POST", f"/v1/inventory_items/{item['inventory_item']['id']}/adjust", {"quantity": 10**6})
        for i in range(100):
            client.call("POST", "/v1/customers", {"email": f"c{i}@example.com", "firstName": "A", "lastName": "B"})
    _, customers = client.call("GET", "/v1/customers?limit=100")
    return [c["id"] for c in customers["customers"]]


def create(client: Client, customers: list[int], i: int) -> int:
    lines = [
        {"sku": f"SKU-{(i + k) % SKUS}", "product_name": "item", "quantity": 1 + k, "unit_price": "9.99"}
        for k in range(3)
    ]
    body = {"customer": customers[i % len(customers)], "order_line_items": lines}
    status, body = client.call("POST", "/v1/orders", body)
    if status != 201:
        raise SystemExit(f"create: {status} {body}")
    return body["order"]["id"]


def ship(client: Client, order_id: int) -> None:
    status, body = client.call("POST", f"/v1/orders/{order_id}/ship", {"tracking_number": "1Z", "carrier": "UPS"})
    if status != 200:
        raise SystemExit(f"ship: {status} {body}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100, help="orders profiled (with --profile)")
    parser.add_argument("--blocks", type=int, default=10, help="blocks of 20 creates and 20 ships timed")
    parser.add_argument("--warm", type=int, default=30, help="orders created and shipped first")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    client = Client(os.environ.get("API_KEY") or make_key())
    customers = setup(client)
    for i in range(args.warm):
        ship(client, create(client, customers, i))

    creates, ships = [], []
    for _ in range(args.blocks):
        t0 = time.process_time()
        ids = [create(client, customers, i) for i in range(20)]
        t1 = time.process_time()
        for order_id in ids:
            ship(client, order_id)
        t2 = time.process_time()
        creates.append(1000 * (t1 - t0) / 20)
        ships.append(1000 * (t2 - t1) / 20)
    print(f"create: CPU {statistics.median(creates):.2f} ms per request (median), {min(creates):.2f} (best block)")
    print(f"ship:   CPU {statistics.median(ships):.2f} ms per request (median), {min(ships):.2f} (best block)")

    if args.profile:
        (ROOT / "var").mkdir(exist_ok=True)
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        ids = [create(client, customers, i) for i in range(args.n)]
        profiler.disable()
        profiler.dump_stats(ROOT / "var" / "create.prof")
        create_calls = profiler.getstats()
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for order_id in ids:
            ship(client, order_id)
        profiler.disable()
        profiler.dump_stats(ROOT / "var" / "ship.prof")
        for name, stats in (("create", create_calls), ("ship", profiler.getstats())):
            calls = sum(entry.callcount for entry in stats)
            print(f"{name}: {calls // args.n} Python function calls per request (var/{name}.prof)")


if __name__ == "__main__":
    main()
