"""`make rehearsal`: the production shape on this one machine, under load, with an app instance and the Celery
worker killed and brought back, then checked (issue #15, part 6).

The stack, every piece started (and stopped, even on failure) by this script:

- PostgreSQL: a database of its own on the local server (created, migrated, dropped at the end), seeded by
  `manage.py bench_data` with 1,000 SKUs; the first SCARCE_SKUS of them cut to SCARCE_STOCK units at MAIN, so
  stock runs out during the run (creates then answer 422 `insufficient_stock`, and cancels give some back);
- Redis: a `redis-server` of its own on port BASE+9 (8749 by default: the cache, shared by every process:
  throttling and the API-key cache);
- RabbitMQ: a virtual host of its own on the local server (`rabbitmqctl`), the Celery broker. RabbitMQ puts a
  dead consumer's unacknowledged messages back at once; Redis would keep them for its visibility timeout (1 h);
- two app instances, each gunicorn (gunicorn.conf.py, 2 workers, DEBUG off) on ports BASE+1 and BASE+2;
- nginx in front on port BASE (8740), the only entry, with deploy/nginx.conf (its upstream pointed at the two
  instances): a connection refused by a dead instance is retried on the other;
- a Celery worker (which also loads bench/rehearsal_app.py, the drill's task) and celery beat.

The load, for DURATION seconds (120): CLIENTS threads (8), each with its own API key and one keep-alive
connection, paced to RATE requests/s in all (12; each client stays below its key's limit): order creates
(1-3 lines over the 1,000 SKUs, most with one scarce line), ships, cancels, refunds, lists and retrieves of
its own orders. Every POST carries an Idempotency-Key, and a client retries a 5xx, a lost connection or a 409
with the same key (for up to 90 s), as a careful client does. Beside it, HOT_THREADS threads (6) drive one
shared key at HOT_FACTOR (3) times its rate limit (API_RATE_LIMIT of the run, RATE_LIMIT: 120/min) through
both instances, so that it fills each window.

The drills: at 25 % of the run one app instance is killed (SIGKILL to gunicorn and its workers) and started
again APP_DOWN seconds later; at 55 % TASKS tasks (`rehearsal.cancel_order`, idempotent, each cancelling one
order made for it) are enqueued, half before and half after the worker is killed (SIGKILL), and the worker is
started again WORKER_DOWN seconds later.

The checks (CHECKS below; each a small function returning (ok, detail)): no unexpected status, a 5xx only while
an instance was down and every request that met one succeeded on retry, the shared key's allowed count per
rate window within 1 % of the limit, `check_inventory` clean, no order without lines, no consumed allocation
without its ledger row, every task enqueued ran exactly once in effect, and every order.* event reached a
webhook endpoint (a receiver thread on BASE+3, made through the API before the load) signed, in each order's
sequence, at least once. Prints the report, writes var/rehearsal.json (logs of every process in
var/rehearsal/), exits 1 if a check failed.

    make rehearsal                    # DURATION=120
    DURATION=30 make rehearsal        # the short form in .ci/run
    DURATION=600 CLIENTS=12 RATE=18 make rehearsal   # RATE/CLIENTS below 80 % of RATE_LIMIT
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.w1_http import PG, create_pg_database, drop_pg_database, start_gunicorn  # noqa: E402

BIN = Path(sys.executable).parent
VAR = ROOT / "var"
LOGS = VAR / "rehearsal"


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


DURATION = env_int("DURATION", 120)
CLIENTS = env_int("CLIENTS", 8)
RATE = env_float("RATE", 12)  # workload requests per second, all clients together (the budget: RATE x DURATION)
RATE_LIMIT = os.environ.get("RATE_LIMIT", "120/min")  # API_RATE_LIMIT of the run (every key)
HOT_FACTOR = env_float("HOT_FACTOR", 3)
HOT_THREADS = env_int("HOT_THREADS", 6)
SCARCE_SKUS = env_int("SCARCE_SKUS", 100)
SCARCE_STOCK = env_int("SCARCE_STOCK", 3)
TASKS = env_int("TASKS", 40)
TASK_HOLD = env_float("TASK_HOLD", 0.5)  # seconds each task holds its worker after its effect
APP_DOWN = env_float("APP_DOWN", max(3.0, min(10.0, DURATION / 10)))
WORKER_DOWN = env_float("WORKER_DOWN", 3.0)
RETRY_SECONDS = 90  # a client gives up on a request after this long (above IDEMPOTENCY_LEASE_SECONDS)
LEASE_SECONDS = 35  # the run's IDEMPOTENCY_LEASE_SECONDS: above gunicorn's timeout (30 s)
BASE = env_int("REHEARSAL_PORT", 8740)
BALANCER_PORT, APP_PORTS, REDIS_PORT = BASE, (BASE + 1, BASE + 2), BASE + 9
RECEIVER_PORT = BASE + 3  # the webhook receiver
WEBHOOK_WAIT = env_float("WEBHOOK_WAIT", 90)  # seconds to wait, after the load, for every order.* event's webhook
WEBHOOK_MAX_COPIES = 3  # at least once: an event received more often than this is a fault, not a redelivery
GRACE = 5.0  # seconds after an instance is back during which a 5xx still counts as the drill's

LIMIT, _period = RATE_LIMIT.split("/")
LIMIT = int(LIMIT)
WINDOW = {"s": 1, "m": 60, "h": 3600, "d": 86400}[_period[0]]
if RATE / CLIENTS > 0.8 * LIMIT / WINDOW:
    raise SystemExit(f"RATE/CLIENTS must stay below 80 % of RATE_LIMIT ({RATE_LIMIT}): each client has its own key")


# ---- processes ------------------------------------------------------------------------------------------------


class Stack:
    """Every process and resource the rehearsal starts, torn down by `close` whatever happened."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, object] = {}
        self.cleanups: list[tuple[str, object]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="stateset-rehearsal-"))

    def log(self, name: str):
        if name not in self.logs:
            self.logs[name] = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 - closed in close()
        return self.logs[name]

    def popen(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self.log(name), stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL, wait: float = 15) -> None:
        """Signal the process and everything in its group (gunicorn's or celery's workers too)."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        # Workers left behind by a master that died first are still in the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def close(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)
        for what, fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - clean up the rest whatever one step did
                print(f"  cleanup of {what} failed: {exc}", file=sys.stderr)
        for f in self.logs.values():
            f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def ensure_installed() -> None:
    """nginx and redis-server from Debian when missing (as `make browser` installs chromium)."""
    missing = [pkg for binary, pkg in (("nginx", "nginx-light"), ("redis-server", "redis-server")) if not which(binary)]
    if missing:
        print(f"installing {' '.join(missing)} (apt-get)")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    if not os.environ.get("REHEARSAL_BROKER_URL") and not which("rabbitmqctl"):
        raise SystemExit(
            "make rehearsal needs the local RabbitMQ (rabbitmqctl) for its broker, or REHEARSAL_BROKER_URL "
            "(an amqp:// URL of a virtual host it may use alone)"
        )


def which(binary: str) -> str | None:
    return shutil.which(binary) or next(
        (str(Path(d) / binary) for d in ("/usr/sbin", "/sbin") if (Path(d) / binary).exists()), None
    )


def wait_for(check, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001, S110 - not up yet
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not come up within {timeout:.0f} s")


def nginx_config(tmp: Path) -> Path:
    """deploy/nginx.conf, its upstream pointed at the two instances and its listen at the balancer's port,
    inside a main configuration of our own (pid, logs and temp files in `tmp`, in the foreground)."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;" for p in APP_PORTS)
    site, n_upstream = re.subn(r"^\s*server app:8000 [^\n]*;", servers, site, flags=re.M)
    site, n_listen = re.subn(r"^(\s*)listen 80;", rf"\1listen 127.0.0.1:{BALANCER_PORT};", site, flags=re.M)
    if (n_upstream, n_listen) != (1, 1):
        raise SystemExit("deploy/nginx.conf changed shape: update nginx_config() in bench/rehearsal.py")
    (tmp / "site.conf").write_text(site)
    main = f"""
worker_processes 2;
pid {tmp}/nginx.pid;
daemon off;
{"user root;" if os.geteuid() == 0 else ""}
events {{ worker_connections 1024; }}
http {{
    log_format rehearsal '$msec $status $request_method $request_uri $upstream_addr $upstream_status $request_time'
                         ' $http_x_request_id';
    access_log {LOGS}/nginx-access.log rehearsal;
    error_log {LOGS}/nginx-error.log warn;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""
    (tmp / "nginx.conf").write_text(main)
    return tmp / "nginx.conf"


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, text=True, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


# ---- the load -----------------------------------------------------------------------------------------------


@dataclass
class Attempt:
    op: str
    status: int
    start: float  # seconds since the load began
    end: float
    code: str = ""  # the error code of a 4xx/5xx body, when there is one
    rid: str = ""  # the X-Request-ID it was sent with (the shared key's requests)


@dataclass
class Request:
    """One logical request: its attempts (the first, then the client's retries with the same key)."""

    op: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def final(self) -> Attempt:
        return self.attempts[-1]


EXPECTED = {  # op -> the final outcomes that are right
    "create": {(201, ""), (422, "insufficient_stock")},
    "ship": {(200, "")},
    "cancel": {(200, "")},
    "refund": {(200, "")},
    "list": {(200, "")},
    "retrieve": {(200, "")},
}
MIX = [("create", 35), ("list", 20), ("retrieve", 10), ("ship", 15), ("cancel", 8), ("refund", 12)]


def retryable(status: int, code: str) -> bool:
    return status >= 500 or status == 409


class Load:
    def __init__(self, base: str, data: dict, t0: float) -> None:
        self.base, self.data, self.t0 = base, data, t0
        self.requests: list[Request] = []
        self.hot: list[Attempt] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.crashed: list[str] = []  # a client thread that died of an exception (a bug here, or a bad answer)

    def guarded(self, target, *args) -> None:
        try:
            target(*args)
        except Exception as exc:  # noqa: BLE001 - reported by check_statuses
            with self.lock:
                self.crashed.append(f"{target.__name__}{args}: {exc!r}")

    def now(self) -> float:
        return time.monotonic() - self.t0

    def send(self, client: httpx.Client, op: str, method: str, path: str, body: dict | None = None):
        request = Request(op)
        headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
        delay, deadline, payload = 0.2, time.monotonic() + RETRY_SECONDS, None
        while True:
            start = self.now()
            code = ""
            try:
                r = client.request(method, path, json=body, headers=headers)
                status = r.status_code
                payload = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
                if status >= 400 and isinstance(payload, dict):
                    code = str(payload.get("code") or "")
            except httpx.HTTPError:
                status, payload = 599, None
            request.attempts.append(Attempt(op, status, start, self.now(), code))
            if retryable(status, code) and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            break
        with self.lock:
            self.requests.append(request)
        return request.final.status, payload

    def client(self, index: int, budget: int) -> None:
        rng = random.Random(index)
        key = self.data["keys"][index]
        skus, scarce = self.data["skus"][SCARCE_SKUS:-50], self.data["skus"][:SCARCE_SKUS]
        customers = self.data["customers"]
        pending: list[int] = []
        refundable: list[tuple[int, str]] = []
        mine: list[int] = []
        interval = CLIENTS / RATE
        next_at = time.monotonic() + rng.random() * interval
        with httpx.Client(
            base_url=self.base, headers={"Authorization": f"Token {key}"}, timeout=httpx.Timeout(60, connect=5)
        ) as client:
            for _ in range(budget):
                if self.stop.is_set() or self.now() >= DURATION:
                    return
                time.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval
                op = rng.choices([o for o, _ in MIX], weights=[w for _, w in MIX])[0]
                if op in ("ship", "cancel") and not pending or op == "refund" and not refundable:
                    op = "create"
                if op == "retrieve" and not mine:
                    op = "list"
                if op == "create":
                    chosen = rng.sample(skus, rng.randint(0, 2))
                    chosen += [rng.choice(scarce)] if rng.random() < 0.7 or not chosen else []
                    body = {
                        "customer": rng.choice(customers),
                        "order_line_items": [
                            {"sku": s, "product_name": "item", "quantity": rng.randint(1, 3), "unit_price": "9.99"}
                            for s in chosen
                        ],
                    }
                    status, payload = self.send(client, op, "POST", "/v1/orders", body)
                    if status == 201:
                        pending.append(payload["order"]["id"])
                        mine.append(payload["order"]["id"])
                elif op == "ship":
                    order_id = pending.pop(rng.randrange(len(pending)))
                    body = {"tracking_number": f"1Z{order_id}", "carrier": "UPS"}
                    status, payload = self.send(client, op, "POST", f"/v1/orders/{order_id}/ship", body)
                    if status == 200:
                        refundable.append((order_id, payload["order"]["total"]))
                elif op == "cancel":
                    order_id = pending.pop(rng.randrange(len(pending)))
                    status, payload = self.send(client, op, "POST", f"/v1/orders/{order_id}/cancel", {"reason": "r"})
                    if status == 200:
                        refundable.append((order_id, payload["order"]["total"]))
                elif op == "refund":
                    order_id, total = refundable.pop(rng.randrange(len(refundable)))
                    self.send(client, op, "POST", f"/v1/orders/{order_id}/refund", {"amount": total, "reason": "r"})
                elif op == "retrieve":
                    self.send(client, op, "GET", f"/v1/orders/{rng.choice(mine[-50:])}")
                else:
                    path = rng.choice(["/v1/orders?limit=20", "/v1/inventory_items?limit=20&offset=100"])
                    self.send(client, op, "GET", path)

    def hot_client(self, index: int, rate: float) -> None:
        """The shared key: plain GETs at `rate`, no retries (every answer is one sample of the limit)."""
        interval = 1 / rate
        next_at = time.monotonic() + index * interval / HOT_THREADS
        with httpx.Client(
            base_url=self.base,
            headers={"Authorization": f"Token {self.data['hot_key']}"},
            timeout=httpx.Timeout(30, connect=5),
        ) as client:
            for n in itertools.count():
                if self.stop.is_set() or self.now() >= DURATION:
                    return
                time.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval
                start, rid = self.now(), f"rehearsal-hot-{index}-{n}"
                try:
                    status = client.get("/v1/inventory_items?limit=1", headers={"X-Request-ID": rid}).status_code
                except httpx.HTTPError:
                    status = 599
                with self.lock:
                    self.hot.append(Attempt("hot", status, start, self.now(), rid=rid))


# ---- the webhook receiver ----------------------------------------------------------------------------------


def verify_signature(header: str, body: bytes, secret: str, tolerance: int = 300) -> bool:
    """docs/events.md's verification, written again here (not imported: the receiver is the customer's side)."""
    import hmac

    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if not stamps or not stamps[0].isdigit() or abs(time.time() - int(stamps[0])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{stamps[0]}.".encode() + body, hashlib.sha256).hexdigest()
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in parts)


class Receiver:
    """A webhook endpoint on 127.0.0.1:RECEIVER_PORT (a thread of this process): verifies each POST's signature,
    records it, answers 200."""

    def __init__(self, port: int) -> None:
        self.secret = ""
        self.received: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    event = json.loads(body)
                    signed = verify_signature(self.headers.get("StateSet-Signature", ""), body, receiver.secret)
                    signed = signed and self.headers.get("StateSet-Event-Id") == str(event["id"])
                    row = {"id": event["id"], "object_id": event.get("object_id"), "sequence": event.get("sequence")}
                except (ValueError, KeyError, TypeError):
                    row, signed = {"id": None, "object_id": None, "sequence": None}, False
                with receiver.lock:
                    receiver.received.append({**row, "signed": signed, "body": hashlib.sha256(body).hexdigest()})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def webhook_events(dbname: str, endpoint_id: int) -> dict:
    """The order.* events the endpoint subscribes to: those written since it was created."""
    import psycopg

    with psycopg.connect(dbname=dbname, **PG) as conn:
        rows = conn.execute(
            "SELECT e.id, e.object_id, e.sequence FROM stateset_event e JOIN stateset_webhookendpoint w ON w.id = %s"
            " WHERE e.type LIKE 'order.%%' AND e.created_at >= w.created_at",
            [endpoint_id],
        ).fetchall()
    return {row[0]: [row[1], row[2]] for row in rows}


# ---- the checks -------------------------------------------------------------------------------------------


@dataclass
class Run:
    load: Load
    drills: list[dict]  # {"what", "down", "up"}: seconds since the load began
    facts: dict
    check_inventory: tuple[int, str]
    tasks: dict
    readyz: int
    rerouted: set[str] = field(default_factory=set)  # request ids nginx passed on to the other instance
    # {"events": {event id: [object id, sequence]} (order.* written after the endpoint), "received": [{"id",
    # "object_id", "sequence", "signed", "body"}] in the order they arrived, "wait_s"}; empty: not measured
    webhooks: dict = field(default_factory=dict)


def drill_windows(run: Run) -> list[tuple[float, float]]:
    return [(d["down"] - 0.5, d["up"] + GRACE) for d in run.drills if d["what"].startswith("app")]


def check_statuses(run: Run):
    """Every request ended as its operation expects (the workload's keys never meet their limit)."""
    wrong = Counter(
        (r.op, r.final.status, r.final.code)
        for r in run.load.requests
        if (r.final.status, r.final.code) not in EXPECTED[r.op]
    )
    hot_wrong = Counter(a.status for a in run.load.hot if a.status not in (200, 429))
    ok = not wrong and not hot_wrong and not run.load.crashed
    detail = f"unexpected outcomes {dict(wrong)}; shared key {dict(hot_wrong)}; clients crashed {run.load.crashed}"
    return ok, "none unexpected" if ok else detail


def check_5xx_only_in_drills(run: Run):
    """A 5xx (or a lost connection) only while an app instance was down."""
    windows = drill_windows(run)
    attempts = [a for r in run.load.requests for a in r.attempts] + run.load.hot
    errors = [a for a in attempts if a.status >= 500]
    outside = [a for a in errors if not any(lo <= a.start <= hi or lo <= a.end <= hi for lo, hi in windows)]
    detail = f"{len(errors)} 5xx answers, {len(outside)} outside the instance drill"
    if outside:
        detail += f" (first at {outside[0].start:.1f} s: {outside[0].op} {outside[0].status})"
    return not outside, detail


def check_retries_succeeded(run: Run):
    """Every request that met a 5xx or a 409 succeeded when the client retried it (same Idempotency-Key)."""
    retried = [r for r in run.load.requests if len(r.attempts) > 1]
    failed = [r for r in retried if (r.final.status, r.final.code) not in EXPECTED[r.op]]
    longest = max((r.final.end - r.attempts[0].start for r in retried), default=0)
    return not failed, f"{len(retried)} retried, {len(failed)} did not succeed; the longest took {longest:.1f} s"


def rate_windows(hot: list[Attempt], rerouted: set[str] = frozenset()) -> list[dict]:
    """The shared key's answers cut into the server's rate windows. A window opens with the key's first request
    after the last one closed and lasts WINDOW seconds; once it is full every answer is a 429 until it closes.
    So a window starts with the first request, and then at each answer other than a 429 that follows at least a
    second of nothing but 429s (answers near the moment it filled may arrive out of order, hence the second).
    `rerouted`: a request nginx passed on to the other instance may have been counted by the dying one too."""
    windows: list[dict] = []
    refused_since: float | None = None  # the start of the current run of 429s
    for a in sorted(hot, key=lambda a: a.start):
        if a.status == 429:
            refused_since = a.start if refused_since is None else refused_since
        elif a.status < 500:
            if not windows or refused_since is not None and a.start - refused_since >= 1.0:
                windows.append({"start": round(a.start, 2), "allowed": 0, "refused": 0, "errors": 0, "rerouted": 0})
            refused_since = None
        if not windows:
            continue
        kind = "refused" if a.status == 429 else "errors" if a.status >= 500 else "allowed"
        windows[-1][kind] += 1
        windows[-1]["rerouted"] += a.rid in rerouted
    return windows


def check_rate_limit(run: Run):
    """Per rate window of the shared key, never more than 1 % above the limit, and where the key met 429s, not
    more than 1 % below it (counting its 5xx answers and the requests that nginx passed on after the dying
    instance may have counted them); at least one window filled."""
    windows = rate_windows(run.load.hot, run.rerouted)
    tolerance = LIMIT * 0.01
    full = [w for w in windows if w["refused"]]
    bad = [
        w
        for w in windows
        if w["allowed"] > LIMIT + tolerance
        or w["refused"]
        and w["allowed"] + w["errors"] + w["rerouted"] < LIMIT - tolerance
    ]
    detail = f"limit {LIMIT}/{WINDOW} s; allowed per window " + ", ".join(
        f"{w['allowed']}{' + ' + str(w['errors']) + ' 5xx' if w['errors'] else ''} ({w['refused']} refused"
        f"{', ' + str(w['rerouted']) + ' passed on by nginx' if w['rerouted'] else ''})"
        for w in windows
    )
    return bool(full) and not bad, detail + ("" if full else "; the key never reached its limit")


def check_inventory_clean(run: Run):
    """`manage.py check_inventory`: every stock level matches its ledger and its open allocations."""
    code, out = run.check_inventory
    return code == 0, out.strip().splitlines()[-1] if out.strip() else f"exit {code}"


def check_orders_have_lines(run: Run):
    """No order without lines."""
    n = run.facts["orders_without_lines"]
    return n == 0, f"{run.facts['orders']} orders, {n} without lines"


def check_allocations_in_ledger(run: Run):
    """Every consumed allocation has its shipment row in the ledger, and each shipped order's shipment rows add
    up to what its lines shipped."""
    a, b = run.facts["consumed_without_movement"], run.facts["shipped_orders_ledger_mismatch"]
    detail = (
        f"{run.facts['consumed_allocations']} consumed allocations, {a} without a shipment row; "
        f"{run.facts['shipped_orders']} shipped orders, {b} whose ledger differs from their lines"
    )
    return a == 0 and b == 0, detail


def check_tasks_once(run: Run):
    """Every task enqueued ran, and its effect happened once: its order cancelled, one cancel transition in
    the history, none of its stock still allocated."""
    t = run.tasks
    ok = t["effects_missing"] == 0 and t["effects_doubled"] == 0 and t["not_run"] == 0
    detail = (
        f"{t['enqueued']} enqueued ({t['enqueued_while_down']} while the worker was down), "
        f"{t['enqueued'] - t['effects_missing']} cancelled, {t['effects_doubled']} cancelled twice, "
        f"{t['not_run']} never ran, {t['ran_more_than_once']} delivered again after the kill (no second effect)"
    )
    return ok, detail


def check_webhooks_delivered_once_in_effect(run: Run):
    """Every order.* event written while the endpoint existed was received, every signature verified, each
    order's events first arrived in sequence order, and a duplicate is only a redelivery (the same body, at most
    WEBHOOK_MAX_COPIES copies of an event): at least once, deduplicated on StateSet-Event-Id, is once in effect."""
    w = run.webhooks
    if not w:
        return False, "not measured"
    events, received = w["events"], w["received"]
    copies = Counter(m["id"] for m in received)
    missing = [e for e in events if e not in copies]
    unsigned = sum(1 for m in received if not m["signed"])
    bodies: dict = {}
    changed = 0  # a second copy whose body differs from the first: not a redelivery
    first: dict = {}  # object id -> the sequences of its events in the order they first arrived
    for m in received:
        if m["id"] in bodies:
            changed += bodies[m["id"]] != m["body"]
            continue
        bodies[m["id"]] = m["body"]
        first.setdefault(m["object_id"], []).append(m["sequence"])
    out_of_order = [o for o, seqs in first.items() if any(b <= a for a, b in itertools.pairwise(seqs))]
    duplicates = len(received) - len(copies)
    too_many = sum(1 for n in copies.values() if n > WEBHOOK_MAX_COPIES)
    ok = events and not missing and not unsigned and not out_of_order and not changed and not too_many
    detail = (
        f"{len(events)} order.* events, {len(received)} received in {w.get('wait_s', 0):.1f} s after the load "
        f"({len(missing)} missing, {duplicates} duplicates over {sum(1 for n in copies.values() if n > 1)} events, "
        f"{too_many} more than {WEBHOOK_MAX_COPIES} times, {changed} with another body); {unsigned} signatures "
        f"failed; {len(out_of_order)} of {len(first)} orders out of sequence"
    )
    if not events:
        detail += "; no event to deliver"
    return bool(ok), detail


CHECKS = [
    check_statuses,
    check_5xx_only_in_drills,
    check_retries_succeeded,
    check_rate_limit,
    check_inventory_clean,
    check_orders_have_lines,
    check_allocations_in_ledger,
    check_tasks_once,
    check_webhooks_delivered_once_in_effect,
]


FACTS_SQL = {
    "orders": "SELECT count(*) FROM orders_order",
    "orders_without_lines": "SELECT count(*) FROM orders_order o"
    " WHERE NOT EXISTS (SELECT 1 FROM orders_orderlineitem l WHERE l.order_id = o.id)",
    "consumed_allocations": "SELECT count(*) FROM inventory_allocation WHERE status = 'consumed'",
    "consumed_without_movement": "SELECT count(*) FROM inventory_allocation a"
    " JOIN inventory_stocklevel lv ON lv.id = a.level_id"
    " WHERE a.status = 'consumed' AND a.document_type = 'order' AND NOT EXISTS ("
    "  SELECT 1 FROM inventory_stockmovement m WHERE m.reason = 'shipment' AND m.source_type = 'order'"
    "  AND m.source_id = a.document_id AND m.item_id = lv.item_id AND m.location_id = lv.location_id)",
    "shipped_orders": "SELECT count(*) FROM orders_order WHERE shipped_at IS NOT NULL",
    "shipped_orders_ledger_mismatch": "SELECT count(*) FROM orders_order o WHERE o.shipped_at IS NOT NULL AND"
    " (SELECT coalesce(sum(quantity_shipped), 0) FROM orders_orderlineitem l WHERE l.order_id = o.id) <>"
    " (SELECT coalesce(-sum(quantity), 0) FROM inventory_stockmovement m"
    "  WHERE m.reason = 'shipment' AND m.source_type = 'order' AND m.source_id = o.id)",
}


def database_facts(dbname: str) -> dict:
    import psycopg

    with psycopg.connect(dbname=dbname, **PG) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in FACTS_SQL.items()}


