"""Export of any changelist's filtered rows (CSV, XLSX; the view permission decides), and import of customers,
inventory items and promotions: a preview, per-row errors, nothing half-imported, and every row written by the
app's services."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile

from crm.models import Customer
from inventory.models import InventoryItem
from orders.models import Order, Promotion
from tests.backoffice.support import logged_in
from tests.factories import make_customer, make_item, make_promotion, make_user
from tests.helpers import messages_of
from tests.orders.support import order_in, stock

pytestmark = pytest.mark.django_db


def export(client, url: str, fmt: str = "csv"):
    """Open the export page of a changelist URL (its filters in the query string) and post it with every
    field selected, as the Export button and the form do."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    form = page.context["form"]
    data = {name: "on" for name, field in form.fields.items() if isinstance(field, forms.BooleanField)}
    data["format"] = next(value for value, label in form.fields["format"].choices if label == fmt)
    data["resource"] = "0"
    return client.post(url, data)


def csv_rows(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv"), response["Content-Type"]
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_export_holds_exactly_the_filtered_rows(admin_client):
    stock()
    pending = [order_in("pending"), order_in("pending")]
    order_in("processing")
    order_in("cancelled")
    response = export(admin_client, "/admin/orders/order/export/?status__exact=pending")
    rows = csv_rows(response)
    assert sorted(int(r["id"]) for r in rows) == sorted(o.pk for o in pending)
    assert {r["status"] for r in rows} == {"pending"}


def test_export_follows_the_search_too(admin_client):
    ann, _ = make_customer(email="ann@example.com"), make_customer(email="bob@example.com")
    rows = csv_rows(export(admin_client, "/admin/crm/customer/export/?q=ann"))
    assert [r["email"] for r in rows] == [ann.email]


def test_export_to_xlsx(admin_client):
    for sku in ("XL-1", "XL-2", "XL-3"):
        make_item(sku, reorder_point=4)
    response = export(admin_client, "/admin/inventory/inventoryitem/export/?q=XL-", fmt="xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("id", "sku")
    assert sorted(r[1] for r in rows[1:]) == ["XL-1", "XL-2", "XL-3"]


def test_export_needs_the_view_permission():
    stock()
    order_in("pending")
    assert logged_in(make_user("crm.view_customer")).get("/admin/orders/order/export/").status_code == 403
    viewer = logged_in(make_user("orders.view_order"))
    assert len(csv_rows(export(viewer, "/admin/orders/order/export/"))) == 1


def test_export_never_writes_secrets(admin_client):
    rows = csv_rows(export(admin_client, "/admin/auth/user/export/"))
    assert rows and "password" not in rows[0]
    make_user()
    from tests.factories import make_key

    make_key()
    rows = csv_rows(export(admin_client, "/admin/stateset/apikey/export/"))
    assert rows and "hashed_key" not in rows[0] and "prefix" in rows[0]


# ---- import ------------------------------------------------------------------------------------------------


def upload(client, model_path: str, text: str):
    """Step one of an import: the preview (a dry run that writes nothing)."""
    page = client.get(f"/admin/{model_path}/import/")
    assert page.status_code == 200
    form = page.context["form"]
    csv_format = next(value for value, label in form.fields["format"].choices if label == "csv")
    file = SimpleUploadedFile("rows.csv", text.encode(), content_type="text/csv")
    return client.post(f"/admin/{model_path}/import/", {"import_file": file, "format": csv_format, "resource": "0"})


def confirm(client, model_path: str, preview):
    """Step two: the confirm button of a preview without errors."""
    confirm_form = preview.context["confirm_form"]
    data = {name: confirm_form[name].value() for name in confirm_form.fields}
    return client.post(f"/admin/{model_path}/process_import/", data, follow=True)


def test_customer_import_previews_then_creates_and_updates_through_the_service(admin_client):
    known = make_customer(email="Known@Example.com", first_name="Old")
    text = (
        "email,first_name,last_name,sso_id,phone\n"
        " new@example.com ,New,Person,,555-1\n"  # the service strips the email and stores a blank sso_id as none
        "known@example.com,Renamed,,,\n"  # found case-insensitively: an update, not a duplicate
    )
    preview = upload(admin_client, "crm/customer", text)
    result = preview.context["result"]
    assert not result.has_errors() and not result.has_validation_errors(), [r.error_dict for r in result.invalid_rows]
    assert [row.import_type for row in result.rows] == ["new", "update"]
    assert Customer.objects.count() == 1  # the preview wrote nothing
    response = confirm(admin_client, "crm/customer", preview)
    assert any("Import finished" in m for m in messages_of(response)), messages_of(response)
    new = Customer.objects.get(email="new@example.com")
    assert (new.first_name, new.sso_id, new.phone) == ("New", None, "555-1")
    known.refresh_from_db()
    assert (known.pk, known.email, known.first_name) == (known.pk, "known@example.com", "Renamed")
    assert Customer.objects.count() == 2


def test_one_bad_row_reports_its_row_and_nothing_is_written(admin_client):
    make_customer(email="taken@example.com", sso_id="sso-1")
    text = (
        "email,first_name,sso_id\n"
        "fine@example.com,Fine,\n"
        "other@example.com,Clash,sso-1\n"  # the service refuses: sso_id is another customer's
        "not-an-email,Bad,\n"  # the shape check refuses
    )
    preview = upload(admin_client, "crm/customer", text)
    result = preview.context["result"]
    assert "confirm_form" not in preview.context
    errors = {row.number: row.error_dict for row in result.invalid_rows}
    assert set(errors) == {2, 3}
    assert "A customer with the sso_id 'sso-1' already exists." in errors[2]["__all__"]
    assert "email" in errors[3]
    content = preview.content.decode()
    assert "already exists" in content and "<td>2 </td>" in content
    assert not Customer.objects.filter(email__in=["fine@example.com", "other@example.com"]).exists()


def test_a_row_failing_at_the_confirm_step_rolls_the_whole_import_back(admin_client):
    """The file passed its preview; before the confirm, another user makes row 2 break a rule."""
    text = "code,type,value,usage_limit\nFRESH,percentage,10,\nSPRING,percentage,10,1\n"
    preview = upload(admin_client, "orders/promotion", text)
    assert "confirm_form" in preview.context
    spring = make_promotion("spring", usage_limit=5)
    Promotion.objects.filter(pk=spring.pk).update(times_used=3)
    response = confirm(admin_client, "orders/promotion", preview)
    messages = messages_of(response)
    assert any(m.startswith("Nothing was imported.") and "row 2: Already used 3 times." in m for m in messages), (
        messages
    )
    assert not Promotion.objects.filter(code="FRESH").exists()
    assert Promotion.objects.get(pk=spring.pk).usage_limit == 5


def test_item_import_goes_through_the_item_services(admin_client):
    make_item("KNOWN-1", description="old", reorder_point=1)
    text = "sku,description,unit_cost,reorder_point,active\nKNOWN-1,new text,2.50,7,1\nNEW-1,fresh,1.25,3,1\n"
    preview = upload(admin_client, "inventory/inventoryitem", text)
    confirm(admin_client, "inventory/inventoryitem", preview)
    known = InventoryItem.objects.get(sku="KNOWN-1")
    assert (known.description, known.unit_cost, known.reorder_point) == ("new text", Decimal("2.50"), 7)
    assert InventoryItem.objects.get(sku="NEW-1").unit_cost == Decimal("1.25")


def test_promotion_import_obeys_the_services_rules(admin_client):
    used = make_promotion("USED", usage_limit=5)
    Promotion.objects.filter(pk=used.pk).update(times_used=3)
    preview = upload(admin_client, "orders/promotion", "code,type,value,usage_limit\nused,percentage,10,2\n")
    [invalid] = preview.context["result"].invalid_rows
    assert invalid.error_dict["__all__"] == ["Already used 3 times."]
    assert Promotion.objects.get(pk=used.pk).usage_limit == 5


def test_import_needs_add_and_change():
    text = "email\nx@example.com\n"
    viewer = logged_in(make_user("crm.view_customer", "crm.add_customer"))
    assert viewer.get("/admin/crm/customer/import/").status_code == 403
    page = viewer.get("/admin/crm/customer/")
    assert b"import_link" not in page.content and b"export_link" in page.content
    clerk = logged_in(make_user("crm.view_customer", "crm.add_customer", "crm.change_customer"))
    confirm(clerk, "crm/customer", upload(clerk, "crm/customer", text))
    assert Customer.objects.filter(email="x@example.com").exists()


def test_the_order_total_is_exported_as_money(admin_client):
    stock()
    order = order_in("pending")
    [row] = csv_rows(export(admin_client, f"/admin/orders/order/export/?id__exact={order.pk}"))
    assert Decimal(row["total"]) == Order.objects.get(pk=order.pk).total
