from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from stateset import services
from stateset.models import ApiKey
from tests.factories import SYSTEM, api_client, make_customer, make_key, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token", "bearer"])
def test_both_schemes_authenticate(scheme):
    client = api_client(scheme=scheme)
    response = client.get("/v1/customers")
    assert response.status_code == 200
    assert response.json()["customers"] == []


def test_missing_key_is_401_missing_api_key():
    response = APIClient().get("/v1/customers")
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "authentication_error"
    assert body["code"] == "missing_api_key"
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize(
    "header",
    ["Token sk_00000000_nope", "Bearer not-a-key", "Basic dXNlcjpwYXNz", "Token", "Token a b"],
)
def test_wrong_key_is_401_invalid_api_key(header):
    make_key()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/v1/customers")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_right_prefix_wrong_secret_is_401():
    key, raw = make_key()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw[:-2]}xx")
    assert client.get("/v1/customers").status_code == 401


def test_revoked_key_is_401():
    key, raw = make_key()
    services.api_key_revoke(api_key=key, by=SYSTEM)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    response = client.get("/v1/customers")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert "revoked" in response.json()["message"]


def test_expired_key_is_401():
    key, raw = make_key(expires_at=timezone.now() - timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.get("/v1/customers")
    assert response.status_code == 401
    assert "expired" in response.json()["message"]


def test_key_records_last_use_and_is_stored_hashed():
    key, raw = make_key()
    assert key.last_used_at is None
    assert raw not in (key.hashed_key, key.prefix) and raw.startswith(key.prefix)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    client.get("/v1/customers")
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_inactive_owner_is_401():
    user = make_user(superuser=True)
    client = api_client(user)
    user.is_active = False
    user.save()
    assert client.get("/v1/customers").status_code == 401


# The 403 matrix: anonymous, a user without the permission, a user with it, a superuser.
CASES = [
    ("get", "/v1/customers", None, "crm.view_customer", 200),
    ("post", "/v1/customers", {"email": "new@example.com"}, "crm.add_customer", 201),
    ("patch", "/v1/customers/{id}", {"phone": "1"}, "crm.change_customer", 200),
    ("put", "/v1/customers/{id}", {"phone": "2"}, "crm.change_customer", 200),
    ("delete", "/v1/customers/{id}", None, "crm.delete_customer", 200),
    ("get", "/v1/customers/{id}", None, "crm.view_customer", 200),
    ("get", "/v1/customers/search?query=x", None, "crm.view_customer", 200),
]


@pytest.mark.parametrize(("method", "path", "body", "perm", "ok"), CASES)
@pytest.mark.parametrize("who", ["anonymous", "without", "with", "superuser"])
def test_permission_matrix(method, path, body, perm, ok, who):
    customer = make_customer()
    url = path.format(id=customer.pk)
    if who == "anonymous":
        client = APIClient()
    elif who == "without":
        # every other customer permission, but not this one
        others = [
            p
            for p in ("crm.view_customer", "crm.add_customer", "crm.change_customer", "crm.delete_customer")
            if p != perm
        ]
        client = api_client(make_user(*others))
    elif who == "with":
        client = api_client(make_user(perm))
    else:
        client = api_client(make_user(superuser=True))
    response = getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
    expected = {"anonymous": 401, "without": 403}.get(who, ok)
    assert response.status_code == expected, response.content
    if expected == 403:
        assert response.json()["type"] == "permission_error"
        assert response.json()["code"] == "insufficient_permissions"
        assert perm in response.json()["message"]
        # refused: nothing changed
        customer.refresh_from_db()
        assert customer.phone == ""


def test_session_login_browses_the_api_with_csrf(client):
    user = make_user(superuser=True)
    client.force_login(user)
    assert client.get("/v1/customers").status_code == 200
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    response = csrf_client.post("/v1/customers", {"email": "s@example.com"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["type"] == "permission_error"


def test_create_api_key_command_prints_the_key_last(capsys):
    user = make_user(username="ops")
    call_command("create_api_key", "ops", "--name", "scanner")
    out = capsys.readouterr().out.strip().splitlines()
    raw = out[-1]
    key = ApiKey.objects.get(user=user)
    assert key.name == "scanner"
    assert key.matches(raw)


def test_create_api_key_command_unknown_user():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="does not exist"):
        call_command("create_api_key", "nobody")
    assert ApiKey.objects.count() == 0