def task_facts(dbname: str, order_ids: list[int], enqueued_while_down: int, redis_url: str) -> dict:
    import psycopg
    import redis

    with psycopg.connect(dbname=dbname, **PG) as conn:
        rows = conn.execute(
            "SELECT o.id, o.status,"
            " (SELECT count(*) FROM django_fsm_log_statelog s JOIN django_content_type ct"
            "   ON ct.id = s.content_type_id AND ct.app_label = 'orders' AND ct.model = 'order'"
            "   WHERE s.object_id = o.id AND s.transition = 'cancel'),"
            " (SELECT count(*) FROM inventory_allocation a WHERE a.document_type = 'order'"
            "   AND a.document_id = o.id AND a.status = 'open')"
            " FROM orders_order o WHERE o.id = ANY(%s)",
            [order_ids],
        ).fetchall()
    r = redis.Redis.from_url(redis_url)
    runs = {oid: int(r.get(f"rehearsal:1:rehearsal:runs:{oid}") or 0) for oid in order_ids}
    by_id = {row[0]: row for row in rows}
    return {
        "enqueued": len(order_ids),
        "enqueued_while_down": enqueued_while_down,
        "effects_missing": sum(
            1 for oid in order_ids if oid not in by_id or by_id[oid][1] != "cancelled" or by_id[oid][3]
        ),
        "effects_doubled": sum(1 for row in rows if row[2] > 1),
        "not_run": sum(1 for n in runs.values() if n == 0),
        "ran_more_than_once": sum(1 for n in runs.values() if n > 1),
        "runs": sum(runs.values()),
    }


