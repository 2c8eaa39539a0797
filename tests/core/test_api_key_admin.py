"""The API key admin writes through stateset.services like every other admin: a new key through
api_key_create (its secret shown once), an edit through api_key_update, which leaves an audit row."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_fsm_log.models import StateLog

from stateset.models import ApiKey
from tests.factories import make_key, make_user
from tests.helpers import change_form_data, change_url, messages_of

pytestmark = pytest.mark.django_db


def test_an_edit_in_the_admin_goes_through_the_service_and_leaves_an_audit_row(admin_client):
    key, _ = make_key(make_user(), name="scanner")
    page = admin_client.get(change_url(key))
    expires = timezone.now().replace(microsecond=0) + timedelta(days=30)
    data = {
        **change_form_data(page),
        "name": "scanner-2",
        "expires_at_0": expires.strftime("%Y-%m-%d"),
        "expires_at_1": expires.strftime("%H:%M:%S"),
    }
    response = admin_client.post(change_url(key), data)
    assert response.status_code == 302, response.content
    fresh = ApiKey.objects.get(pk=key.pk)
    assert (fresh.name, fresh.expires_at, fresh.hashed_key, fresh.prefix) == (
        "scanner-2",
        expires,
        key.hashed_key,
        key.prefix,
    )
    rows = list(StateLog.objects.for_(fresh).values_list("transition", "source_state", "state", "by__username"))
    assert rows == [("update", "active", "active", "root")]
    assert StateLog.objects.for_(fresh).get().description == "[root in the admin] changed expires_at, name"


def test_saving_an_unchanged_key_writes_no_audit_row(admin_client):
    key, _ = make_key(make_user(), name="scanner")
    page = admin_client.get(change_url(key))
    assert admin_client.post(change_url(key), change_form_data(page)).status_code == 302
    assert not StateLog.objects.for_(key).exists()
    assert ApiKey.objects.get(pk=key.pk).name == "scanner"


def test_a_key_added_in_the_admin_is_shown_once_and_stored_hashed(admin_client):
    owner = make_user()
    response = admin_client.post("/admin/stateset/apikey/add/", {"name": "till", "user": owner.pk}, follow=True)
    key = ApiKey.objects.get(name="till")
    [message] = [m for m in messages_of(response) if m.startswith("The new key is ")]
    raw = message.removeprefix("The new key is ").partition(" ")[0]
    assert raw.startswith(key.prefix) and key.matches(raw) and raw not in key.hashed_key
    assert key.user == owner


def test_a_key_deleted_in_the_admin_is_gone(admin_client):
    key, _ = make_key(make_user())
    response = admin_client.post(f"/admin/stateset/apikey/{key.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not ApiKey.objects.filter(pk=key.pk).exists()
