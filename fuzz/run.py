"""`make fuzz`: Schemathesis over every operation of the served schema, stateful phase included, bounded in time.

A fresh database (PostgreSQL: one this script creates on DATABASE_URL's server, or 127.0.0.1:5432 as user
postgres, and drops afterwards; with --sqlite a temporary file), migrated and seeded with `seed_demo` so the
ids links and paths name exist; a superuser's API key; gunicorn (2 workers, DEBUG off) on a free loopback
port; then `schemathesis run <server>/v1/schema` with the key, the checks below, every phase (examples,
coverage, fuzzing, stateful) and `--max-time`. Fuzzing and stateful testing repeat until the time is spent.

Checks: not_a_server_error (no 5xx), status_code_conformance (the status is one the operation documents),
response_schema_conformance (the body matches that status's schema), content_type_conformance, and
json_answer (fuzz/hooks.py: every answer is JSON, whatever its status). negative_data_rejection and
positive_data_acceptance are left out: the schema does not express every rule the services check (a known
SKU, an allowed transition), so they would fail on correct answers (see docs/decisions.md, 2026-12-05).

    make fuzz                                     # FUZZ_SECONDS=300, PostgreSQL
    .venv/bin/python fuzz/run.py --seconds 60 --sqlite
    .venv/bin/python fuzz/run.py --seconds 120 -- --include-path-regex '^/v1/orders'   # after --: to st run

Prints the request count and the result, keeps the reports (junit, ndjson) and gunicorn's log in var/fuzz/,
and exits non-zero on any failure (a server error, a schema violation, a non-JSON answer) or error.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "fuzz"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
from bench.w1_http import start_gunicorn, stop  # noqa: E402  (one way to start and stop the server)

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance,json_answer"
PHASES = "examples,coverage,fuzzing,stateful"


def pg_server() -> dict:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        parsed = urlparse(url)
        return {
            "host": parsed.hostname or "127.0.0.1",
            "port": str(parsed.port or 5432),
            "user": parsed.username or "postgres",
            **({"password": parsed.password} if parsed.password else {}),
        }
    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
    }


def pg_admin(server: dict, sql: str) -> None:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
        conn.execute(sql)


def pg_url(server: dict, name: str) -> str:
    auth = server["user"] + (f":{server['password']}" if "password" in server else "")
    return f"postgres://{auth}@{server['host']}:{server['port']}/{name}"


def manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, text=True, stdout=subprocess.PIPE
    ).stdout


def summarise(ndjson: Path) -> dict:
    """From Schemathesis' event stream: requests sent (by phase and by status class), operations reached,
    and every failed check as (check, operation, status) with its count."""
    requests = 0
    phases: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    operations: set[str] = set()
    failures: Counter[str] = Counter()
    errors: list[str] = []
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        (kind, payload), *_ = event.items()
        if kind == "ScenarioFinished":
            recorder = payload.get("recorder") or {}
            label = recorder.get("label") or ""
            if label.split(" ")[0] in {"GET", "POST", "PUT", "PATCH", "DELETE"}:  # not "Stateful tests"
                operations.add(label)
            labels = {
                case_id: case["value"]["method"] + " " + case["value"]["path"]
                for case_id, case in (recorder.get("cases") or {}).items()
            }
            codes = {}
            for case_id, interaction in (recorder.get("interactions") or {}).items():
                requests += 1
                phases[payload.get("phase") or "?"] += 1
                response = interaction.get("response") or {}
                code = response.get("status_code")
                codes[case_id] = code
                statuses[f"{code // 100}xx" if code else "none"] += 1
            for case_id, checks in (recorder.get("checks") or {}).items():
                for check in checks:
                    if check.get("status") == "failure":
                        failures[f"{check['name']}: {labels.get(case_id, '?')} -> {codes.get(case_id)}"] += 1
        elif kind == "NonFatalError":
            errors.append(str(payload.get("label") or payload.get("info", {}).get("title") or payload)[:200])
    return {
        "requests": requests,
        "by_phase": dict(phases),
        "by_status": dict(sorted(statuses.items())),
        "operations": len(operations),
        "failures": dict(failures.most_common()),
        "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", 300)))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", 20261205)))
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead of PostgreSQL")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--phases", default=PHASES)
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="passed on to `schemathesis run`")
    args = parser.parse_args()

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    env = dict(os.environ)
    env.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "API_RATE_LIMIT": "100000000/min",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "stateset.settings",
        }
    )
    pg = None if args.sqlite else pg_server()
    name = f"stateset_fuzz_{os.getpid()}"
    tmp = None
    if pg is not None:
        pg_admin(pg, f'DROP DATABASE IF EXISTS "{name}"')
        pg_admin(pg, f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = pg_url(pg, name)
    else:
        tmp = tempfile.mkdtemp(prefix="stateset-fuzz-")
        env["DATABASE_URL"] = f"sqlite:///{tmp}/fuzz.sqlite3"
    database = "PostgreSQL" if pg else "SQLite"
    server = None
    log = (OUT / "gunicorn.log").open("w")
    try:
        t0 = time.monotonic()
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "seed_demo", "--quiet", "--no-history")  # the ids, not 90 days of orders
        manage(
            env,
            "shell",
            "-c",
            "from django.contrib.auth.models import User; "
            "User.objects.create_superuser('fuzz', 'fuzz@example.com', None)",
        )
        key = manage(env, "create_api_key", "fuzz", "--name", "fuzz").strip().splitlines()[-1]
        server, base = start_gunicorn(env, "stateset.wsgi", args.workers, log=log)
        print(f"fuzz: {database}, migrated and seeded in {time.monotonic() - t0:.0f} s; serving on {base}", flush=True)

        command = [
            str(BIN / "schemathesis"),
            "--config-file",
            str(ROOT / "fuzz" / "schemathesis.toml"),
            "run",
            f"{base}/v1/schema",
            "--header",
            f"Authorization: Token {key}",
            "--checks",
            CHECKS,
            "--phases",
            args.phases,
            "--max-time",
            str(args.seconds),
            "--seed",
            str(args.seed),
            # One client thread: Hypothesis parses lambdas' source with `ast.parse`, which on Python 3.11
            # fails now and then under threads ("AST constructor recursion depth mismatch").
            "--workers",
            "1",
            "--continue-on-failure",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
            "--suppress-health-check",
            "all",
            "--report",
            "junit,ndjson",
            "--report-dir",
            str(OUT),
            "--no-color",
            *[a for a in args.extra if a != "--"],
        ]
        t1 = time.monotonic()
        st_env = {**env, "SCHEMATHESIS_HOOKS": str(ROOT / "fuzz" / "hooks.py")}
        st_env.pop("DATABASE_URL", None)
        # From var/fuzz: Schemathesis keeps its crash cache (for `st replay`) in .schemathesis/ under the cwd.
        code = subprocess.run(command, cwd=OUT, env=st_env).returncode
        elapsed = time.monotonic() - t1
    finally:
        if server is not None:
            stop(server)
        log.close()
        if pg is not None:
            pg_admin(pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    ndjson = next(OUT.glob("*.ndjson"), None)
    summary = summarise(ndjson) if ndjson else {}
    summary.update({"database": database, "seconds": round(elapsed), "seed": args.seed, "exit_code": code})
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2))
    failed = bool(code) or bool(summary.get("failures")) or bool(summary.get("errors"))
    for failure, count in (summary.get("failures") or {}).items():
        print(f"  failed {count}x  {failure}")
    for error in summary.get("errors") or []:
        print(f"  error  {error}")
    print(
        f"fuzz: {summary.get('requests', '?')} requests over {summary.get('operations', '?')} operations in "
        f"{elapsed:.0f} s on {database}, seed {args.seed} (by phase {summary.get('by_phase')}, "
        f"by status {summary.get('by_status')}): {len(summary.get('failures') or {})} failing checks, "
        f"{len(summary.get('errors') or [])} errors: {'FAILED' if failed else 'passed'} "
        "(reports, summary.json and gunicorn's log in var/fuzz/)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
