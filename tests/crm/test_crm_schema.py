import pytest

from tests.helpers import openapi_schema


@pytest.mark.django_db
def test_leads_and_cases_in_the_schema_without_their_aliases():
    schema = openapi_schema()
    paths = schema["paths"]
    for action in ("engage", "accept", "reject", "convert", "unconvert", "history"):
        assert f"/v1/leads/{{id}}/{action}" in paths
    for action in ("escalate", "resolve", "close", "reopen", "history"):
        assert f"/v1/cases/{{id}}/{action}" in paths
    assert "/v1/leads/{id}/retrieve" not in paths and "/v1/cases/list" not in paths
    ack = schema["components"]["schemas"]["LeadConvertAck"]["properties"]
    assert {"id", "object", "converted", "success", "lead"} <= set(ack)
    case = schema["components"]["schemas"]["Case"]
    assert "caseName" in case["required"]
    assert case["properties"]["caseStatus"]["readOnly"] is True
