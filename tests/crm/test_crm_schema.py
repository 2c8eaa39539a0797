import pytest
import yaml
from django.core.management import call_command


@pytest.mark.django_db
def test_leads_and_cases_in_the_schema_without_their_aliases(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
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
