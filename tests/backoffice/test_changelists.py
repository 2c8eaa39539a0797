"""Every changelist of the back office: a fixed number of queries whatever the page size, search, filters,
export, a date hierarchy on documents, and actions that each declare the permission they need."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from import_export.admin import ExportMixin

from stateset.admin import StatefulAdmin

pytestmark = pytest.mark.django_db

REGISTRY = sorted(admin.site._registry.items(), key=lambda pair: pair[0]._meta.label)
ADMINS = [pytest.param(model, model_admin, id=model._meta.label) for model, model_admin in REGISTRY]


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def page(client, url: str):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return response, len(queries), [q["sql"] for q in queries.captured_queries]


@pytest.mark.parametrize(("model", "model_admin"), ADMINS)
def test_a_changelist_costs_the_same_queries_for_one_row_and_a_hundred(demo, admin_client, model, model_admin):
    url = changelist_url(model)
    rows = model._default_manager.count()
    assert rows >= 3, f"the demo data should hold several {model._meta.verbose_name_plural}"
    admin_client.get(url)  # warm-up: content types, the session
    model_admin.list_per_page = 1
    try:
        small, small_count, _ = page(admin_client, url)
        model_admin.list_per_page = 100
        large, large_count, large_sql = page(admin_client, url)
    finally:
        model_admin.list_per_page = 100
    assert len(small.context["cl"].result_list) == 1
    assert len(large.context["cl"].result_list) == min(rows, 100)
    print(f"{model._meta.label}: {large_count} queries for 1 or {len(large.context['cl'].result_list)} rows")
    assert small_count == large_count, "\n".join(large_sql)


@pytest.mark.parametrize(("model", "model_admin"), ADMINS)
def test_every_changelist_searches_filters_and_exports(demo, admin_client, model, model_admin):
    assert isinstance(model_admin, ExportMixin)
    assert model_admin.search_fields, f"{model._meta.label} has no search"
    response = admin_client.get(changelist_url(model), {"q": "zz-no-such-thing"})
    assert response.status_code == 200
    assert b"export_link" in admin_client.get(changelist_url(model)).content


STATEFUL = [p for p in ADMINS if isinstance(p.values[1], StatefulAdmin)]


@pytest.mark.parametrize(("model", "model_admin"), STATEFUL)
def test_documents_have_filters_by_status_and_a_date_hierarchy(model, model_admin):
    assert model_admin.date_hierarchy == "created_at"
    assert "status" in model_admin.list_filter
    assert "status" in model_admin.list_display


@pytest.mark.parametrize(("model", "model_admin"), ADMINS)
def test_every_action_declares_the_permission_it_needs(model, model_admin):
    """An action without `allowed_permissions` is offered to anyone who can see the changelist."""
    for action in model_admin.actions or ():
        func = getattr(model_admin, action) if isinstance(action, str) else action
        assert getattr(func, "allowed_permissions", None), f"{model._meta.label}.{action} declares no permission"


SMALL_TABLES = {"contenttypes.ContentType", "auth.Permission", "auth.Group"}


@pytest.mark.parametrize(("model", "model_admin"), ADMINS)
def test_foreign_keys_to_big_tables_are_searched_not_listed(rf, admin_user, model, model_admin):
    """A select listing every customer, item, order or location would cost a query per page view and grow
    with the table: the add and change forms (and their inlines) use autocomplete or a raw id instead."""
    from django import forms
    from django.contrib.admin.widgets import AutocompleteSelect, ForeignKeyRawIdWidget

    request = rf.get("/")
    request.user = admin_user
    if not (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)):
        return  # read-only for everyone (the ledger, allocations): no form is ever shown
    owners = [model_admin, *model_admin.get_inline_instances(request, None)]
    for owner in owners:
        form = owner.get_formset(request).form if owner is not model_admin else owner.get_form(request)
        for name, field in form.base_fields.items():
            if not isinstance(field, forms.ModelChoiceField) or isinstance(field, forms.ModelMultipleChoiceField):
                continue
            if field.queryset.model._meta.label in SMALL_TABLES:
                continue
            widget = getattr(field.widget, "widget", field.widget)  # unwrap the related-object wrapper
            assert isinstance(widget, AutocompleteSelect | ForeignKeyRawIdWidget), f"{owner}: {name}"
