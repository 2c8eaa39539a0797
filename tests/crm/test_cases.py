from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm_log.models import StateLog

from crm.models import Case, Customer
from crm.states import CaseStatus
from tests.factories import api_client, make_case, make_customer, make_user
from tests.helpers import assert_error, assert_list_queries_constant

pytestmark = pytest.mark.django_db

DOCUMENTED = {
    "id",
    "caseName",
    "caseNumber",
    "description",
    "caseStatus",
    "priority",
    "submitter",
    "resolver",
    "account_id",
    "user_id",
    "contact_id",
    "isClosed",
    "isDeleted",
    "isEscalated",
    "createdDate",
    "updatedDate",
    "vendor_id",
    "supplier_id",
}
OURS = {"object", "status", "customer", "order", "created_at", "updated_at"}

ACKS = {"escalate": "escalated", "resolve": "resolved", "close": "closed", "reopen": "reopened"}
ALLOWED = {
    ("open", "escalate"): "escalated",
    ("open", "resolve"): "resolved",
    ("escalated", "resolve"): "resolved",
    ("open", "close"): "closed",
    ("escalated", "close"): "closed",
    ("resolved", "close"): "closed",
    ("resolved", "reopen"): "open",
    ("closed", "reopen"): "open",
}
REFUSED = [(s, a) for s in CaseStatus.values for a in ACKS if (s, a) not in ALLOWED]


def case_state(case):
    fresh = Case.objects.get(pk=case.pk)
    return fresh.status, fresh.is_escalated, fresh.is_closed, StateLog.objects.for_(fresh).count()


def assert_flags_follow(data: dict):
    assert data["caseStatus"] == data["status"]
    assert data["isEscalated"] is (data["status"] == "escalated")
    assert data["isClosed"] is (data["status"] == "closed")


# ---- fields -----------------------------------------------------------------------------------------------


def test_create_with_the_documented_fields(api):
    customer = make_customer()
    body = {
        "caseName": "Damaged parcel",
        "description": "Box crushed",
        "priority": "high",
        "submitter": "ann@example.com",
        "resolver": "",
        "account_id": "acc_1",
        "user_id": "usr_1",
        "contact_id": "con_1",
        "vendor_id": "ven_1",
        "supplier_id": "sup_1",
        "isDeleted": False,
        "customer": customer.pk,
    }
    response = api.post("/v1/cases", body)
    assert response.status_code == 201, response.content
    case = response.json()["case"]
    assert set(case) == DOCUMENTED | OURS
    assert {k: case[k] for k in body} == body
    assert case["object"] == "case"
    assert case["caseNumber"] == f"CASE-{case['id']:06d}"
    assert (case["caseStatus"], case["isEscalated"], case["isClosed"]) == ("open", False, False)
    assert (case["createdDate"], case["updatedDate"]) == (case["created_at"], case["updated_at"])
    assert Case.objects.get(pk=case["id"]).customer == customer


def test_priority_defaults_to_medium_and_case_name_is_required(api):
    assert api.post("/v1/cases", {"caseName": "x"}).json()["case"]["priority"] == "medium"
    body = assert_error(api.post("/v1/cases", {"priority": "high"}), 400, "invalid_request_error", "validation_error")
    assert "caseName" in body["errors"]
    body = assert_error(
        api.post("/v1/cases", {"caseName": "y", "priority": "asap"}), 400, "invalid_request_error", "validation_error"
    )
    assert "priority" in body["errors"]
    assert Case.objects.count() == 1