def webhook_summary(w: dict) -> dict:
    copies = Counter(m["id"] for m in w["received"])
    return {
        "events": len(w["events"]),
        "received": len(w["received"]),
        "distinct_received": len(copies),
        "missing": sum(1 for e in w["events"] if e not in copies),
        "duplicates": len(w["received"]) - len(copies),
        "signatures_failed": sum(1 for m in w["received"] if not m["signed"]),
        "wait_s": round(w.get("wait_s", 0), 1),
    }


# ---- the report ---------------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)


def nginx_rerouted() -> tuple[dict, set[str]]:
    """From nginx's access log: the requests it passed to the second instance after the first failed (their
    `$upstream_addr` names both), by method, and their request ids."""
    log = LOGS / "nginx-access.log"
    lines = log.read_text().splitlines() if log.exists() else []
    rerouted = [line.split() for line in lines if ", " in line]
    return dict(Counter(fields[2] for fields in rerouted)), {fields[-1] for fields in rerouted}


def summary(run: Run, seconds: float) -> dict:
    attempts = [a for r in run.load.requests for a in r.attempts]
    every = attempts + run.load.hot
    by_status = Counter(a.status for a in every)
    ops = {}
    for op in [o for o, _ in MIX] + ["hot"]:
        rows = run.load.hot if op == "hot" else [a for a in attempts if a.op == op]
        lat = [a.end - a.start for a in rows]
        ops[op] = {
            "requests": len(rows),
            "statuses": dict(sorted(Counter(str(a.status) for a in rows).items())),
            "p50_ms": pct(lat, 0.5),
            "p95_ms": pct(lat, 0.95),
        }
    lat = [a.end - a.start for a in attempts]
    windows = drill_windows(run)
    in_drill = [a for a in attempts if any(lo <= a.start <= hi for lo, hi in windows)]
    return {
        "duration_s": DURATION,
        "seconds": round(seconds, 1),
        "requests": len(every),
        "requests_per_s": round(len(every) / seconds, 1),
        "workload_requests": len(attempts),
        "shared_key_requests": len(run.load.hot),
        "by_status": {str(k): v for k, v in sorted(by_status.items())},
        "by_status_share": {str(k): round(100 * v / len(every), 2) for k, v in sorted(by_status.items())},
        "workload_p50_ms": pct(lat, 0.5),
        "workload_p95_ms": pct(lat, 0.95),
        "all_p50_ms": pct([a.end - a.start for a in every], 0.5),
        "all_p95_ms": pct([a.end - a.start for a in every], 0.95),
        "by_operation": ops,
        "rerouted_by_nginx": nginx_rerouted()[0],
        "retried": [
            {
                "op": r.op,
                "at_s": round(r.attempts[0].start, 1),
                "statuses": [a.status for a in r.attempts],
                "seconds": round(r.final.end - r.attempts[0].start, 1),
            }
            for r in run.load.requests
            if len(r.attempts) > 1
        ],
        "during_instance_drill": {
            "requests": len(in_drill),
            "statuses": dict(sorted(Counter(str(a.status) for a in in_drill).items())),
            "p95_ms": pct([a.end - a.start for a in in_drill], 0.95),
        },
    }


