from datetime import timedelta
from functools import partial

import pytest
from django.utils import timezone
from django_fsm_log.models import StateLog

from crm import services
from crm.models import Customer, Lead
from crm.states import LeadStatus
from tests.factories import SYSTEM, api_client, make_customer, make_lead, make_user
from tests.helpers import assert_error, assert_list_queries_constant, race

pytestmark = pytest.mark.django_db

DOCUMENTED = {
    "id",
    "assistant",
    "assistant_phone",
    "avatar",
    "birthdate",
    "controller",
    "created_at",
    "created_by",
    "department",
    "description",
    "do_not_call",
    "email",
    "email_opt_out",
    "fax",
    "fax_opt_out",
    "firstName",
    "handle",
    "invalid_lead",
    "languages",
    "lastName",
    "last_modified_by",
    "leadSource",
    "mailingCity",
    "mailingCountry",
    "mailingGeocodeAccuracy",
    "mailingState",
    "mailingStreet",
    "owner",
    "phone",
    "photoUrl",
    "processor",
    "title",
}
OURS = {"object", "status", "converted_customer", "updated_at"}

ACKS = {
    "engage": "engaged",
    "accept": "accepted",
    "reject": "rejected",
    "convert": "converted",
    "unconvert": "unconverted",
}
ALLOWED = {
    ("new", "engage"): "engaged",
    ("new", "reject"): "rejected",
    ("engaged", "accept"): "accepted",
    ("engaged", "reject"): "rejected",
    ("accepted", "convert"): "converted",
    ("converted", "unconvert"): "accepted",
}
REFUSED = [(s, a) for s in LeadStatus.values for a in ACKS if (s, a) not in ALLOWED]


def lead_state(lead):
    fresh = Lead.objects.get(pk=lead.pk)
    return fresh.status, fresh.converted_customer_id, StateLog.objects.for_(fresh).count()


# ---- fields -----------------------------------------------------------------------------------------------


def test_create_with_the_documented_fields(api):
    body = {
        "assistant": "Sam",
        "assistant_phone": "555-0101",
        "avatar": "AB",
        "birthdate": "1990-05-17",
        "controller": "ctrl",
        "department": "Purchasing",
        "description": "Met at the trade show",
        "do_not_call": True,
        "email": "ann@example.com",
        "email_opt_out": False,
        "fax": "555-0102",
        "fax_opt_out": True,
        "firstName": "Ann",
        "handle": "@ann",
        "invalid_lead": False,
        "languages": "en, fr",
        "lastName": "Able",
        "leadSource": "Trade show",
        "mailingCity": "Lyon",
        "mailingCountry": "FR",
        "mailingGeocodeAccuracy": "Address",
        "mailingState": "ARA",
        "mailingStreet": "1 rue de la Paix",
        "owner": "alice",
        "phone": "555-0100",
        "photoUrl": "https://example.com/ann.png",
        "processor": "bob",
        "title": "Buyer",
    }
    response = api.post("/v1/leads", body)
    assert response.status_code == 201, response.content
    lead = response.json()["lead"]
    assert set(lead) == DOCUMENTED | OURS
    assert {k: lead[k] for k in body} == body
    assert (lead["object"], lead["status"], lead["converted_customer"]) == ("lead", "new", None)
    assert lead["created_by"] == lead["last_modified_by"] != ""
    saved = Lead.objects.get(pk=lead["id"])
    assert (saved.first_name, saved.lead_source, saved.mailing_city, saved.photo_url) == (
        "Ann",
        "Trade show",
        "Lyon",
        "https://example.com/ann.png",
    )
    assert response["Location"].endswith(f"/v1/leads/{saved.pk}")


def test_created_by_and_last_modified_by_name_the_caller():
    alice = make_user(superuser=True, username="alice")
    bob = make_user(superuser=True, username="bob")
    lead_id = api_client(alice).post("/v1/leads", {"firstName": "Ann"}).json()["lead"]["id"]
    lead = api_client(bob).patch(f"/v1/leads/{lead_id}", {"title": "CTO"}).json()["lead"]
    assert (lead["created_by"], lead["last_modified_by"], lead["title"]) == ("alice", "bob", "CTO")


