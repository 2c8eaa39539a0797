"""Every return and warranty action from every status over HTTP: allowed ones move to the contract's target
and answer the ack; refused ones are a 422 `invalid_state_transition` naming the status and the allowed
actions, and change nothing (documents, order quantities, refunds, stock, ledger, history)."""

import pytest

from tests.helpers import assert_error
from tests.returns.support import (
    RETURN_ACKS,
    RETURN_BODIES,
    RETURN_SOURCES,
    RETURN_STATUSES,
    RETURN_TARGETS,
    WARRANTY_ACKS,
    WARRANTY_SOURCES,
    WARRANTY_STATUSES,
    WARRANTY_TARGETS,
    assert_consistent,
    fresh,
    make_return,
    make_warranty,
    shipped,
    snapshot,
    stock,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", RETURN_STATUSES)
@pytest.mark.parametrize("action", list(RETURN_SOURCES))
def test_return_action_from_every_status(api, action, status):
    stock()
    ret = make_return(status=status)
    url = f"/v1/returns/{ret.pk}/{action}"
    if status in RETURN_SOURCES[action]:
        response = api.post(url, RETURN_BODIES.get(action, {}), format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["id"], body["object"], body[RETURN_ACKS[action]], body["success"]) == (
            ret.pk,
            "return",
            True,
            True,
        )
        assert body["return"]["status"] == RETURN_TARGETS[action] == fresh(ret).status
    else:
        before = snapshot(ret)
        error = assert_error(
            api.post(url, RETURN_BODIES.get(action, {}), format="json"),
            422,
            "invalid_request_error",
            "invalid_state_transition",
        )
        assert f"its status is '{status}'" in error["message"]
        allowed = sorted(a for a, sources in RETURN_SOURCES.items() if status in sources) + ["update"]
        assert error["errors"] == {"status": status, "allowed_actions": sorted(allowed)}
        assert snapshot(ret) == before
    assert_consistent()


@pytest.mark.parametrize("status", WARRANTY_STATUSES)
@pytest.mark.parametrize("action", list(WARRANTY_SOURCES))
def test_warranty_action_from_every_status(api, action, status):
    claim = make_warranty(status=status)
    url = f"/v1/warranties/{claim.pk}/{action}"
    body = {"reason": "not covered"} if action == "deny" else {}
    if status in WARRANTY_SOURCES[action]:
        response = api.post(url, body, format="json")
        assert response.status_code == 200, response.content
        ack = response.json()
        assert (ack["object"], ack[WARRANTY_ACKS[action]], ack["warranty"]["status"]) == (
            "warranty",
            True,
            WARRANTY_TARGETS[action],
        )
    else:
        before = snapshot(claim)
        error = assert_error(
            api.post(url, body, format="json"), 422, "invalid_request_error", "invalid_state_transition"
        )
        assert f"its status is '{status}'" in error["message"]
        assert snapshot(claim) == before


def test_actions_take_an_empty_body_or_none_at_all_and_the_alias_paths(api):
    stock()
    ret = make_return()
    assert_error(
        api.post(f"/v1/returns/{ret.pk}/approve", {"rma": "RMA-999999"}, format="json"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    response = api.generic("POST", f"/v1/return/{ret.pk}/approve", "", content_type="application/json")
    assert response.status_code == 200 and response.json()["approved"] is True
    claim = make_warranty()
    ack = api.post(f"/v1/warranties/{claim.pk}/approve", {"warranty_id": claim.pk}, format="json").json()
    assert ack["warranty"]["status"] == "approved"
    body = {"return_id": ret.pk, "rma": ret.rma, "reason": "kept it"}
    response = api.put(f"/v1/return/{ret.pk}/cancel", body, format="json")
    assert (response.status_code, fresh(ret).status, fresh(ret).cancel_reason) == (200, "cancelled", "kept it")
    assert_error(
        api.post(f"/v1/returns/{ret.pk}/reopen", {"return_id": ret.pk + 1}, format="json"),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert fresh(ret).status == "cancelled"


def test_reject_needs_a_reason_and_keeps_it(api):
    stock()
    ret = make_return()
    assert_error(
        api.post(f"/v1/returns/{ret.pk}/reject", {}, format="json"), 400, "invalid_request_error", "validation_error"
    )
    assert fresh(ret).status == "requested"
    api.post(f"/v1/returns/{ret.pk}/reject", {"reason": "worn"}, format="json")
    assert (fresh(ret).status, fresh(ret).rejection_reason) == ("rejected", "worn")
    api.post(f"/v1/returns/{ret.pk}/reopen")
    assert (fresh(ret).status, fresh(ret).rejection_reason) == ("requested", "")


def test_a_return_without_lines_cannot_be_approved(api):
    stock()
    order = shipped()
    created = api.post("/v1/return", {"order_id": order.pk}, format="json")
    assert created.status_code == 201
    rid = created.json()["return"]["id"]
    assert_error(api.post(f"/v1/returns/{rid}/approve"), 422, "invalid_request_error", "return_empty")


def test_history_lists_every_step_with_who_and_why(api):
    stock()
    ret = make_return()
    api.post(f"/v1/returns/{ret.pk}/approve", {"notes": "label sent"}, format="json")
    api.post(f"/v1/returns/{ret.pk}/receive", {"received_by": "dock 3"}, format="json")
    history = api.get(f"/v1/returns/{ret.pk}/history?order_direction=asc").json()["history"]
    assert [(h["transition"], h["source_state"], h["state"]) for h in history] == [
        ("create", "requested", "requested"),
        ("approve", "requested", "approved"),
        ("receive", "approved", "received"),
    ]
    assert "label sent" in history[1]["description"] and "via API key" in history[1]["description"]
    assert fresh(ret).received_by == "dock 3"