def print_report(s: dict, run: Run, results: list[dict]) -> None:
    print()
    print(f"== rehearsal report ({s['duration_s']} s of load, {s['seconds']} s until every request settled)")
    print(
        f"requests through the balancer: {s['requests']} ({s['requests_per_s']}/s): {s['workload_requests']} "
        f"workload, {s['shared_key_requests']} on the shared key"
    )
    print("by status: " + ", ".join(f"{k}: {v} ({s['by_status_share'][k]} %)" for k, v in s["by_status"].items()))
    print(
        f"latency through the balancer (workload): p50 {s['workload_p50_ms']} ms, p95 {s['workload_p95_ms']} ms; "
        f"all requests p50 {s['all_p50_ms']} ms, p95 {s['all_p95_ms']} ms"
    )
    print(f"{'operation':<10} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8}  statuses")
    for op, o in s["by_operation"].items():
        print(f"{op:<10} {o['requests']:>8} {o['p50_ms']:>8} {o['p95_ms']:>8}  {o['statuses']}")
    for d in run.drills:
        print(f"drill: {d['what']} at {d['down']:.1f} s, back at {d['up']:.1f} s")
    dd = s["during_instance_drill"]
    print(
        f"while the instance was down (and {GRACE:.0f} s after): {dd['requests']} requests {dd['statuses']}, "
        f"p95 {dd['p95_ms']} ms"
    )
    print(f"passed to the other instance by nginx after a failure (unseen by clients): {s['rerouted_by_nginx']}")
    for r in s["retried"]:
        statuses = Counter(r["statuses"])
        print(
            f"  retried: {r['op']} at {r['at_s']} s: "
            + ", ".join(f"{n} x {status}" for status, n in statuses.items())
            + f", {r['seconds']} s in all"
        )
    if run.webhooks:
        h = webhook_summary(run.webhooks)
        print(
            f"webhooks (order.*): {h['events']} events, {h['received']} received ({h['distinct_received']} distinct, "
            f"{h['duplicates']} duplicates, {h['signatures_failed']} bad signatures), waited {h['wait_s']} s "
            "after the load"
        )
    print()
    for r in results:
        print(f"[{'PASS' if r['ok'] else 'FAIL'}] {r['name']}: {r['detail']}")


