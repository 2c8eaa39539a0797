"""Workload W1 through the HTTP API, compared with the peer's figure measured in the same run.

W1 (see ../shared/bench/stateset_embedded_anchor.py): 20 SKUs with ample stock; N customers; N orders of
3 lines each (quantities 1, 2, 3, unit price 9.99); ship every order; list the orders.

    make bench                         # N=1000, SQLite file, with the peer
    .venv/bin/python bench/w1_http.py 200 --no-peer
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/stateset_bench .venv/bin/python bench/w1_http.py 1000

The server is gunicorn with one sync worker in its own process (DEBUG off) on a fresh database; the
client is one httpx connection, one request at a time, as the peer's loop is one call at a time. The peer
(stateset-embedded 1.40.0, Rust + SQLite, in process, no HTTP) is installed into var/peer-venv on first use.
Results go to stdout and var/bench-w1.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PEER_SCRIPT = ROOT.parent / "shared" / "bench" / "stateset_embedded_anchor.py"
PEER_VENV = ROOT / "var" / "peer-venv"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
    )
    return result.stdout or ""


def start_server(env: dict, port: int) -> subprocess.Popen:
    # gunicorn, one sync worker: runserver's keep-alive meets delayed ACKs and costs ~45 ms a request.
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "stateset.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def check(response: httpx.Response, status: int) -> dict:
    if response.status_code != status:
        raise SystemExit(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response.json()


def run_w1(base: str, key: str, n: int) -> dict:
    client = httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}, timeout=30)
    t0 = time.perf_counter()
    for s in range(20):
        item = check(client.post("/inventory_items", json={"sku": f"SKU-{s}", "description": f"Item {s}"}), 201)
        check(client.post(f"/inventory_items/{item['inventory_item']['id']}/adjust", json={"quantity": 10**6}), 200)
    customers = [
        check(client.post("/customers", json={"email": f"c{i}@example.com", "firstName": "A", "lastName": "B"}), 201)[
            "customer"
        ]["id"]
        for i in range(n)
    ]
    t1 = time.perf_counter()
    orders = []
    for i in range(n):
        lines = [
            {"sku": f"SKU-{(i + k) % 20}", "product_name": "item", "quantity": 1 + k, "unit_price": "9.99"}
            for k in range(3)
        ]
        body = check(client.post("/orders", json={"customer": customers[i], "order_line_items": lines}), 201)
        orders.append(body["order"]["id"])
    t2 = time.perf_counter()
    for order_id in orders:
        check(client.post(f"/orders/{order_id}/ship", json={"tracking_number": "1Z", "carrier": "UPS"}), 200)
    t3 = time.perf_counter()
    listed, offset = 0, 0
    while True:
        page = check(client.get("/orders", params={"limit": 100, "offset": offset}), 200)
        listed += len(page["orders"])
        offset += 100
        if not page["has_more"]:
            break
    t4 = time.perf_counter()
    assert listed == n, (listed, n)
    return {
        "setup_s": round(t1 - t0, 3),
        "create_orders_per_s": round(n / (t2 - t1), 1),
        "ship_orders_per_s": round(n / (t3 - t2), 1),
        "list_orders_s": round(t4 - t3, 3),
        "listed": listed,
    }


def run_peer(n: int) -> dict | None:
    if not PEER_SCRIPT.exists():
        print(f"peer script not found at {PEER_SCRIPT}; skipping the peer")
        return None
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "stateset-embedded==1.40.0"], check=True)
    out = subprocess.run([str(python), str(PEER_SCRIPT), str(n)], check=True, text=True, capture_output=True).stdout
    create = re.search(r"create_orders .*?(\d+)/s", out)
    ship = re.search(r"ship_orders .*?(\d+)/s", out)
    return {"create_orders_per_s": float(create.group(1)), "ship_orders_per_s": float(ship.group(1)), "raw": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()

    env = dict(os.environ)
    workdir = tempfile.mkdtemp(prefix="stateset-bench-")
    env.setdefault("DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3")
    env.update(
        {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(32), "API_RATE_LIMIT": "1000000/min", "LOG_LEVEL": "WARNING"}
    )
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; User.objects.filter(username='bench').exists() or "
        "User.objects.create_superuser('bench', 'bench@example.com', 'bench')",
    )
    key = manage(env, "create_api_key", "bench", "--name", "bench", capture=True).strip().splitlines()[-1]
    port = free_port()
    server = start_server(env, port)
    try:
        ours = run_w1(f"http://127.0.0.1:{port}/v1", key, args.n)
    finally:
        server.terminate()
        server.wait(timeout=10)
    peer = None if args.no_peer else run_peer(args.n)

    database = env["DATABASE_URL"].split(":", 1)[0]
    print(f"W1, N={args.n}, {database}, HTTP API (gunicorn, 1 worker; one client, sequential)")
    print(f"  setup (20 SKUs + {args.n} customers)  {ours['setup_s']} s")
    print(f"  create orders  {ours['create_orders_per_s']:>8}/s")
    print(f"  ship orders    {ours['ship_orders_per_s']:>8}/s")
    print(f"  list orders    {ours['listed']} rows in {ours['list_orders_s']} s (pages of 100)")
    result = {"n": args.n, "database": database, "ours": ours}
    if peer:
        ratio_create = ours["create_orders_per_s"] / peer["create_orders_per_s"]
        ratio_ship = ours["ship_orders_per_s"] / peer["ship_orders_per_s"]
        print(
            f"peer (stateset-embedded 1.40.0, in process, same run): create {peer['create_orders_per_s']}/s, "
            f"ship {peer['ship_orders_per_s']}/s"
        )
        print(f"ratio ours/peer: create {ratio_create:.3f}, ship {ratio_ship:.3f}")
        result["peer"] = {k: v for k, v in peer.items() if k != "raw"}
        result["ratio"] = {"create": round(ratio_create, 4), "ship": round(ratio_ship, 4)}
    (ROOT / "var").mkdir(exist_ok=True)
    (ROOT / "var" / "bench-w1.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
