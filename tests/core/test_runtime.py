"""Production runtime: the replica router, the access log, /healthz and /readyz, the tasks, the rate limit
in one process and shared by several (Redis), and `check --deploy`."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stateset import routers, tasks, views
from stateset.celery import app as celery_app
from stateset.logging import JsonFormatter
from stateset.models import IdempotencyRecord
from stateset.throttling import ApiKeyRateThrottle
from tests.factories import api_client, make_customer

ROOT = settings.BASE_DIR
PYTHON = sys.executable

# ---- the replica router -----------------------------------------------------------------------------------


@pytest.fixture
def with_replica(monkeypatch):
    """A replica alias in the settings (the router only asks whether there is one)."""
    monkeypatch.setitem(connections.settings, routers.REPLICA, dict(connections.settings["default"]))


def test_reads_go_to_the_replica_only_in_a_read_only_request(with_replica):
    router = routers.ReplicaRouter()
    assert router.db_for_read(IdempotencyRecord) == "default"
    with routers.reading_from_replica(True):
        assert router.db_for_read(IdempotencyRecord) == routers.REPLICA
        assert router.db_for_write(IdempotencyRecord) == "default"
    with routers.reading_from_replica(False):
        assert router.db_for_read(IdempotencyRecord) == "default"


def test_the_event_feed_and_webhooks_are_read_from_the_primary_even_in_a_read_only_request(with_replica):
    from django.apps import apps

    router = routers.ReplicaRouter()
    with routers.reading_from_replica(True):
        for label in sorted(routers.PRIMARY_ONLY):
            assert router.db_for_read(apps.get_model(label)) == "default", label
        assert router.db_for_read(IdempotencyRecord) == routers.REPLICA  # the rest still may use it


def test_reads_inside_a_transaction_go_to_the_primary(with_replica, transactional_db):
    router = routers.ReplicaRouter()
    with routers.reading_from_replica(True), transaction.atomic():
        assert router.db_for_read(IdempotencyRecord) == "default"


def test_without_a_replica_everything_goes_to_the_primary():
    assert routers.REPLICA not in connections.settings
    with routers.reading_from_replica(True):
        assert routers.ReplicaRouter().db_for_read(IdempotencyRecord) == "default"
    router = routers.ReplicaRouter()
    assert router.allow_migrate("default", "orders") and not router.allow_migrate(routers.REPLICA, "orders")


def test_only_get_and_head_under_v1_are_read_only(api, admin_client, monkeypatch):
    seen: list[tuple[str, bool]] = []
    original = routers.ReplicaRouter.db_for_read

    def recording(self, model, **hints):
        seen.append((model._meta.label, routers.read_only_request.get()))
        return original(self, model, **hints)

    monkeypatch.setattr(routers.ReplicaRouter, "db_for_read", recording)
    make_customer()
    seen.clear()
    assert api.get("/v1/customers").status_code == 200
    assert seen and all(read_only for _, read_only in seen)
    seen.clear()
    assert api.post("/v1/customers", {"email": "r@example.com", "firstName": "R", "lastName": "S"}).status_code == 201
    assert seen and not any(read_only for _, read_only in seen)
    seen.clear()
    assert admin_client.get("/admin/crm/customer/").status_code == 200
    assert seen and not any(read_only for _, read_only in seen)


# ---- the access log ---------------------------------------------------------------------------------------


def test_one_json_access_line_per_request(api, caplog):
    make_customer()
    with caplog.at_level(logging.INFO, logger="stateset.access"), CaptureQueriesContext(connection) as queries:
        response = api.get("/v1/customers", HTTP_X_REQUEST_ID="req-42")
    records = [r for r in caplog.records if r.name == "stateset.access"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    from stateset.models import ApiKey

    assert line["request_id"] == "req-42"
    assert line["api_key"] == ApiKey.objects.get().prefix
    assert line["method"] == "GET"
    assert line["route"] == "v1/customers"
    assert line["path"] == "/v1/customers"
    assert line["status"] == response.status_code == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["queries"] == len(queries) > 0
    assert line["level"] == "INFO" and line["logger"] == "stateset.access"


def test_the_access_line_names_the_route_not_the_id(api, caplog):
    customer = make_customer()
    with caplog.at_level(logging.INFO, logger="stateset.access"):
        api.get(f"/v1/customers/{customer.pk}")
    (record,) = [r for r in caplog.records if r.name == "stateset.access"]
    assert record.access["route"] == "v1/customers/<pk>"
    assert record.access["path"] == f"/v1/customers/{customer.pk}"


def test_the_json_formatter_keeps_a_traceback():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed here" and "ValueError: boom" in line["exc_info"]


# ---- health -----------------------------------------------------------------------------------------------


def test_healthz_touches_nothing(client):
    response = client.get("/healthz")  # no `db` fixture: a query would raise
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_the_database_the_cache_and_the_broker(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "ok"}}


@pytest.mark.parametrize("failing", ["database", "cache", "broker"])
def test_readyz_answers_503_without_the_error_text(client, db, monkeypatch, caplog, failing):
    def boom():
        raise RuntimeError("could not connect to db.internal:5432 as admin password=hunter2")

    monkeypatch.setitem(views.CHECKS, failing, boom)
    with caplog.at_level(logging.ERROR, logger="stateset.views"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error" and body["checks"][failing] == "error"
    assert all(status == "ok" for name, status in body["checks"].items() if name != failing)
    assert b"hunter2" not in response.content and b"db.internal" not in response.content
    assert "hunter2" in caplog.text  # the operator finds it in the log


@pytest.fixture
def celery_conf():
    """Change the Celery app's configuration for one test."""
    names = ("broker_url", "broker_transport_options", "task_always_eager")
    saved = {name: celery_app.conf[name] for name in names}
    yield celery_app.conf
    celery_app.conf.update(saved)


