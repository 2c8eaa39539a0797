import os

import pytest
from django.db import connection

from tests.factories import api_client, make_user


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """The tests run with DEBUG off but without collectstatic: the manifest storage would find no manifest."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def admin_user(db):
    return make_user(superuser=True, username="root")


@pytest.fixture
def api(db):
    """An API client whose key belongs to a superuser."""
    return api_client()


@pytest.fixture
def auditor(db):
    """An API client whose key belongs to a superuser named auditor (for history rows: `tests.helpers.history`)."""
    return api_client(make_user(superuser=True, username="auditor"))


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.postgres` tests (row locks, real concurrency) run on PostgreSQL only. Under CI they are
    never skipped there: a PostgreSQL run that skips one fails instead (see pytest_runtest_makereport)."""
    is_postgres = connection.vendor == "postgresql"
    if is_postgres:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (
        os.environ.get("CI") == "true"
        and connection.vendor == "postgresql"
        and report.skipped
        and "postgres" in item.keywords
    ):
        report.outcome = "failed"
        report.longrepr = "a PostgreSQL-only test was skipped on PostgreSQL under CI"