@pytest.mark.parametrize(
    ("field", "code"),
    [
        ("status", "read_only_field"),
        ("converted_customer", "read_only_field"),
        ("created_by", "read_only_field"),
        ("last_modified_by", "read_only_field"),
        ("id", "read_only_field"),
        ("first_name", "unknown_field"),
        ("favourite", "unknown_field"),
    ],
)
def test_server_owned_and_unknown_fields_are_refused(api, field, code):
    lead = make_lead(phone="1")
    body = assert_error(
        api.patch(f"/v1/leads/{lead.pk}", {field: "converted", "phone": "2"}), 400, "invalid_request_error", code
    )
    assert field in body["errors"]
    assert Lead.objects.get(pk=lead.pk).phone == "1"


def test_status_refusal_names_the_actions(api):
    body = assert_error(api.post("/v1/leads", {"status": "converted"}), 400, "invalid_request_error", "read_only_field")
    assert "accept, convert, engage, reject, unconvert" in body["errors"]["status"]
    assert Lead.objects.count() == 0


def test_bad_values_are_400(api):
    body = assert_error(
        api.post("/v1/leads", {"email": "nope", "photoUrl": "nope", "birthdate": "soon"}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert set(body["errors"]) == {"email", "photoUrl", "birthdate"}


def test_retrieve_update_wrapped_and_delete(api):
    lead = make_lead()
    assert api.get(f"/v1/leads/{lead.pk}").json()["lead"]["id"] == lead.pk
    response = api.put(f"/v1/leads/{lead.pk}", {"lead_id": lead.pk, "lead": {"leadSource": "Web"}})
    assert response.json()["lead"]["leadSource"] == "Web"
    assert api.delete(f"/v1/leads/{lead.pk}").json() == {"id": lead.pk, "object": "lead", "deleted": True}
    assert not Lead.objects.filter(pk=lead.pk).exists()


def test_deleting_a_converted_lead_keeps_its_customer(api):
    lead = make_lead("converted")
    customer_id = Lead.objects.get(pk=lead.pk).converted_customer_id
    assert api.delete(f"/v1/leads/{lead.pk}").status_code == 200
    assert Customer.objects.filter(pk=customer_id).exists()


# ---- transitions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "action"), list(ALLOWED))
def test_allowed_transitions(api, start, action):
    lead = make_lead(start)
    response = api.post(f"/v1/leads/{lead.pk}/{action}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"id", "object", ACKS[action], "success", "lead"}
    assert (body["id"], body["object"], body[ACKS[action]], body["success"]) == (lead.pk, "lead", True, True)
    assert body["lead"]["status"] == ALLOWED[start, action]
    assert Lead.objects.get(pk=lead.pk).status == ALLOWED[start, action]


@pytest.mark.parametrize(("start", "action"), REFUSED)
def test_refused_transitions_change_nothing(api, start, action):
    lead = make_lead(start)
    before, customers = lead_state(lead), Customer.objects.count()
    body = assert_error(
        api.post(f"/v1/leads/{lead.pk}/{action}"), 422, "invalid_request_error", "invalid_state_transition"
    )
    assert f"'{start}'" in body["message"]
    allowed = sorted(a for (s, a) in ALLOWED if s == start)
    assert body["errors"] == {"status": start, "allowed_actions": allowed}
    assert lead_state(lead) == before
    assert Customer.objects.count() == customers


def test_actions_accept_put_a_reason_and_the_repeated_id(api):
    lead = make_lead()
    response = api.put(f"/v1/leads/{lead.pk}/engage", {"lead_id": lead.pk, "reason": "called back"})
    assert response.json()["engaged"] is True
    assert StateLog.objects.for_(lead).get(transition="engage").description.endswith("called back")
    assert_error(
        api.post(f"/v1/leads/{lead.pk}/accept", {"lead_id": lead.pk + 1}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert_error(api.post(f"/v1/leads/{lead.pk}/accept", {"why": "x"}), 400, "invalid_request_error", "unknown_field")
    assert Lead.objects.get(pk=lead.pk).status == "engaged"


def test_a_full_lifecycle_over_http(api):
    lead_id = api.post("/v1/leads", {"email": "flow@example.com", "firstName": "Flo"}).json()["lead"]["id"]
    for action, status in [("engage", "engaged"), ("accept", "accepted"), ("convert", "converted")]:
        assert api.post(f"/v1/leads/{lead_id}/{action}").json()["lead"]["status"] == status
    customer = Customer.objects.get()
    assert (customer.email, customer.first_name) == ("flow@example.com", "Flo")


# ---- conversion -------------------------------------------------------------------------------------------


def test_conversion_creates_one_customer_and_a_second_lead_links_to_it(api):
    first = make_lead("accepted", email="Pat@Example.com", first_name="Pat", last_name="Lee", phone="555")
    second = make_lead("accepted", email="pat@example.COM", first_name="Patricia")
    body = api.post(f"/v1/leads/{first.pk}/convert").json()
    customer = Customer.objects.get()
    assert body["lead"]["converted_customer"] == customer.pk
    assert (customer.email, customer.first_name, customer.last_name, customer.phone) == (
        "Pat@Example.com",
        "Pat",
        "Lee",
        "555",
    )
    body = api.post(f"/v1/leads/{second.pk}/convert").json()
    assert body["lead"]["converted_customer"] == customer.pk
    assert Customer.objects.count() == 1
    assert Customer.objects.get().first_name == "Pat"  # linking does not overwrite the customer


def test_conversion_links_an_existing_customer(api):
    customer = make_customer(email="known@example.com")
    lead = make_lead("accepted", email="KNOWN@example.com")
    assert api.post(f"/v1/leads/{lead.pk}/convert").json()["lead"]["converted_customer"] == customer.pk
    assert Customer.objects.count() == 1
    log = StateLog.objects.for_(lead).filter(transition="convert").get()
    assert f"linked customer {customer.pk}" in log.description


def test_conversion_needs_an_email(api):
    lead = make_lead("accepted", email="")
    before = lead_state(lead)
    body = assert_error(api.post(f"/v1/leads/{lead.pk}/convert"), 422, "invalid_request_error", "lead_missing_email")
    assert "email" in body["errors"]
    assert lead_state(lead) == before
    assert Customer.objects.count() == 0


def test_unconvert_keeps_the_customer(api):
    lead = make_lead("converted", email="keep@example.com")
    customer = Customer.objects.get()
    body = api.post(f"/v1/leads/{lead.pk}/unconvert").json()
    assert body["unconverted"] is True
    assert (body["lead"]["status"], body["lead"]["converted_customer"]) == ("accepted", None)
    assert Customer.objects.filter(pk=customer.pk).count() == 1
    assert f"was customer {customer.pk}" in StateLog.objects.for_(lead).get(transition="unconvert").description
    # converting again links the same customer
    assert api.post(f"/v1/leads/{lead.pk}/convert").json()["lead"]["converted_customer"] == customer.pk
    assert Customer.objects.count() == 1


def test_a_converted_leads_customer_cannot_be_deleted(api):
    lead = make_lead("converted")
    customer = Lead.objects.get(pk=lead.pk).converted_customer
    body = assert_error(api.delete(f"/v1/customers/{customer.pk}"), 422, "invalid_request_error", "customer_has_orders")
    assert "leads" in body["message"]
    assert Customer.objects.filter(pk=customer.pk).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_leads_with_one_email_converting_at_once_make_one_customer():
    leads = [make_lead("accepted", email=e) for e in ("race@example.com", "RACE@example.com")]
    results = race([partial(services.lead_convert, lead=lead, by=SYSTEM) for lead in leads])
    assert [r for r in results if isinstance(r, Exception)] == []
    customer = Customer.objects.get()
    assert [Lead.objects.get(pk=lead.pk).converted_customer_id for lead in leads] == [customer.pk, customer.pk]


# ---- permissions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["convert", "unconvert"])
def test_conversion_needs_the_named_permission(action):
    user = make_user("crm.view_lead", "crm.change_lead")
    lead = make_lead("accepted" if action == "convert" else "converted")
    before, customers = lead_state(lead), Customer.objects.count()
    body = assert_error(
        api_client(user).post(f"/v1/leads/{lead.pk}/{action}"), 403, "permission_error", "insufficient_permissions"
    )
    assert "crm.convert_lead" in body["message"]
    assert lead_state(lead) == before
    assert Customer.objects.count() == customers


def test_the_named_permission_lets_a_user_convert():
    user = make_user("crm.view_lead", "crm.change_lead", "crm.convert_lead")
    lead = make_lead("accepted")
    assert api_client(user).post(f"/v1/leads/{lead.pk}/convert").status_code == 200


@pytest.mark.parametrize(
    ("perms", "method", "path", "status"),
    [
        (("crm.view_lead",), "post", "/v1/leads/{id}/engage", 403),
        (("crm.view_lead", "crm.change_lead"), "post", "/v1/leads/{id}/engage", 200),
        (("crm.change_lead",), "get", "/v1/leads/{id}/history", 403),
        (("crm.view_lead",), "get", "/v1/leads/{id}/history", 200),
        (("crm.view_lead",), "post", "/v1/leads", 403),
        (("crm.view_lead", "crm.change_lead"), "delete", "/v1/leads/{id}", 403),
        (("crm.delete_lead",), "delete", "/v1/leads/{id}", 200),
    ],
)
def test_model_permissions(perms, method, path, status):
    lead = make_lead()
    data = {"firstName": "X"} if path == "/v1/leads" else {}
    response = getattr(api_client(make_user(*perms)), method)(path.format(id=lead.pk), data)
    assert response.status_code == status, response.content


# ---- lists, filters, aliases, history ---------------------------------------------------------------------


@pytest.fixture
def three(db):
    return [
        make_lead("new", email="a@example.com", lead_source="Web", first_name="Ay"),
        make_lead("engaged", email="b@example.com", lead_source="Referral", first_name="Bee"),
        make_lead("rejected", email="c@example.com", lead_source="web", first_name="Cee"),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=new", ["a"]),
        ("status=new,engaged", ["a", "b"]),
        ("leadSource=WEB", ["a", "c"]),
        ("email=B@EXAMPLE.COM", ["b"]),
        ("search=cee", ["c"]),
        ("status=engaged&leadSource=referral", ["b"]),
    ],
)
def test_filters(api, three, query, expected):
    leads = api.get(f"/v1/leads?{query}&order_direction=asc").json()["leads"]
    assert [lead["email"].split("@")[0] for lead in leads] == expected


def test_created_range_and_json_body_filters(api, three):
    Lead.objects.filter(pk=three[0].pk).update(created_at=timezone.now() - timedelta(days=10))
    cutoff = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d")
    before = api.get(f"/v1/leads?created_before={cutoff}").json()["leads"]
    after = api.get(f"/v1/leads?created_after={cutoff}").json()["leads"]
    assert [lead["id"] for lead in before] == [three[0].pk]
    assert len(after) == 2
    body = api.generic("GET", "/v1/leads", '{"status": "rejected"}', content_type="application/json").json()
    assert [lead["id"] for lead in body["leads"]] == [three[2].pk]


@pytest.mark.parametrize("query", ["status=bogus", "status=new,bogus", "created_after=yesterday", "order_by=phone"])
def test_bad_filters_are_400(api, query):
    assert_error(api.get(f"/v1/leads?{query}"), 400, "invalid_request_error", "validation_error")


def test_search_endpoint(api, three):
    assert [lead["firstName"] for lead in api.get("/v1/leads/search?query=bee").json()["leads"]] == ["Bee"]


@pytest.mark.parametrize("suffix", ["", "/"])
def test_documented_retrieve_alias(api, suffix):
    lead = make_lead()
    response = api.get(f"/v1/leads/{lead.pk}/retrieve{suffix}")
    assert response.status_code == 200
    assert response.json()["lead"]["id"] == lead.pk
    assert_error(api.get("/v1/leads/999/retrieve"), 404, "not_found_error", "resource_not_found")


def test_history_records_who_from_and_to():
    user = make_user(superuser=True, username="carol")
    client = api_client(user)
    lead = make_lead()
    client.post(f"/v1/leads/{lead.pk}/engage", {"reason": "first call"})
    client.post(f"/v1/leads/{lead.pk}/accept")
    body = client.get(f"/v1/leads/{lead.pk}/history?order_direction=asc").json()
    assert body["total_count"] == 3
    rows = [(h["transition"], h["source_state"], h["state"], h["by"]) for h in body["history"]]
    assert rows == [
        ("create", "new", "new", None),  # made by the factory's system actor
        ("engage", "new", "engaged", "carol"),
        ("accept", "engaged", "accepted", "carol"),
    ]
    assert "carol via API key" in body["history"][1]["description"]
    assert body["history"][1]["description"].endswith("first call")


def test_list_costs_the_same_queries_for_1_and_50_rows(api):
    assert_list_queries_constant(api, "/v1/leads?limit=100", "leads", lambda: make_lead("converted"))
