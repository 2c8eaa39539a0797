"""The back office obeys the API's rules: transition buttons and the convert action run through the same
transitions and services, with the same permission and the same audit rows."""

import pytest
from django_fsm_log.models import StateLog

from crm.models import Case, Customer, Lead
from tests.factories import make_case, make_customer, make_lead
from tests.helpers import change_form_data, staff_client

pytestmark = pytest.mark.django_db


def press(client, url: str, transition: str):
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, {**change_form_data(page), "_fsm_transition_to": transition}, follow=True)


def add(client, url: str, values: dict):
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, {**change_form_data(page), **values})


def test_lead_change_page_offers_the_buttons_of_its_status(admin_client):
    lead = make_lead("new")
    content = admin_client.get(f"/admin/crm/lead/{lead.pk}/change/").content.decode()
    assert 'value="engage"' in content and 'value="reject"' in content
    assert 'value="accept"' not in content
    assert 'value="convert"' not in content  # converting creates a customer: an admin action, not a button


def test_lead_transition_button_runs_the_transition(admin_client):
    lead = make_lead("new", first_name="Kept", phone="123")
    response = press(admin_client, f"/admin/crm/lead/{lead.pk}/change/", "engage")
    assert response.status_code == 200
    fresh = Lead.objects.get(pk=lead.pk)
    assert (fresh.status, fresh.first_name, fresh.phone) == ("engaged", "Kept", "123")
    assert list(StateLog.objects.for_(fresh).values_list("transition", flat=True)) == ["create", "engage"]  # no update
    log = StateLog.objects.for_(fresh).get(transition="engage")
    assert (log.transition, log.source_state, log.state, log.by.username) == ("engage", "new", "engaged", "root")
    assert "root in the admin" in log.description


def test_unconvert_button_keeps_the_customer(admin_client):
    lead = make_lead("converted")
    customers = Customer.objects.count()
    press(admin_client, f"/admin/crm/lead/{lead.pk}/change/", "unconvert")
    fresh = Lead.objects.get(pk=lead.pk)
    assert (fresh.status, fresh.converted_customer_id) == ("accepted", None)
    assert Customer.objects.count() == customers


def test_convert_admin_action_creates_one_customer(admin_client):
    leads = [make_lead("accepted", email=e) for e in ("sue@example.com", "SUE@example.com")]
    response = admin_client.post(
        "/admin/crm/lead/",
        {"action": "convert_leads", "_selected_action": [lead.pk for lead in leads]},
        follow=True,
    )
    assert "Converted: 2 done." in response.content.decode()
    customer = Customer.objects.get()
    assert {Lead.objects.get(pk=lead.pk).converted_customer_id for lead in leads} == {customer.pk}
    assert StateLog.objects.filter(transition="convert").count() == 2


def test_convert_admin_action_refuses_a_lead_that_is_not_accepted(admin_client):
    lead = make_lead("engaged")
    response = admin_client.post(
        "/admin/crm/lead/", {"action": "convert_leads", "_selected_action": [lead.pk]}, follow=True
    )
    assert "Cannot convert lead" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).status == "engaged"
    assert Customer.objects.count() == 0


def test_convert_action_and_unconvert_button_need_the_named_permission():
    client = staff_client("crm.view_lead", "crm.change_lead")
    accepted, converted = make_lead("accepted"), make_lead("converted")
    changelist = client.get("/admin/crm/lead/").content.decode()
    assert "convert_leads" not in changelist
    response = client.post("/admin/crm/lead/", {"action": "convert_leads", "_selected_action": [accepted.pk]})
    assert Lead.objects.get(pk=accepted.pk).status == "accepted"
    assert response.status_code in (200, 302)
    page = client.get(f"/admin/crm/lead/{converted.pk}/change/").content.decode()
    assert 'value="unconvert"' not in page
    press(client, f"/admin/crm/lead/{converted.pk}/change/", "unconvert")
    assert Lead.objects.get(pk=converted.pk).status == "converted"


def test_lead_admin_creates_through_the_service(admin_client):
    response = add(admin_client, "/admin/crm/lead/add/", {"first_name": "Ann", "email": "ann@example.com"})
    assert response.status_code == 302, response.content
    lead = Lead.objects.get()
    assert (lead.status, lead.created_by) == ("new", "root")


@pytest.mark.parametrize(
    ("start", "button", "end", "escalated", "closed"),
    [
        ("open", "escalate", "escalated", True, False),
        ("escalated", "close", "closed", False, True),
        ("closed", "reopen", "open", False, False),
    ],
)
def test_case_transition_buttons_keep_the_flags(admin_client, start, button, end, escalated, closed):
    case = make_case(start, priority="high")
    press(admin_client, f"/admin/crm/case/{case.pk}/change/", button)
    fresh = Case.objects.get(pk=case.pk)
    assert (fresh.status, fresh.is_escalated, fresh.is_closed, fresh.priority) == (end, escalated, closed, "high")


def test_case_admin_refuses_a_taken_number_and_generates_one(admin_client):
    make_case(case_number="ZD-1")
    response = add(admin_client, "/admin/crm/case/add/", {"case_name": "x", "case_number": "zd-1"})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Case.objects.count() == 1
    response = add(admin_client, "/admin/crm/case/add/", {"case_name": "x", "priority": "low"})
    assert response.status_code == 302, response.content
    case = Case.objects.latest("pk")
    assert case.case_number == f"CASE-{case.pk:06d}"


def test_changelists_render(admin_client):
    make_case(customer=make_customer())
    make_lead("converted")
    assert admin_client.get("/admin/crm/case/?status__exact=open").status_code == 200
    assert admin_client.get("/admin/crm/lead/?status__exact=converted").status_code == 200


def test_customer_page_shows_cases_and_related_documents(admin_client):
    customer = make_customer()
    case = make_case("escalated", customer=customer, case_name="Torn strap")
    make_lead("converted", email=customer.email)
    content = admin_client.get(f"/admin/crm/customer/{customer.pk}/change/").content.decode()
    assert "Torn strap" in content and case.case_number in content
    assert "Related documents" in content
    assert f"/admin/crm/case/?customer__id__exact={customer.pk}" in content
    assert f"/admin/crm/lead/?converted_customer__id__exact={customer.pk}" in content
    filtered = admin_client.get(f"/admin/crm/case/?customer__id__exact={customer.pk}")
    assert filtered.status_code == 200 and "Torn strap" in filtered.content.decode()


def test_admin_refuses_to_delete_a_customer_with_cases(admin_client):
    customer = make_customer()
    make_case(customer=customer)
    response = admin_client.post(f"/admin/crm/customer/{customer.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200
    assert "protected" in response.content.decode().lower()
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_customer_admin_saves_through_the_service_with_the_apis_refusal(admin_client, api, monkeypatch):
    """The form's own check of the unique email is skipped here (as when another customer with that email is
    saved between the form's check and the save): the service refuses under its lock, with the API's message,
    and nothing is saved."""
    make_customer(email="Ann@example.com")
    api_refusal = api.post("/v1/customers", {"email": "ann@EXAMPLE.com"}).json()["message"]
    monkeypatch.setattr(Customer, "validate_constraints", lambda self, exclude=None: None)
    response = admin_client.post(
        "/admin/crm/customer/add/",
        {"email": "ann@EXAMPLE.com", "timestamp_0": "2026-01-01", "timestamp_1": "00:00:00"},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == [api_refusal]
    assert api_refusal == "A customer with the email 'ann@EXAMPLE.com' already exists."
    assert Customer.objects.count() == 1
