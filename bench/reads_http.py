"""`make bench-reads`: the read path over HTTP against the `bench_data` set, beside a lean floor, in one run.

Uses the database named by BENCH_DATABASE_URL (e.g. a 1,000,000-order set loaded once and kept), or creates
one (and drops it at the end, unless --keep) and fills it with `manage.py bench_data --orders $ORDERS`
(default 100,000) when it holds no orders. Then gunicorn (DEBUG off, 4 sync workers) answers each query below
for a fixed duration from 8 threads, each with its own keep-alive httpx client, and the lean floor
(bench/reads_floor.py: the order list's SELECTs by hand with psycopg and orjson behind bare WSGI, same
workers) answers the order list with limit 100 in the same run:

    list limit 10 / limit 100      GET /v1/orders?limit=10 | 100 (newest first, with the total count)
    status                         ?status=shipped
    customer                       ?customer=<id>          (ids cycled over a sample of customers)
    created range                  ?created_after=..&created_before=..   (one week, a month ago)
    sku                            ?sku=<SKU> when the list filters by SKU, else ?search=<SKU> (marked)
    search number / email          ?search=ORD-...  |  ?search=customerN@bench.example.com
    last page (cursor)             ?starting_after=<the 11th oldest id>; "n/a (no cursor)" when the API
                                   answers 400 or ignores the parameter
    last page (offset)             ?offset=<total - 10>    (a 400 is recorded, not fatal)
    retrieve                       GET /v1/orders/<id>     (ids cycled over a sample)

Prints one row per query (requests/s, p50/p95 in ms, non-2xx), the floor's row and the ratio of the list at
limit 100 to it, and each gunicorn worker's RSS before and after; writes var/bench-reads.json.

    make bench-reads                                   # ORDERS=100000, 10 s per query
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/reads_1m make bench-reads
    .venv/bin/python bench/reads_http.py --duration 5 --only list_10 list_100 --keep
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import secrets
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.w1_http import (  # noqa: E402
    create_pg_database,
    drop_pg_database,
    family_cpu,
    manage,
    percentile,
    prepare_database,
    start_gunicorn,
    stop,
)

SAMPLE = 200


@dataclass
class Row:
    name: str
    target: str  # "ours" or "floor"
    example: str
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    non_2xx: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    note: str = ""
    cpu_ms: float = 0.0  # the gunicorn workers' CPU time per request (user + system), whatever the load


def worker_rss(master: int) -> dict[int, int]:
    """pid -> resident set size in KiB of the gunicorn master's children (its workers)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != master:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[int(entry.name)] = int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return out


def run_query(base: str, key: str, urls: list[str], clients: int, duration: float) -> tuple:
    """GET the urls (cycled) from `clients` threads for `duration` seconds, each thread sending at least one
    request (a slow query still gets `clients` samples); returns (seconds, latencies, status counts)."""
    counter = itertools.count()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    clock: dict[str, float] = {}

    def work() -> None:
        mine: list[float] = []
        seen: dict[str, int] = {}
        with httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}, timeout=600) as client:
            barrier.wait()
            while not mine or time.perf_counter() < clock["end"]:
                url = urls[next(counter) % len(urls)]
                t = time.perf_counter()
                try:
                    status = client.get(url).status_code
                except httpx.HTTPError:
                    status = 599
                mine.append(time.perf_counter() - t)
                seen[str(status)] = seen.get(str(status), 0) + 1
        with lock:
            latencies.extend(mine)
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    clock["start"] = time.perf_counter()
    clock["end"] = clock["start"] + duration
    barrier.wait()
    for t in threads:
        t.join()
    # Every request sent, over the time until the last one was answered.
    return time.perf_counter() - clock["start"], latencies, statuses


def measure(row: Row, base: str, key: str, urls: list[str], args, master: int | None = None) -> Row:
    if args.warmup:  # one unrecorded request first: the page cache and the worker's connection warm
        with httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}, timeout=600) as client:
            client.get(urls[0])
    cpu = family_cpu(master) if master else 0.0
    seconds, latencies, statuses = run_query(base, key, urls, args.clients, args.duration)
    if master and latencies:
        row.cpu_ms = round((family_cpu(master) - cpu) / len(latencies) * 1000, 1)
    row.requests = len(latencies)
    row.seconds = round(seconds, 2)
    row.rps = round(len(latencies) / seconds, 1)
    if latencies:
        row.p50_ms, row.p95_ms = percentile(latencies, 0.5), percentile(latencies, 0.95)
    row.statuses = statuses
    row.non_2xx = sum(count for status, count in statuses.items() if not status.startswith("2"))
    return row


