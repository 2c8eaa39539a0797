import os

import pytest
from django.db import connection

from tests.factories import api_client, make_user


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _api_keys_cached_for_the_test(settings):
    """A key stays cached for the whole test unless something invalidates it (stateset/auth.py), so that query
    counts do not depend on how fast the machine is (the default, 5 s, can expire mid-test on a busy one)."""
    settings.API_KEY_CACHE_SECONDS = 3600


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


# ---- every /v1 answer conforms to the served OpenAPI schema (issue #14; see tests/openapi_check.py) --------


def pytest_configure(config):
    from django.conf import settings

    settings.MIDDLEWARE = ["tests.openapi_check.SchemaValidationMiddleware", *settings.MIDDLEWARE]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    from tests import openapi_check

    openapi_check.mismatches.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test that received a response the schema does not describe (in its fixtures or its body) fails."""
    from tests import openapi_check

    result = yield
    found, openapi_check.mismatches[:] = list(openapi_check.mismatches), []
    if found:
        pytest.fail(f"{len(found)} response(s) not as the OpenAPI schema says:\n" + "\n".join(found), pytrace=False)
    return result
