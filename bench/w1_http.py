"""`make bench`: workload W1 through the HTTP API as users run it, beside the peer and a lean floor, in one run.

W1 (../shared/bench/stateset_embedded_anchor.py): 20 SKUs with ample stock; N orders of 3 lines each
(quantities 1, 2, 3, unit price 9.99, SKUs i..i+2 of 20); then ship every order.

For each database (PostgreSQL: a database this script creates and drops; SQLite: a temporary file) and
each gunicorn worker count (2, 4), one server (DEBUG off, persistent connections) answers N creates then
N ships at each client concurrency (1, 4, 8 threads, one keep-alive httpx client each). The lean floor
(bench/floor.py: the same statements written by hand with psycopg and orjson behind bare WSGI, on the
same tables) runs on PostgreSQL with the same worker counts and 8 clients, and the peer (stateset-embedded,
in process, installed into var/peer-venv on first use) runs W1 once. Every database must pass
`check_inventory` afterwards.

    make bench                                  # N=1000, the whole matrix
    .venv/bin/python bench/w1_http.py --n 200 --databases postgres --workers 4 --clients 8 --no-peer
    .venv/bin/python bench/w1_http.py --repeat 3          # medians of 3 runs per row

Prints one row per configuration (creates/s, ships/s, p50/p95 in ms, non-2xx count, ratios to the peer's
creates and ships and to the floor's rates at the same worker count) and writes var/bench.json. Below the table,
the CPU each create and ship cost, in milliseconds: the server's workers (a recycled one included), and on
PostgreSQL the database server's processes when it runs on this host (its backends, exited ones included). On a
shared machine the rates move with the load; the CPU a request costs moves much less, and the two sums are what
the rates divide between them (two cores: at most 2,000 ms of CPU a second for server, database and clients).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PEER_SCRIPT = ROOT.parent / "shared" / "bench" / "stateset_embedded_anchor.py"
PEER_VENV = ROOT / "var" / "peer-venv"
SKUS = 20
CUSTOMERS = 100
PG = {
    "host": os.environ.get("PGHOST", "127.0.0.1"),
    "port": os.environ.get("PGPORT", "5432"),
    "user": os.environ.get("PGUSER", "postgres"),
}


@dataclass
class Row:
    target: str  # "ours" or "floor"
    database: str
    workers: int
    clients: int
    creates_per_s: float = 0.0
    ships_per_s: float = 0.0
    create_p50_ms: float = 0.0
    create_p95_ms: float = 0.0
    ship_p50_ms: float = 0.0
    ship_p95_ms: float = 0.0
    non_2xx: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    # CPU milliseconds per request: the server's workers, and PostgreSQL's processes (None: not measured)
    create_cpu_ms: float | None = None
    ship_cpu_ms: float | None = None
    create_pg_ms: float | None = None
    ship_pg_ms: float | None = None


def free_port() -> int:
    """A free loopback port: the first free one of BENCH_PORTS (`8760-8769`) when it is set (several people
    benchmarking on one machine each keep to their own range), else any the system gives."""
    if ports := os.environ.get("BENCH_PORTS"):
        first, _, last = ports.partition("-")
        for port in range(int(first), int(last or first) + 1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise SystemExit(f"no free port in BENCH_PORTS={ports}")
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


def start_gunicorn(
    env: dict,
    app: str,
    workers: int,
    *,
    log=subprocess.DEVNULL,
    timeout: int = 30,
    port: int | None = None,
    config: str | None = None,
    new_session: bool = False,
) -> tuple[subprocess.Popen, str]:
    """gunicorn serving `app` with `workers` sync workers on a loopback port (a free one unless `port`), once
    /healthz answers; returns the process and its base URL. `config`: a gunicorn config file (the command line
    still wins); `new_session`: its own process group, so that it and its workers can be killed at once.
    Shared by make bench, make bench-reads, make fuzz and make rehearsal."""
    port = port or free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            *(("-c", config) if config else ()),
            *("--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--timeout", str(timeout)),
            app,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=new_session,
    )
    try:
        for _ in range(600):
            if server.poll() is not None:
                raise SystemExit(f"{app} on port {port} exited with {server.returncode} before it answered")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return server, f"http://127.0.0.1:{port}"
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit(f"{app} did not start")
    except BaseException:  # not started, or interrupted while starting: leave nothing running
        if new_session:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
        server.kill()
        server.wait()
        raise


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the process name ([1] ppid, [11] utime, [12] stime, [13] cutime,
    [14] cstime: fields 4 and 14 to 17 of proc(5)); None when there is no such process here."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def family_cpu(parent: int) -> float:
    """Seconds of CPU (user + system) used so far by `parent` and its children on this host, those it has reaped
    included: a gunicorn master's workers (one recycled during the run still counts), or a PostgreSQL server's
    backends and background processes."""
    own = _stat(parent)
    if own is None:
        return 0.0
    total = sum(int(v) for v in own[11:15])
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry.name)) and fields[1] == str(parent):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postmaster_pid(dsn: str) -> int | None:
    """The pid of the PostgreSQL server behind `dsn` when it runs on this host (the parent of our backend), else
    None: its CPU is then not measured."""
    import psycopg

    with psycopg.connect(dsn.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    fields = _stat(backend)
    return int(fields[1]) if fields else None


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()


def expect(response: httpx.Response, status: int) -> dict:
    if response.status_code != status:
        raise SystemExit(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response.json()


def setup_data(base: str, key: str) -> list[int]:
    """20 SKUs with ample stock at MAIN, and the customers the orders cycle through."""
    client = httpx.Client(base_url=f"{base}/v1", headers={"Authorization": f"Token {key}"}, timeout=60)
    for s in range(SKUS):
        item = expect(client.post("/inventory_items", json={"sku": f"SKU-{s}", "description": f"Item {s}"}), 201)
        expect(client.post(f"/inventory_items/{item['inventory_item']['id']}/adjust", json={"quantity": 10**6}), 200)
    return [
        expect(client.post("/customers", json={"email": f"c{i}@example.com", "firstName": "A", "lastName": "B"}), 201)[
            "customer"
        ]["id"]
        for i in range(CUSTOMERS)
    ]


def run_phase(base: str, key: str, clients: int, requests: list[tuple[str, dict]]) -> tuple[float, list, list]:
    """Send every (path, body) POST from `clients` threads at once; returns (seconds, latencies, responses)."""
    counter = itertools.count()
    latencies: list[float] = [0.0] * len(requests)
    responses: list[tuple[int, dict | None]] = [(0, None)] * len(requests)
    barrier = threading.Barrier(clients + 1)

    def work() -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}, timeout=60) as client:
            barrier.wait()
            while (i := next(counter)) < len(requests):
                path, body = requests[i]
                t = time.perf_counter()
                try:
                    r = client.post(path, json=body)
                    status, payload = r.status_code, (r.json() if r.status_code < 300 else None)
                except httpx.HTTPError:
                    status, payload = 599, None
                latencies[i] = time.perf_counter() - t
                responses[i] = (status, payload)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies, responses


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)


def run_w1(
    row: Row, base: str, key: str, customers: list[int], n: int, offset: int, master: int = 0, postmaster: int = 0
) -> Row:
    creates = [
        (
            "/v1/orders",
            {
                "customer": customers[i % len(customers)],
                "order_line_items": [
                    {"sku": f"SKU-{(i + k) % SKUS}", "product_name": "item", "quantity": 1 + k, "unit_price": "9.99"}
                    for k in range(3)
                ],
            },
        )
        for i in range(offset, offset + n)
    ]

    def sample() -> tuple[float, float]:
        return (family_cpu(master) if master else 0.0, family_cpu(postmaster) if postmaster else 0.0)

    cpu = sample()
    seconds, create_lat, created = run_phase(base, key, row.clients, creates)
    after_creates = sample()
    ids = [payload["order"]["id"] for status, payload in created if status == 201]
    ships = [(f"/v1/orders/{i}/ship", {"tracking_number": "1Z", "carrier": "UPS"}) for i in ids]
    ship_seconds, ship_lat, shipped = run_phase(base, key, row.clients, ships)
    after_ships = sample()
    if master:
        row.create_cpu_ms = round((after_creates[0] - cpu[0]) * 1000 / n, 2)
        row.ship_cpu_ms = round((after_ships[0] - after_creates[0]) * 1000 / max(len(ships), 1), 2)
    if postmaster:
        row.create_pg_ms = round((after_creates[1] - cpu[1]) * 1000 / n, 2)
        row.ship_pg_ms = round((after_ships[1] - after_creates[1]) * 1000 / max(len(ships), 1), 2)
    statuses: dict[str, int] = {}
    for status, _ in created + shipped:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    row.creates_per_s = round(n / seconds, 1)
    row.ships_per_s = round(len(ships) / ship_seconds, 1) if ships else 0.0
    row.create_p50_ms, row.create_p95_ms = percentile(create_lat, 0.5), percentile(create_lat, 0.95)
    row.ship_p50_ms, row.ship_p95_ms = (percentile(ship_lat, 0.5), percentile(ship_lat, 0.95)) if ships else (0, 0)
    row.non_2xx = sum(count for status, count in statuses.items() if not status.startswith("2"))
    row.statuses = statuses
    return row


def median_row(rows: list[Row]) -> Row:
    """The median of each figure over repeated runs (non-2xx: the sum)."""
    out = Row(rows[0].target, rows[0].database, rows[0].workers, rows[0].clients)
    for name in ("creates_per_s", "ships_per_s", "create_p50_ms", "create_p95_ms", "ship_p50_ms", "ship_p95_ms"):
        setattr(out, name, round(statistics.median(getattr(r, name) for r in rows), 1))
    for name in ("create_cpu_ms", "ship_cpu_ms", "create_pg_ms", "ship_pg_ms"):
        values = [getattr(r, name) for r in rows if getattr(r, name) is not None]
        setattr(out, name, round(statistics.median(values), 2) if values else None)
    out.non_2xx = sum(r.non_2xx for r in rows)
    for r in rows:
        for status, count in r.statuses.items():
            out.statuses[status] = out.statuses.get(status, 0) + count
    return out


def create_pg_database(name: str) -> str:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare_database(env: dict) -> str:
    """Migrate, and create the bench user and its API key; returns the key."""
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; User.objects.filter(username='bench').exists() or "
        "User.objects.create_superuser('bench', 'bench@example.com', 'bench')",
    )
    return manage(env, "create_api_key", "bench", "--name", "bench", capture=True).strip().splitlines()[-1]


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
    return {"creates_per_s": float(create.group(1)), "ships_per_s": float(ship.group(1))}


def bench_database(database: str, args, rows: list[Row]) -> None:
    env = dict(os.environ)
    env.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "API_RATE_LIMIT": "1000000/min",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "stateset.settings",
        }
    )
    pg_name = f"stateset_bench_{os.getpid()}"
    if database == "postgres":
        env["DATABASE_URL"] = create_pg_database(pg_name)
    else:
        env["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='stateset-bench-')}/bench.sqlite3"
    try:
        key = prepare_database(env)
        postmaster = (postmaster_pid(env["DATABASE_URL"]) or 0) if database == "postgres" else 0
        offset = 0
        customers: list[int] = []
        targets = [("ours", "stateset.wsgi")]
        if database == "postgres" and not args.no_floor:
            targets.append(("floor", "bench.floor:app"))
        # Ours and the floor side by side at each worker count, so a change of load on this shared machine
        # during the run falls on both.
        for workers in args.workers:
            for target, app in targets:
                server_env = {**env, "FLOOR_DSN": env["DATABASE_URL"].replace("postgres://", "postgresql://")}
                server, base = start_gunicorn(server_env, app, workers)
                try:
                    if not customers:
                        customers = setup_data(base, key)
                    for clients in args.clients if target == "ours" else [max(args.clients)]:
                        runs = []
                        for _ in range(args.repeat):
                            runs.append(
                                run_w1(
                                    Row(target, database, workers, clients),
                                    base,
                                    key,
                                    customers,
                                    args.n,
                                    offset,
                                    master=server.pid,
                                    postmaster=postmaster,
                                )
                            )
                            offset += args.n
                        row = median_row(runs)
                        rows.append(row)
                        print(format_row(row, None, None), flush=True)
                finally:
                    stop(server)
        out = manage(env, "check_inventory", capture=True).strip()
        print(f"  check_inventory ({database}): {out}")
    finally:
        if database == "postgres":
            drop_pg_database(pg_name)


HEADER = (
    f"{'target':<6} {'db':<9} {'w':>2} {'c':>2} {'creates/s':>9} {'ships/s':>8} {'c p50':>6} {'c p95':>6} "
    f"{'s p50':>6} {'s p95':>6} {'non2xx':>6}  {'÷peer c/s':>9}  {'÷floor c/s':>10}"
)


def format_row(row: Row, peer: dict | None, floor: Row | None) -> str:
    ratio_peer = (
        f"{row.creates_per_s / peer['creates_per_s']:.3f}/{row.ships_per_s / peer['ships_per_s']:.3f}" if peer else "-"
    )
    ratio_floor = (
        f"{row.creates_per_s / floor.creates_per_s:.2f}/{row.ships_per_s / floor.ships_per_s:.2f}" if floor else "-"
    )
    return (
        f"{row.target:<6} {row.database:<9} {row.workers:>2} {row.clients:>2} {row.creates_per_s:>9} "
        f"{row.ships_per_s:>8} {row.create_p50_ms:>6} {row.create_p95_ms:>6} {row.ship_p50_ms:>6} "
        f"{row.ship_p95_ms:>6} {row.non_2xx:>6}  {ratio_peer:>9}  {ratio_floor:>10}"
    )


CPU_HEADER = (
    f"{'target':<6} {'db':<9} {'w':>2} {'c':>2} {'create wrk':>10} {'create pg':>9} {'ship wrk':>9} {'ship pg':>8}"
    f" {'create sum':>10} {'ship sum':>9}"
)


def format_cpu(row: Row) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    def total(*values: float | None) -> str:
        return "-" if any(v is None for v in values) else f"{sum(values):.2f}"

    return (
        f"{row.target:<6} {row.database:<9} {row.workers:>2} {row.clients:>2} {ms(row.create_cpu_ms):>10} "
        f"{ms(row.create_pg_ms):>9} {ms(row.ship_cpu_ms):>9} {ms(row.ship_pg_ms):>8} "
        f"{total(row.create_cpu_ms, row.create_pg_ms):>10} {total(row.ship_cpu_ms, row.ship_pg_ms):>9}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=int(os.environ.get("N", 1000)), help="orders per row")
    parser.add_argument("--databases", nargs="+", default=["postgres", "sqlite"], choices=["postgres", "sqlite"])
    parser.add_argument("--workers", nargs="+", type=int, default=[2, 4])
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 4, 8])
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("REPEAT", 1)), help="runs per row")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--no-floor", action="store_true")
    args = parser.parse_args()

    rows: list[Row] = []
    print(f"W1 over HTTP, N={args.n} orders per row, repeat {args.repeat}; rows as they finish:")
    print(HEADER)
    for database in args.databases:
        bench_database(database, args, rows)
    peer = None if args.no_peer else run_peer(args.n)
    floors = {r.workers: r for r in rows if r.target == "floor"}

    print()
    if peer:
        print(f"peer (stateset-embedded 1.40.0, in process, same run, N={args.n}): {peer}")
    print(HEADER)
    for row in rows:
        floor = floors.get(row.workers) if row.target == "ours" and row.database == "postgres" else None
        print(format_row(row, peer, floor))
    print()
    print("CPU ms per request (server workers | the PostgreSQL server's processes, when on this host), same rows:")
    print(CPU_HEADER)
    for row in rows:
        print(format_cpu(row))
    result = {"n": args.n, "repeat": args.repeat, "peer": peer, "rows": [asdict(r) for r in rows]}
    (ROOT / "var").mkdir(exist_ok=True)
    (ROOT / "var" / "bench.json").write_text(json.dumps(result, indent=2))
    print("written to var/bench.json")


if __name__ == "__main__":
    main()