def sample_values(dsn: str, now_offset_days: int = 30) -> dict:
    """What the queries cycle over, read from the data set."""
    rng = random.Random(16)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), min(id), max(id), max(created_at) FROM orders_order")
        total, low, high, newest = cur.fetchone()
        ids = sorted({rng.randint(low, high) for _ in range(SAMPLE)})
        cur.execute("SELECT id, order_number, customer_id, customer_email FROM orders_order WHERE id = ANY(%s)", (ids,))
        picked = cur.fetchall()
        cur.execute(
            "SELECT DISTINCT sku FROM orders_orderlineitem WHERE order_id = ANY(%s) LIMIT %s", (ids, SAMPLE // 4)
        )
        skus = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT id FROM orders_order ORDER BY created_at, id OFFSET 10 LIMIT 1")
        cursor_row = cur.fetchone()
        cur.execute("SELECT id FROM orders_order ORDER BY created_at, id LIMIT 10")
        oldest = [r[0] for r in cur.fetchall()]
    week_end = newest - timedelta(days=now_offset_days)
    return {
        "total": total,
        "ids": [r[0] for r in picked],
        "numbers": [r[1] for r in picked],
        "customers": [r[2] for r in picked if r[2]],
        "emails": [r[3] for r in picked if r[3]],
        "skus": skus,
        "cursor": cursor_row[0] if cursor_row else None,
        "oldest": oldest,
        "range": ((week_end - timedelta(days=7)).isoformat(), week_end.isoformat()),
    }


def probe(client: httpx.Client, url: str) -> tuple[int, dict | None]:
    response = client.get(url)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, None


def plan_queries(base: str, key: str, v: dict) -> list[tuple[str, list[str], str]]:
    """(name, urls, note) per query; probes the parameters the other branches may add."""
    client = httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}, timeout=600)

    def q(**params) -> str:
        return "/v1/orders?" + urlencode(params)

    queries = [
        ("list_10", [q(limit=10)], ""),
        ("list_100", [q(limit=100)], ""),
        ("status", [q(status="shipped", limit=10)], ""),
        ("customer", [q(customer=c, limit=10) for c in v["customers"]], ""),
        ("created_range", [q(created_after=v["range"][0], created_before=v["range"][1], limit=10)], ""),
    ]
    status, body = probe(client, q(sku=v["skus"][0], limit=10))
    if status == 200 and body and body.get("total_count", v["total"]) < v["total"]:
        queries.append(("sku", [q(sku=s, limit=10) for s in v["skus"]], ""))
    else:
        queries.append(("sku", [q(search=s, limit=10) for s in v["skus"]], "via ?search= (no ?sku= filter)"))
    queries.append(("search_number", [q(search=n, limit=10) for n in v["numbers"]], ""))
    queries.append(("search_email", [q(search=e, limit=10) for e in v["emails"]], ""))

    cursor_url = q(starting_after=v["cursor"], limit=10)
    status, body = probe(client, cursor_url)
    got = [o["id"] for o in (body or {}).get("orders", [])] if status == 200 else None
    if got is not None and sorted(got) == sorted(v["oldest"]):
        queries.append(("last_page_cursor", [cursor_url], ""))
    else:
        why = f"HTTP {status}" if status != 200 else "parameter ignored"
        queries.append(("last_page_cursor", [], f"n/a (no cursor: {why})"))
    offset = max(v["total"] - 10, 0)
    status, _ = probe(client, q(offset=offset, limit=10))
    queries.append(
        (
            "last_page_offset",
            [q(offset=offset, limit=10)],
            f"offset={offset}" + ("" if status == 200 else f" HTTP {status}"),
        )
    )
    queries.append(("retrieve", [f"/v1/orders/{i}" for i in v["ids"]], ""))
    client.close()
    return queries


HEADER = (
    f"{'query':<18} {'target':<6} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'n':>6} {'non2xx':>6} {'cpu ms':>7}  note"
)