def test_client_chosen_case_numbers(api):
    assert api.post("/v1/cases", {"caseName": "a", "caseNumber": "ZD-42"}).json()["case"]["caseNumber"] == "ZD-42"
    body = assert_error(
        api.post("/v1/cases", {"caseName": "b", "caseNumber": "zd-42"}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert "caseNumber" in body["errors"]
    assert Case.objects.count() == 1


def test_a_client_number_of_the_generated_form_never_clashes_with_generation(api):
    first = api.post("/v1/cases", {"caseName": "a"}).json()["case"]
    taken = f"CASE-{first['id'] + 1:06d}"
    assert api.post("/v1/cases", {"caseName": "b", "caseNumber": taken}).json()["case"]["caseNumber"] == taken
    third = api.post("/v1/cases", {"caseName": "c"}).json()["case"]
    assert third["caseNumber"] == f"CASE-{third['id']:06d}"
    assert_error(
        api.post("/v1/cases", {"caseName": "d", "caseNumber": first["caseNumber"]}),
        400,
        "invalid_request_error",
        "validation_error",
    )


def test_a_put_echoing_the_case_keeps_its_number_and_an_empty_one_regenerates_it(api):
    case = make_case()
    data = api.get(f"/v1/cases/{case.pk}").json()["case"]
    echo = {k: data[k] for k in ("caseNumber", "caseName", "priority", "description")}
    assert api.put(f"/v1/cases/{case.pk}", echo).json()["case"]["caseNumber"] == f"CASE-{case.pk:06d}"
    assert api.patch(f"/v1/cases/{case.pk}", {"caseNumber": "EXT-1"}).json()["case"]["caseNumber"] == "EXT-1"
    assert api.patch(f"/v1/cases/{case.pk}", {"caseNumber": None}).json()["case"]["caseNumber"] == f"CASE-{case.pk:06d}"


@pytest.mark.parametrize("field", ["caseStatus", "status", "isEscalated", "isClosed", "createdDate", "updatedDate"])
def test_status_and_its_flags_are_read_only(api, field):
    case = make_case(priority="low")
    body = assert_error(
        api.patch(f"/v1/cases/{case.pk}", {field: "closed", "priority": "high"}),
        400,
        "invalid_request_error",
        "read_only_field",
    )
    assert field in body["errors"]
    assert case_state(case) == ("open", False, False, 1)  # the create row only
    assert Case.objects.get(pk=case.pk).priority == "low"


def test_update_wrapped_and_delete(api):
    case = make_case()
    response = api.put(f"/v1/cases/{case.pk}", {"case_id": case.pk, "case": {"priority": "urgent", "isDeleted": True}})
    assert (response.json()["case"]["priority"], response.json()["case"]["isDeleted"]) == ("urgent", True)
    assert api.delete(f"/v1/cases/{case.pk}").json() == {"id": case.pk, "object": "case", "deleted": True}
    assert not Case.objects.exists()


def test_unknown_customer_is_400(api):
    body = assert_error(
        api.post("/v1/cases", {"caseName": "x", "customer": 999}), 400, "invalid_request_error", "validation_error"
    )
    assert "customer" in body["errors"]


def test_a_customer_with_cases_cannot_be_deleted(api):
    customer = make_customer()
    make_case(customer=customer)
    body = assert_error(api.delete(f"/v1/customers/{customer.pk}"), 422, "invalid_request_error", "customer_has_orders")
    assert "cases" in body["message"]
    assert Customer.objects.filter(pk=customer.pk).exists() and Case.objects.count() == 1


# ---- transitions and flags --------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "action"), list(ALLOWED))
def test_allowed_transitions(api, start, action):
    case = make_case(start)
    response = api.post(f"/v1/cases/{case.pk}/{action}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"id", "object", ACKS[action], "success", "case"}
    assert (body["id"], body["object"], body[ACKS[action]], body["success"]) == (case.pk, "case", True, True)
    assert body["case"]["caseStatus"] == ALLOWED[start, action]
    assert_flags_follow(body["case"])
    status, escalated, closed, _ = case_state(case)
    assert (status, escalated, closed) == (ALLOWED[start, action], status == "escalated", status == "closed")


@pytest.mark.parametrize(("start", "action"), REFUSED)
def test_refused_transitions_change_nothing(api, start, action):
    case = make_case(start)
    before = case_state(case)
    body = assert_error(
        api.post(f"/v1/cases/{case.pk}/{action}"), 422, "invalid_request_error", "invalid_state_transition"
    )
    assert f"'{start}'" in body["message"] and f"CASE-{case.pk:06d}" in body["message"]
    assert body["errors"] == {"status": start, "allowed_actions": sorted(a for (s, a) in ALLOWED if s == start)}
    assert case_state(case) == before


def test_flags_follow_the_status_through_every_transition(api):
    case = make_case()
    path = ["escalate", "resolve", "reopen", "escalate", "close", "reopen", "resolve", "close", "reopen", "close"]
    for action in path:
        data = api.post(f"/v1/cases/{case.pk}/{action}").json()["case"]
        assert_flags_follow(data)
        assert_flags_follow(api.get(f"/v1/cases/{case.pk}").json()["case"])
    assert StateLog.objects.for_(case).count() == len(path) + 1  # and the create row


def test_resolve_records_the_resolver(api):
    case = make_case("escalated")
    body = api.post(f"/v1/cases/{case.pk}/resolve", {"case_id": case.pk, "resolver": "bob", "reason": "refunded"})
    assert (body.json()["case"]["resolver"], body.json()["case"]["isEscalated"]) == ("bob", False)
    assert StateLog.objects.for_(case).get(transition="resolve").description.endswith("refunded")


def test_the_database_refuses_flags_that_contradict_the_status():
    case = make_case()
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(is_closed=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(is_escalated=True)


def test_actions_need_change_permission():
    case = make_case()
    reader = api_client(make_user("crm.view_case"))
    assert_error(reader.post(f"/v1/cases/{case.pk}/escalate"), 403, "permission_error", "insufficient_permissions")
    assert case_state(case) == ("open", False, False, 1)  # the create row only
    agent = api_client(make_user("crm.view_case", "crm.change_case"))
    assert agent.post(f"/v1/cases/{case.pk}/escalate").status_code == 200


# ---- lists, filters, aliases, history ---------------------------------------------------------------------


@pytest.fixture
def four(db):
    ann = make_customer(email="ann@example.com")
    return [
        make_case("open", case_name="Late delivery", priority="low", customer=ann),
        make_case("escalated", case_name="Broken zipper", priority="urgent"),
        make_case("resolved", case_name="Wrong size", priority="high", customer=ann),
        make_case("closed", case_name="Refund", priority="high", case_number="ZD-9"),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("caseStatus=open,escalated", [0, 1]),
        ("status=closed", [3]),
        ("priority=high", [2, 3]),
        ("priority=urgent,low", [0, 1]),
        ("email=ANN@example.com", [0, 2]),
        ("caseNumber=zd-9", [3]),
        ("number=ZD-9", [3]),
        ("search=zipper", [1]),
        ("caseStatus=resolved,closed&priority=high", [2, 3]),
    ],
)
def test_filters(api, four, query, expected):
    cases = api.get(f"/v1/cases?{query}&order_direction=asc").json()["cases"]
    assert [c["id"] for c in cases] == [four[i].pk for i in expected]


def test_customer_and_created_filters(api, four):
    customer = four[0].customer
    assert [c["id"] for c in api.get(f"/v1/cases?customer={customer.pk}&order_direction=asc").json()["cases"]] == [
        four[0].pk,
        four[2].pk,
    ]
    Case.objects.filter(pk=four[1].pk).update(created_at=timezone.now() - timedelta(days=3))
    cutoff = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [c["id"] for c in api.get(f"/v1/cases?created_before={cutoff}").json()["cases"]] == [four[1].pk]
    assert api.get(f"/v1/cases?created_after={cutoff}").json()["total_count"] == 3


@pytest.mark.parametrize("query", ["caseStatus=shut", "priority=asap", "customer=abc", "created_before=later"])
def test_bad_filters_are_400(api, query):
    assert_error(api.get(f"/v1/cases?{query}"), 400, "invalid_request_error", "validation_error")


def test_search_by_generated_number(api, four):
    number = four[1].case_number
    assert [c["caseNumber"] for c in api.get(f"/v1/cases/search?query={number}").json()["cases"]] == [number]


@pytest.mark.parametrize("path", ["/v1/cases/list", "/v1/cases/list/"])
def test_documented_list_alias(api, four, path):
    body = api.get(f"{path}?priority=high").json()
    assert (body["total_count"], len(body["cases"])) == (2, 2)
    # the StateSet docs' form: list parameters in a JSON body on GET
    body = api.generic(
        "GET", path, '{"limit": 1, "offset": 0, "order_direction": "asc"}', content_type="application/json"
    )
    assert [c["id"] for c in body.json()["cases"]] == [four[0].pk]


def test_history_records_who_from_and_to():
    client = api_client(make_user(superuser=True, username="dana"))
    case = make_case()
    client.post(f"/v1/cases/{case.pk}/escalate", {"reason": "VIP"})
    client.post(f"/v1/cases/{case.pk}/close")
    body = client.get(f"/v1/cases/{case.pk}/history").json()
    rows = [(h["transition"], h["source_state"], h["state"], h["by"]) for h in body["history"]]
    assert rows == [
        ("close", "escalated", "closed", "dana"),
        ("escalate", "open", "escalated", "dana"),
        ("create", "open", "open", None),  # made by the factory's system actor
    ]
    assert body["history"][1]["description"].startswith("[dana via API key")


def test_list_costs_the_same_queries_for_1_and_50_rows(api):
    customer = make_customer()
    assert_list_queries_constant(
        api, "/v1/cases?limit=100", "cases", lambda: make_case("escalated", customer=customer, priority="high")
    )


def test_a_case_links_an_order_and_filters_by_it(api):
    from tests.factories import make_item, make_order

    order = make_order((make_item(on_hand=1), 1))
    response = api.post("/v1/cases", {"caseName": "Late parcel", "order": order.pk})
    assert response.status_code == 201, response.content
    case_id = response.json()["case"]["id"]
    assert response.json()["case"]["order"] == order.pk
    api.post("/v1/cases", {"caseName": "Other"})
    listed = api.get(f"/v1/cases?order={order.pk}").json()["cases"]
    assert [c["id"] for c in listed] == [case_id]
    assert api.post("/v1/cases", {"caseName": "Bad", "order": 999999}).status_code == 400