def test_readyz_reports_an_unreachable_broker(client, db, celery_conf):
    celery_conf.update(broker_url="redis://127.0.0.1:1/0", broker_transport_options={})
    started = time.monotonic()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["broker"] == "error"
    assert b"127.0.0.1:1" not in response.content
    assert time.monotonic() - started < 10


# ---- tasks ------------------------------------------------------------------------------------------------


def test_the_purge_task_deletes_expired_records_and_is_idempotent(db):
    old = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS + 1)
    IdempotencyRecord.objects.create(scope="s", key="old", fingerprint="f", state="complete", created_at=old)
    IdempotencyRecord.objects.create(scope="s", key="new", fingerprint="f", state="complete")
    assert tasks.purge_idempotency_keys.apply().get() == 1
    assert tasks.purge_idempotency_keys.apply().get() == 0
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_tasks_retry_with_backoff_and_jitter():
    from inventory.tasks import check_inventory

    for task in (tasks.purge_idempotency_keys, check_inventory):
        assert task.autoretry_for == (Exception,)
        assert task.retry_backoff and task.retry_jitter and task.max_retries == 5


def test_every_scheduled_task_exists():
    celery_app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in celery_app.tasks, entry["task"]


def test_enqueue_on_commit_enqueues_only_what_commits(db, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(tasks.purge_idempotency_keys, "delay", lambda *a, **k: sent.append((a, k)))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        tasks.enqueue_on_commit(tasks.purge_idempotency_keys, 1, x=2)
        assert sent == []  # not before the commit
    assert sent == [((1,), {"x": 2})]
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        tasks.enqueue_on_commit(tasks.purge_idempotency_keys)
        raise RuntimeError
    assert callbacks == [] and len(sent) == 1


def test_enqueue_on_commit_runs_the_task_eagerly_when_configured(db, celery_conf, django_capture_on_commit_callbacks):
    celery_conf.update(task_always_eager=True)
    old = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS + 1)
    IdempotencyRecord.objects.create(scope="s", key="old", fingerprint="f", state="complete", created_at=old)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        tasks.enqueue_on_commit(tasks.purge_idempotency_keys)
    assert not IdempotencyRecord.objects.exists()


# ---- the rate limit ---------------------------------------------------------------------------------------


def test_the_rate_limit_counts_every_request_of_a_key(db, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    cache.clear()
    api = api_client()
    statuses = [api.get("/v1/customers").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    retry_after = int(api.get("/v1/customers")["Retry-After"])
    assert 1 <= retry_after <= 60
    assert api_client().get("/v1/customers").status_code == 200  # another key has its own count
    cache.clear()


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, key: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_rate_limit_is_shared_by_processes(tmp_path):
    """Two gunicorn processes on one Redis with API_RATE_LIMIT=20/min: of 40 requests alternating between
    them, exactly 20 pass. (With the local-memory cache each process would let 20 through: 40.)"""
    if not _redis_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379 (needed under CI)")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    prefix = f"test-throttle-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "stateset.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CACHE_KEY_PREFIX": prefix,
        "API_RATE_LIMIT": "20/min",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
    }
    manage = [PYTHON, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, capture_output=True, cwd=ROOT)
    make_key = (
        "from stateset import services; from stateset.actors import Actor; from django.contrib.auth.models import User;"
        "user = User.objects.create_superuser('admin', 'a@example.com', None);"
        "print(services.api_key_create(user=user, name='t', by=Actor.system())[1])"
    )
    made = subprocess.run([*manage, "shell", "-c", make_key], env=env, check=True, capture_output=True, cwd=ROOT)
    key = made.stdout.decode().strip().splitlines()[-1]
    ports = [_free_port(), _free_port()]
    logs = [open(tmp_path / f"gunicorn-{port}.log", "wb") for port in ports]  # noqa: SIM115 - closed below
    servers = [
        subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "1", "--bind", f"127.0.0.1:{port}"]
            + ["stateset.wsgi"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    try:
        deadline = time.monotonic() + 30
        for port in ports:
            while _get_or_none(f"http://127.0.0.1:{port}/healthz") != 200:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        statuses = [_get(f"http://127.0.0.1:{ports[i % 2]}/v1/customers", key) for i in range(40)]
    finally:
        for server in servers:
            server.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        for server in servers:
            server.wait(timeout=30)
        for log in logs:
            log.close()
        import redis

        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        for name in client.scan_iter(f"{prefix}:*"):
            client.delete(name)
    assert statuses.count(200) == 20 and statuses.count(429) == 20, statuses
    assert statuses[:20] == [200] * 20
    # gunicorn's access log: one JSON object per request.
    access = [
        json.loads(line)
        for log in logs
        for line in open(log.name).read().splitlines()  # noqa: SIM115
        if '"gunicorn.access"' in line
    ]
    assert sum(1 for line in access if line["path"] == "/v1/customers") == 40
    assert {line["status"] for line in access if line["path"] == "/v1/customers"} == {200, 429}


def _get_or_none(url: str) -> int | None:
    try:
        return _get(url)
    except OSError:
        return None


# ---- check --deploy ---------------------------------------------------------------------------------------


def test_check_deploy_is_clean_with_the_production_variables():
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "k" + uuid.uuid4().hex + uuid.uuid4().hex + "-Zq!",
        "ALLOWED_HOSTS": "api.example.com",
        "SECURE_SSL_REDIRECT": "1",
        "SECURE_PROXY_SSL_HEADER": "1",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
        "SECURE_HSTS_PRELOAD": "1",
    }
    env.pop("SECURE_COOKIES", None)
    # The browser tests set it in this process (Playwright's sync API); a deployment never has it.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    done = subprocess.run(
        [PYTHON, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
