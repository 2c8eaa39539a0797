"""`make rehearsal`'s judgement without its processes (bench/rehearsal.py): the shared key's answers cut into
rate windows, the checks on made-up runs, and the nginx configuration it derives from deploy/nginx.conf."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bench import rehearsal as r


def hot(spec: list[tuple[float, int]]) -> list[r.Attempt]:
    return [r.Attempt("hot", status, t, t + 0.05) for t, status in spec]


def filled_window(start: float, allowed: int, refused: int, rate: float = 6.0) -> list[tuple[float, int]]:
    times = [start + i / rate for i in range(allowed + refused)]
    return [(t, 200 if i < allowed else 429) for i, t in enumerate(times)]


def run_of(requests=(), hot_attempts=(), drills=()) -> r.Run:
    load = r.Load("http://x", {}, 0.0)
    load.requests = list(requests)
    load.hot = list(hot_attempts)
    tasks = {"enqueued": 0, "enqueued_while_down": 0, "effects_missing": 0, "effects_doubled": 0}
    return r.Run(load, list(drills), {}, (0, "OK"), {**tasks, "not_run": 0, "ran_more_than_once": 0}, 200)


def test_rate_windows_split_where_a_full_window_reopens():
    limit = r.LIMIT
    spec = filled_window(0.0, limit, 100) + filled_window(60.1, limit, 30)
    # An answer of the first window that arrives just after the first 429 (concurrent requests) stays in it.
    spec.append((spec[limit][0] + 0.01, 200))
    windows = r.rate_windows(hot(spec))
    assert [(w["allowed"], w["refused"]) for w in windows] == [(limit + 1, 100), (limit, 30)]
    assert windows[1]["start"] == 60.1


def test_rate_limit_check_holds_within_one_percent_and_needs_a_full_window():
    limit = r.LIMIT
    ok, _ = r.check_rate_limit(run_of(hot_attempts=hot(filled_window(0.0, limit, 50))))
    assert ok
    ok, detail = r.check_rate_limit(run_of(hot_attempts=hot(filled_window(0.0, limit + 5, 50))))
    assert not ok
    ok, detail = r.check_rate_limit(run_of(hot_attempts=hot(filled_window(0.0, limit - 10, 0))))
    assert not ok and "never reached its limit" in detail
    ok, _ = r.check_rate_limit(run_of(hot_attempts=hot(filled_window(0.0, limit - 10, 50))))
    assert not ok  # refused well below the limit: the count leaked


def test_a_5xx_counts_only_inside_an_instance_drill_and_only_if_the_retry_succeeded():
    drills = [{"what": "app1 killed and restarted", "down": 10.0, "up": 20.0}]
    retried = r.Request("create", [r.Attempt("create", 502, 10.2, 10.3), r.Attempt("create", 201, 10.6, 10.7)])
    assert r.check_5xx_only_in_drills(run_of([retried], drills=drills))[0]
    assert r.check_retries_succeeded(run_of([retried], drills=drills))[0]

    late = r.Request("list", [r.Attempt("list", 502, 40.0, 40.1), r.Attempt("list", 200, 40.5, 40.6)])
    assert not r.check_5xx_only_in_drills(run_of([late], drills=drills))[0]

    gave_up = r.Request("ship", [r.Attempt("ship", 502, 11.0, 11.1), r.Attempt("ship", 502, 11.5, 11.6)])
    assert not r.check_retries_succeeded(run_of([gave_up], drills=drills))[0]
    assert not r.check_statuses(run_of([gave_up], drills=drills))[0]


def test_statuses_allow_only_what_each_operation_expects():
    short = r.Request("create", [r.Attempt("create", 422, 1, 2, "insufficient_stock")])
    assert r.check_statuses(run_of([short]))[0]
    throttled = r.Request("list", [r.Attempt("list", 429, 1, 2, "rate_limited")])
    assert not r.check_statuses(run_of([throttled]))[0]


def test_the_nginx_configuration_is_deploy_nginx_conf_pointed_at_the_two_instances(tmp_path):
    conf = r.nginx_config(tmp_path)
    site = (tmp_path / "site.conf").read_text()
    for port in r.APP_PORTS:
        assert f"server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;" in site
    assert f"listen 127.0.0.1:{r.BALANCER_PORT};" in site
    assert "proxy_next_upstream error timeout http_502 http_503;" in site
    nginx = r.which("nginx")
    if not nginx:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    r.LOGS.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_request_nginx_passed_on_may_have_been_counted_twice():
    attempts = hot(filled_window(0.0, r.LIMIT - 2, 50))
    attempts[5].rid, attempts[9].rid = "rehearsal-hot-0-5", "rehearsal-hot-1-9"
    assert not r.check_rate_limit(run_of(hot_attempts=attempts))[0]
    run = run_of(hot_attempts=attempts)
    run.rerouted = {"rehearsal-hot-0-5", "rehearsal-hot-1-9"}
    ok, detail = r.check_rate_limit(run)
    assert ok and "2 passed on by nginx" in detail


def hooks(events: dict, received: list[tuple]) -> dict:
    """`received`: (event id, signed, body) in the order they arrived; the body defaults to the event's own."""
    rows = [
        {
            "id": e,
            "object_id": events.get(e, [0, 0])[0],
            "sequence": events.get(e, [0, 0])[1],
            "signed": signed,
            "body": body or f"body {e}",
        }
        for e, signed, body in received
    ]
    return {"events": events, "received": rows, "wait_s": 1.5}


def test_webhooks_check_allows_redeliveries_but_not_a_gap_a_bad_signature_or_disorder():
    check = r.check_webhooks_delivered_once_in_effect
    events = {1: [10, 1], 2: [10, 2], 3: [11, 1], 4: [10, 3]}
    in_order = [(1, True, ""), (3, True, ""), (2, True, ""), (4, True, "")]

    def run(received, evts=events):
        run = run_of()
        run.webhooks = hooks(evts, received)
        return check(run)

    ok, detail = run(in_order)
    assert ok and "4 order.* events, 4 received" in detail and "0 duplicates" in detail
    # A redelivery (the same body again, even after later events of its order) is at least once, allowed.
    ok, detail = run([*in_order, (2, True, ""), (2, True, "")])
    assert ok and "2 duplicates over 1 events" in detail
    assert not run(in_order[:-1])[0]  # an event never received
    assert not run([*in_order[:2], (2, False, ""), in_order[3]])[0]  # a signature that did not verify
    assert not run([(1, True, ""), (4, True, ""), (2, True, ""), (3, True, "")])[0]  # order 10: 1, 3, 2
    assert not run([*in_order, (2, True, "another body")])[0]  # a "duplicate" that is not the same event
    assert not run([*in_order, *[(1, True, "")] * r.WEBHOOK_MAX_COPIES])[0]  # more copies than redelivery explains
    assert not run([], {})[0]  # nothing to deliver: the check measured nothing
    assert run_of().webhooks == {} and not check(run_of())[0]  # not measured