# ---- the run ------------------------------------------------------------------------------------------------


def main() -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    for old in LOGS.glob("*.log"):
        old.unlink()
    ensure_installed()
    stack = Stack()

    def on_signal(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        return rehearse(stack)
    finally:
        print("stopping everything the rehearsal started")
        stack.close()


def rehearse(stack: Stack) -> int:
    t_setup = time.monotonic()
    dbname = f"stateset_rehearsal_{os.getpid()}"
    vhost = f"stateset_rehearsal_{os.getpid()}"
    redis_url = f"redis://127.0.0.1:{REDIS_PORT}/0"

    # Redis of its own, not persisted.
    stack.popen(
        "redis", [which("redis-server"), "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", ""], os.environ
    )
    import redis

    wait_for(lambda: redis.Redis.from_url(redis_url).ping(), "redis-server", 15)

    # The broker: a RabbitMQ virtual host of its own.
    broker_url = os.environ.get("REHEARSAL_BROKER_URL")
    if not broker_url:
        ctl = which("rabbitmqctl")
        added = subprocess.run([ctl, "-q", "add_vhost", vhost], capture_output=True, text=True)
        if added.returncode != 0:
            raise SystemExit(
                f"rabbitmqctl add_vhost failed (run as root, or set REHEARSAL_BROKER_URL): {added.stderr.strip()}"
            )
        stack.cleanups.append(
            ("the vhost", lambda: subprocess.run([ctl, "-q", "delete_vhost", vhost], check=True, capture_output=True))
        )
        subprocess.run(
            [ctl, "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True, capture_output=True
        )
        broker_url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"

    database_url = create_pg_database(dbname)
    stack.cleanups.append(("database", lambda: drop_pg_database(dbname)))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "stateset.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": "rehearsal",
        "CELERY_BROKER_URL": broker_url,
        "API_RATE_LIMIT": RATE_LIMIT,
        "IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS),
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "WEB_CONCURRENCY": "2",
        "WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver is on loopback
    }
    # The database is prepared while the processes start (they touch it only when asked something).
    print(f"database {dbname}: migrate, bench_data (1,000 SKUs), keys, scarce stock, the drill's orders")
    prepared: dict = {}

    def prepare() -> None:
        try:
            prepared["out"] = manage(
                env,
                "shell",
                "-c",
                "from bench.rehearsal_app import setup; setup("
                f"clients={CLIENTS}, scarce_skus={SCARCE_SKUS}, scarce_stock={SCARCE_STOCK}, task_orders={TASKS})",
            )
        except SystemExit as exc:
            prepared["error"] = str(exc)

    preparing = threading.Thread(target=prepare, daemon=True)
    preparing.start()

    # Two app instances, nginx in front, the worker and beat.
    apps = {}

    def start_app(i: int) -> None:
        name = f"app{i + 1}"
        proc, _ = start_gunicorn(
            env,
            "stateset.wsgi",
            2,
            log=stack.log(name),
            port=APP_PORTS[i],
            config=str(ROOT / "gunicorn.conf.py"),
            new_session=True,
        )
        stack.procs[name] = proc
        apps[i] = proc

    with ThreadPoolExecutor(2) as pool:  # both at once; .result() raises a failure to start
        for started in [pool.submit(start_app, i) for i in range(2)]:
            started.result()
    nginx = [which("nginx"), "-p", str(stack.tmp), "-e", str(LOGS / "nginx-error.log")]
    stack.popen("nginx", [*nginx, "-c", str(nginx_config(stack.tmp))], env)
    base = f"http://127.0.0.1:{BALANCER_PORT}"

    worker_args = [
        str(BIN / "celery"),
        *("-A", "stateset", "worker", "--include", "bench.rehearsal_app", "--concurrency", "2"),
        *("--hostname", f"rehearsal-{os.getpid()}@%h", "--loglevel", "INFO", "--without-gossip", "--without-mingle"),
    ]
    stack.popen("worker", worker_args, {**env, "LOG_LEVEL": "INFO", "LOG_FORMAT": "plain"})
    stack.popen(
        "beat",
        [str(BIN / "celery"), "-A", "stateset", "beat", "--schedule", str(stack.tmp / "beat"), "--loglevel", "INFO"],
        env,
    )
    from celery import Celery

    producer = Celery("rehearsal", broker=broker_url)
    wait_for(lambda: producer.control.ping(timeout=1), "the Celery worker", 60)
    preparing.join()
    if "error" in prepared:
        raise SystemExit(prepared["error"])
    data = json.loads(prepared["out"].strip().splitlines()[-1])
    wait_for(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, "nginx (readyz through it)", 30)
    print(
        f"stack up in {time.monotonic() - t_setup:.0f} s: nginx {base} -> 127.0.0.1:{APP_PORTS[0]}, "
        f"127.0.0.1:{APP_PORTS[1]} (gunicorn x 2 workers each); redis {redis_url}; broker {broker_url.split('@')[-1]}"
    )

    # The webhook receiver, and an endpoint for it subscribed to order.* (made through the API).
    receiver = Receiver(RECEIVER_PORT)
    stack.cleanups.append(("the webhook receiver", receiver.close))
    created = httpx.post(
        f"{base}/v1/webhook_endpoints",
        json={"url": f"http://127.0.0.1:{RECEIVER_PORT}/hook", "enabled_events": ["order.*"]},
        headers={"Authorization": f"Token {data['keys'][0]}"},
        timeout=10,
    )
    if created.status_code != 201:
        raise SystemExit(f"creating the webhook endpoint: {created.status_code} {created.text[:300]}")
    endpoint_id, receiver.secret = created.json()["webhook_endpoint"]["id"], created.json()["secret"]
    print(f"webhook endpoint {endpoint_id} (order.*) -> receiver on 127.0.0.1:{RECEIVER_PORT}")

    # The load, and the drills beside it.
    t0 = time.monotonic()
    load = Load(base, data, t0)
    budget = int(RATE * DURATION / CLIENTS)
    threads = [
        threading.Thread(target=load.guarded, args=(load.client, i, budget), daemon=True) for i in range(CLIENTS)
    ]
    hot_rate = HOT_FACTOR * LIMIT / WINDOW / HOT_THREADS
    threads += [
        threading.Thread(target=load.guarded, args=(load.hot_client, i, hot_rate), daemon=True)
        for i in range(HOT_THREADS)
    ]
    print(
        f"load: {DURATION} s, {CLIENTS} clients at {RATE:g} requests/s in all (budget {budget * CLIENTS}), "
        f"the shared key at {hot_rate * HOT_THREADS:.1f}/s against its limit of {RATE_LIMIT}"
    )
    for t in threads:
        t.start()
    drills: list[dict] = []

    def sleep_until(at: float) -> None:
        time.sleep(max(0.0, t0 + at - time.monotonic()))

    sleep_until(DURATION * 0.25)
    down = load.now()
    stack.kill("app1")
    print(f"  {down:5.1f} s  killed app1 (SIGKILL, gunicorn and its workers)")
    time.sleep(APP_DOWN)
    start_app(0)
    up = load.now()
    drills.append({"what": "app1 killed and restarted", "down": round(down, 2), "up": round(up, 2)})
    print(f"  {up:5.1f} s  app1 answers again")

    sleep_until(DURATION * 0.55)
    ids = data["task_orders"]
    half = len(ids) // 2
    for oid in ids[:half]:
        producer.send_task("rehearsal.cancel_order", args=[oid, TASK_HOLD])
    time.sleep(min(2.0, TASK_HOLD * half / 4))
    down = load.now()
    stack.kill("worker")
    print(f"  {down:5.1f} s  killed the Celery worker (SIGKILL) with {half} tasks enqueued; {len(ids) - half} more now")
    for oid in ids[half:]:
        producer.send_task("rehearsal.cancel_order", args=[oid, TASK_HOLD])
    time.sleep(WORKER_DOWN)
    stack.popen("worker", worker_args, {**env, "LOG_LEVEL": "INFO", "LOG_FORMAT": "plain"})
    wait_for(lambda: producer.control.ping(timeout=1), "the Celery worker (again)", 60)
    up = load.now()
    drills.append({"what": "Celery worker killed and restarted", "down": round(down, 2), "up": round(up, 2)})
    print(f"  {up:5.1f} s  the worker is back")

    for t in threads:
        t.join(timeout=max(0.0, t0 + DURATION + RETRY_SECONDS + 10 - time.monotonic()))
    load.stop.set()
    seconds = load.now()
    print(f"load done at {seconds:.1f} s; waiting for the tasks, then checking")

    # The tasks: wait until each has run (or give up after 90 s).
    import psycopg

    def tasks_done() -> bool:
        with psycopg.connect(dbname=dbname, **PG) as conn:
            return conn.execute(
                "SELECT count(*) FROM orders_order WHERE id = ANY(%s) AND status = 'cancelled'", [ids]
            ).fetchone()[0] == len(ids)

    try:
        wait_for(tasks_done, "the drill's tasks", 90)
    except SystemExit as exc:
        print(f"  {exc}")
    time.sleep(TASK_HOLD + 1)  # let a redelivered task's second run finish too

    # The webhooks: wait until every order.* event written since the endpoint was made has arrived (bounded).
    t_hooks = time.monotonic()
    while True:
        hook_events = webhook_events(dbname, endpoint_id)
        arrived = {m["id"] for m in receiver.snapshot()}
        if set(hook_events) <= arrived or time.monotonic() - t_hooks > WEBHOOK_WAIT:
            break
        time.sleep(1)
    time.sleep(2)  # a redelivery already on its way is counted too
    webhooks = {"events": hook_events, "received": receiver.snapshot(), "wait_s": time.monotonic() - t_hooks - 2}
    print(
        f"webhooks: {len(set(hook_events) & arrived)} of {len(hook_events)} order.* events received "
        f"after {webhooks['wait_s']:.1f} s"
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "check_inventory"], cwd=ROOT, env=env, text=True, capture_output=True
    )
    readyz = httpx.get(f"{base}/readyz", timeout=5).status_code
    run = Run(
        load=load,
        drills=drills,
        facts=database_facts(dbname),
        check_inventory=(result.returncode, result.stdout + result.stderr),
        tasks=task_facts(dbname, ids, len(ids) - half, redis_url),
        readyz=readyz,
        rerouted=nginx_rerouted()[1],
        webhooks=webhooks,
    )
    results = []
    for check in CHECKS:
        ok, detail = check(run)
        results.append({"name": check.__name__.removeprefix("check_"), "ok": bool(ok), "detail": detail})
    s = summary(run, seconds)
    print_report(s, run, results)
    report = {
        "settings": {
            "duration_s": DURATION,
            "clients": CLIENTS,
            "rate": RATE,
            "rate_limit": RATE_LIMIT,
            "hot_factor": HOT_FACTOR,
            "scarce_skus": SCARCE_SKUS,
            "scarce_stock": SCARCE_STOCK,
            "tasks": TASKS,
            "app_down_s": APP_DOWN,
            "worker_down_s": WORKER_DOWN,
        },
        "summary": s,
        "drills": drills,
        "rate_windows": rate_windows(load.hot, run.rerouted),
        "facts": run.facts,
        "tasks": run.tasks,
        "webhooks": webhook_summary(webhooks),
        "checks": results,
        "passed": all(r["ok"] for r in results),
    }
    (VAR / "rehearsal.json").write_text(json.dumps(report, indent=2))
    print(f"written to var/rehearsal.json; logs in {LOGS.relative_to(ROOT)}/")
    failed = [r["name"] for r in results if not r["ok"]]
    print("== rehearsal " + ("passed" if not failed else f"FAILED: {', '.join(failed)}"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