def format_row(row: Row) -> str:
    if not row.requests and row.note.startswith("n/a"):
        return f"{row.name:<18} {row.target:<6} {'-':>8} {'-':>8} {'-':>8} {'-':>6} {'-':>6} {'-':>7}  {row.note}"
    statuses = ",".join(f"{s}:{n}" for s, n in sorted(row.statuses.items()) if not s.startswith("2"))
    note = " ".join(x for x in (row.note, statuses) if x)
    return (
        f"{row.name:<18} {row.target:<6} {row.rps:>8} {row.p50_ms:>8} {row.p95_ms:>8} {row.requests:>6} "
        f"{row.non_2xx:>6} {row.cpu_ms:>7}  {note}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=int(os.environ.get("ORDERS", 100_000)))
    parser.add_argument("--duration", type=float, default=float(os.environ.get("DURATION", 10)), help="s per query")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false", help="no unrecorded first request")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--only", nargs="+", help="run only these queries (names as printed)")
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the database this script created")
    args = parser.parse_args()

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
    given = os.environ.get("BENCH_DATABASE_URL")
    created = None
    if given:
        env["DATABASE_URL"] = given
    else:
        created = f"stateset_reads_{os.getpid()}"
        env["DATABASE_URL"] = create_pg_database(created)
    dsn = env["DATABASE_URL"].replace("postgres://", "postgresql://")
    # No worker is recycled during the run (gunicorn.conf.py recycles after about 2,000 requests): each worker's
    # memory and CPU time are then measured over the whole run, and growth cannot hide behind a restart.
    env["GUNICORN_CMD_ARGS"] = "--max-requests 0"
    result: dict = {"database": "given" if given else created, "workers": args.workers, "clients": args.clients}
    try:
        key = prepare_database(env)
        with psycopg.connect(dsn) as conn:
            empty = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM orders_order)").fetchone()[0]
        if empty:
            print(f"loading bench_data --orders {args.orders} ...", flush=True)
            t = time.perf_counter()
            out = manage(env, "bench_data", "--orders", str(args.orders), "--append", capture=True)
            result["load_seconds"] = round(time.perf_counter() - t, 1)
            print(out.strip().splitlines()[-1], flush=True)
        values = sample_values(dsn)
        result["orders"] = values["total"]
        print(
            f"reads over HTTP: {values['total']:,} orders, gunicorn {args.workers} workers, {args.clients} clients, "
            f"{args.duration:g} s per query"
        )
        rows: list[Row] = []
        server, base = start_gunicorn({**env}, "stateset.wsgi", args.workers, timeout=300)
        try:
            queries = plan_queries(base, key, values)
            if args.only:
                queries = [query for query in queries if query[0] in args.only]
            # One request per worker's connection first, so "before" is a worker that has served.
            with httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}) as client:
                for _ in range(args.workers * 2):
                    client.get("/v1/orders?limit=10")
            rss_before = worker_rss(server.pid)
            restarts = 0
            print(HEADER)
            for name, urls, note in queries:
                row = Row(name, "ours", urls[0] if urls else "", note=note)
                if server.poll() is not None:  # gone (killed from outside): start another, say so
                    restarts += 1
                    server, base = start_gunicorn({**env}, "stateset.wsgi", args.workers, timeout=300)
                    row.note = f"{row.note} (server restarted)".strip()
                if urls:
                    try:
                        measure(row, base, key, urls, args, server.pid)
                    except httpx.HTTPError as exc:
                        row.note = f"{row.note} failed: {exc}".strip()
                rows.append(row)
                print(format_row(row), flush=True)
            rss_after = worker_rss(server.pid)
            result["server_restarts"] = restarts
        finally:
            stop(server)
        result["rss_kib"] = {
            "before": sorted(rss_before.values()),
            "after": sorted(rss_after.values()),
            "workers_replaced": sorted(set(rss_before) ^ set(rss_after)),
        }
        floor_row = None
        if not args.no_floor:
            server, base = start_gunicorn({**env, "FLOOR_DSN": dsn}, "bench.reads_floor:app", args.workers, timeout=300)
            try:
                floor_row = measure(
                    Row("list_100", "floor", "/v1/orders?limit=100"),
                    base,
                    key,
                    ["/v1/orders?limit=100"],
                    args,
                    server.pid,
                )
            finally:
                stop(server)
            rows.append(floor_row)
            print(format_row(floor_row))
        ours = next((r for r in rows if r.name == "list_100" and r.target == "ours"), None)
        if ours and floor_row and floor_row.rps:
            result["list_100_ours_over_floor"] = round(ours.rps / floor_row.rps, 3)
            print(f"list limit 100: ours / floor = {result['list_100_ours_over_floor']:.3f} (requests/s)")
        if ours and floor_row and ours.cpu_ms:
            # The workers' CPU per request: what the load on a shared machine moves least.
            result["list_100_floor_cpu_over_ours"] = round(floor_row.cpu_ms / ours.cpu_ms, 3)
            print(
                f"list limit 100: worker CPU per request, floor / ours = {result['list_100_floor_cpu_over_ours']:.3f}"
                f" ({floor_row.cpu_ms} ms / {ours.cpu_ms} ms)"
            )
        before, after = result["rss_kib"]["before"], result["rss_kib"]["after"]
        print(
            f"worker RSS (MiB) before: {[round(k / 1024) for k in before]}  after: {[round(k / 1024) for k in after]}"
        )
        result["rows"] = [asdict(r) for r in rows]
        (ROOT / "var").mkdir(exist_ok=True)
        (ROOT / "var" / "bench-reads.json").write_text(json.dumps(result, indent=2))
        print("written to var/bench-reads.json")
    finally:
        if created and not args.keep:
            drop_pg_database(created)
        elif created:
            print(f"kept: BENCH_DATABASE_URL={env['DATABASE_URL']}")


if __name__ == "__main__":
    main()
