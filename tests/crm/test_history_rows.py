"""Creating and editing a lead or a case leaves an audit row in its history (`create`, `update` naming the fields
given), with the actor."""

import pytest

from tests.helpers import history

pytestmark = pytest.mark.django_db


def test_lead_create_and_update(auditor):
    created = auditor.post("/v1/leads", {"firstName": "Ann", "email": "ann@example.com"})
    assert created.status_code == 201, created.json()
    lead = created.json()["lead"]["id"]
    assert auditor.patch(f"/v1/leads/{lead}", {"title": "CTO", "firstName": "Annie"}).status_code == 200
    assert auditor.post(f"/v1/leads/{lead}/engage").status_code == 200
    assert history(auditor, "leads", lead) == [
        ("create", "new", "new", "auditor", ""),
        ("update", "new", "new", "auditor", "changed first_name, title"),
        ("engage", "new", "engaged", "auditor", ""),
    ]


def test_case_create_and_update(auditor):
    created = auditor.post("/v1/cases", {"caseName": "Broken fan"})
    assert created.status_code == 201, created.json()
    case = created.json()["case"]["id"]
    assert auditor.patch(f"/v1/cases/{case}", {"priority": "high", "caseNumber": "ZD-1"}).status_code == 200
    assert auditor.post(f"/v1/cases/{case}/escalate").status_code == 200
    assert history(auditor, "cases", case) == [
        ("create", "open", "open", "auditor", ""),
        ("update", "open", "open", "auditor", "changed case_number, priority"),
        ("escalate", "open", "escalated", "auditor", ""),
    ]
