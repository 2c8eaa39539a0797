"""The returns back office gives the input the API takes, through the same services: a return's Receive form
records what arrived line by line (a damaged or unsalvageable line is not restocked, a new one exactly once),
its Refund form takes an amount and a reason, approve takes notes and cancel a reason; a claim is approved
with or without a replacement order and cancelled with a reason. Each form is offered only in the statuses
the service allows and to staff with its named permissions; a refusal is the service's message and changes
nothing."""

from decimal import Decimal

import pytest

from inventory.models import StockMovement
from orders import services as order_services
from orders.models import Refund
from returns.models import Return
from tests.factories import SYSTEM, level
from tests.helpers import change_url, messages_of, op_url, staff_client
from tests.returns.support import (
    RETURN_STATUSES,
    WARRANTY_STATUSES,
    assert_consistent,
    fresh,
    lines_of,
    make_return,
    make_warranty,
    return_lines,
    shipped,
    snapshot,
    stock,
)

pytestmark = pytest.mark.django_db


def receive_data(ret: Return, rows: dict, **fields) -> dict:
    """The Receive form's post: `rows` {return line: (quantity received, condition)}."""
    data = {"received_by": "", "reason": "", **fields}
    for line, (quantity, condition) in rows.items():
        data[f"line_{line.pk}_quantity_received"] = quantity
        data[f"line_{line.pk}_condition"] = condition
    return data


def approved_return():
    """A (shipped 2 of 50: 48 on hand) and B (49 on hand); an approved return of both lines, recorded new."""
    a, b = stock()
    order = shipped()  # A × 2 at 10.00, B × 1 at 5.00
    ret = make_return(order, {line: line.quantity for line in lines_of(order)}, status="approved")
    return a, b, ret


# ---- receive ---------------------------------------------------------------------------------------------


def test_the_receive_form_offers_each_line_with_its_quantity_and_condition(admin_client):
    _, _, ret = approved_return()
    assert op_url(ret, "receive").encode() in admin_client.get(change_url(ret)).content
    page = admin_client.get(op_url(ret, "receive"))
    assert page.status_code == 200
    form = page.context["form"]
    line_a, line_b = return_lines(ret)
    assert form[f"line_{line_a.pk}_quantity_received"].value() == 2
    assert form[f"line_{line_b.pk}_quantity_received"].value() == 1
    assert form[f"line_{line_a.pk}_condition"].value() == "new"
    assert "restock" in page.content.decode()


@pytest.mark.parametrize("condition", ["damaged", "unsalvageable", "used"])
def test_a_line_received_damaged_is_not_restocked_and_one_received_new_is_once(admin_client, condition):
    """The review's case: the lines were recorded `new` at request time; the warehouse finds B damaged."""
    a, b, ret = approved_return()
    assert (level(a), level(b)) == ((48, 0, 0), (49, 0, 0))
    line_a, line_b = return_lines(ret)
    data = receive_data(ret, {line_a: (2, "new"), line_b: (1, condition)}, received_by="dock 3")
    response = admin_client.post(op_url(ret, "receive"), data, follow=True)
    assert response.redirect_chain[-1][0] == change_url(ret)
    assert messages_of(response) == [
        f"Received {ret.rma}: restocked 2 x A at MAIN; not restocked: 1 x B ({condition})."
    ], messages_of(response)
    assert (level(a), level(b)) == ((50, 0, 0), (49, 0, 0))  # A back on hand, B not
    assert StockMovement.objects.filter(reason="return_restock").count() == 1
    ret = fresh(ret)
    assert (ret.status, ret.received_by) == ("received", "dock 3")
    assert [(x.quantity_received, x.condition, x.restocked, x.status) for x in return_lines(ret)] == [
        (2, "new", True, "received"),
        (1, condition, False, "received"),
    ]
    # Received once: the form is gone and a second post moves nothing.
    assert op_url(ret, "receive").encode() not in admin_client.get(change_url(ret)).content
    before = snapshot(ret)
    again = admin_client.post(op_url(ret, "receive"), data, follow=True)
    assert messages_of(again) == [f"Receive is not possible on {ret.rma} while it is received."]
    assert snapshot(ret) == before and level(a) == (50, 0, 0)
    assert_consistent()


def test_a_partial_receipt_restocks_what_arrived_and_the_default_refund_follows(admin_client, admin_user):
    a, b, ret = approved_return()
    line_a, line_b = return_lines(ret)
    admin_client.post(op_url(ret, "receive"), receive_data(ret, {line_a: (1, "like_new"), line_b: (0, "new")}))
    assert (level(a), level(b)) == ((49, 0, 0), (49, 0, 0))
    assert [(x.quantity_received, x.restocked) for x in return_lines(ret)] == [(1, True), (0, False)]
    assert fresh(ret).received_by == admin_user.get_username()  # left empty: the user's
    page = admin_client.get(op_url(ret, "refund"))
    assert "10.00" in page.context["help"]  # 1 of 2 units of A at 10.00; nothing of B


def test_receiving_more_than_returned_is_the_services_message_and_changes_nothing(admin_client):
    a, _, ret = approved_return()
    line_a, line_b = return_lines(ret)
    before = snapshot(ret)
    response = admin_client.post(op_url(ret, "receive"), receive_data(ret, {line_a: (3, "new"), line_b: (1, "new")}))
    assert response.status_code == 200
    assert messages_of(response) == ["A line cannot receive more than it returns: A: 3 received of 2 returned."]
    assert snapshot(ret) == before and level(a) == (48, 0, 0)


@pytest.mark.parametrize("status", RETURN_STATUSES)
def test_receive_and_refund_are_offered_only_where_the_contract_allows_them(admin_client, status):
    """Receive from approved, refund from received (contract §4); elsewhere a post is refused, nothing changed."""
    stock()
    ret = make_return(status=status)
    content = admin_client.get(change_url(ret)).content
    for name, label, allowed in (("receive", "Receive", "approved"), ("refund", "Refund", "received")):
        assert (op_url(ret, name).encode() in content) is (status == allowed), name
        if status != allowed:
            before = snapshot(ret)
            response = admin_client.post(op_url(ret, name), {"amount": "1.00"}, follow=True)
            assert messages_of(response) == [
                f"{label} is not possible on {ret.rma} while it is {status.replace('_', ' ')}."
            ]
            assert snapshot(ret) == before


def test_receive_needs_the_receive_permission():
    a, _, ret = approved_return()
    line_a, line_b = return_lines(ret)
    data = receive_data(ret, {line_a: (2, "new"), line_b: (1, "new")})
    before = snapshot(ret)
    clerk = staff_client("returns.view_return", "returns.change_return")
    assert op_url(ret, "receive").encode() not in clerk.get(change_url(ret)).content
    response = clerk.post(op_url(ret, "receive"), data, follow=True)
    assert messages_of(response) == ["Receive needs the permission returns.receive_return."]
    viewer = staff_client("returns.view_return", "returns.receive_return")  # may not change returns
    assert viewer.post(op_url(ret, "receive"), data).status_code == 302
    assert snapshot(ret) == before and level(a) == (48, 0, 0)
    warehouse = staff_client("returns.view_return", "returns.change_return", "returns.receive_return")
    assert op_url(ret, "receive").encode() in warehouse.get(change_url(ret)).content
    warehouse.post(op_url(ret, "receive"), data)
    assert fresh(ret).status == "received" and level(a) == (50, 0, 0)


# ---- refund ----------------------------------------------------------------------------------------------


def received_return():
    stock()
    order = shipped()  # total 25.00
    return make_return(order, {line: line.quantity for line in lines_of(order)}, status="received")


def test_refund_with_an_amount_records_exactly_that_refund_on_the_order(admin_client):
    ret = received_return()
    assert op_url(ret, "refund").encode() in admin_client.get(change_url(ret)).content
    response = admin_client.post(op_url(ret, "refund"), {"amount": "7.50", "reason": "goodwill"}, follow=True)
    order = fresh(ret.order)
    assert messages_of(response) == [f"Refunded 7.50 for {ret.rma} on {order.display_number} (7.50 of 25.00 refunded)."]
    refunds = list(Refund.objects.filter(order=order).values_list("amount", "reason", "source_type", "source_id"))
    assert refunds == [(Decimal("7.50"), "goodwill", "return", ret.pk)]
    assert order.amount_refunded == Decimal("7.50")
    ret = fresh(ret)
    assert (ret.status, ret.total_refunded) == ("refunded", Decimal("7.50"))
    assert {x.status for x in return_lines(ret)} == {"refunded"}
    assert_consistent()


def test_refund_without_an_amount_is_the_default(admin_client):
    ret = received_return()
    admin_client.post(op_url(ret, "refund"), {"amount": "", "reason": ""})
    assert list(Refund.objects.values_list("amount", flat=True)) == [Decimal("25.00")]
    assert fresh(ret).total_refunded == Decimal("25.00")


def test_a_refund_above_the_balance_is_the_services_message_and_changes_nothing(admin_client):
    ret = received_return()
    order_services.order_refund(order=ret.order, by=SYSTEM, amount=Decimal("20.00"))
    before = snapshot(ret)
    response = admin_client.post(op_url(ret, "refund"), {"amount": "6.00", "reason": ""})
    assert response.status_code == 200
    order = fresh(ret.order)
    assert messages_of(response) == [
        f"A refund of 6.00 exceeds the balance of {order.display_number}: 5.00 (total 25.00, already refunded 20.00)."
    ]
    assert snapshot(ret) == before


@pytest.mark.parametrize(
    ("perms", "missing"),
    [
        (("returns.refund_return",), "orders.refund_order"),
        (("orders.refund_order",), "returns.refund_return"),
        ((), "returns.refund_return and orders.refund_order"),
    ],
)
def test_refund_needs_both_named_permissions(perms, missing):
    ret = received_return()
    before = snapshot(ret)
    user = staff_client("returns.view_return", "returns.change_return", *perms)
    assert op_url(ret, "refund").encode() not in user.get(change_url(ret)).content
    response = user.post(op_url(ret, "refund"), {"amount": "1.00"}, follow=True)
    assert messages_of(response) == [f"Refund needs the permission {missing}."]
    assert snapshot(ret) == before
    finance = staff_client(
        "returns.view_return", "returns.change_return", "returns.refund_return", "orders.refund_order"
    )
    assert op_url(ret, "refund").encode() in finance.get(change_url(ret)).content
    finance.post(op_url(ret, "refund"), {"amount": "1.00"})
    assert fresh(ret).total_refunded == Decimal("1.00")


# ---- approve with notes, cancel with a reason ---------------------------------------------------------------


def test_approve_with_notes_records_them_and_needs_the_approve_permission(admin_client):
    stock()
    ret = make_return()
    before = snapshot(ret)
    clerk = staff_client("returns.view_return", "returns.change_return")
    assert op_url(ret, "approve").encode() not in clerk.get(change_url(ret)).content
    response = clerk.post(op_url(ret, "approve"), {"notes": "goodwill"}, follow=True)
    assert messages_of(response) == ["Approve with notes needs the permission returns.approve_return."]
    assert snapshot(ret) == before
    response = admin_client.post(op_url(ret, "approve"), {"notes": "within the window"}, follow=True)
    assert messages_of(response) == [f"Approved {ret.rma}."]
    assert (fresh(ret).status, fresh(ret).approval_notes) == ("approved", "within the window")


def test_cancel_with_a_reason_records_it_and_gives_the_units_back(admin_client):
    stock()
    order = shipped()
    ret = make_return(order, status="approved")
    assert lines_of(order)[0].quantity_returned == 2
    response = admin_client.post(op_url(ret, "cancel"), {"reason": "customer kept it"}, follow=True)
    assert messages_of(response) == [f"Cancelled {ret.rma}: its units go back to {order.display_number}."]
    assert (fresh(ret).status, fresh(ret).cancel_reason) == ("cancelled", "customer kept it")
    assert lines_of(order)[0].quantity_returned == 0
    assert_consistent()


# ---- warranty claims ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("advanced", "choice", "replaced"),
    [(True, "no", False), (False, "yes", True), (True, "", True), (False, "", False)],
)
def test_a_claim_is_approved_with_or_without_a_replacement_whatever_it_asked(admin_client, advanced, choice, replaced):
    a, _ = stock(10)
    order = shipped(("A", 1, "10.00"))
    claim = make_warranty(order, advanced_replacement=advanced)
    assert op_url(claim, "approve").encode() in admin_client.get(change_url(claim)).content
    data = {"create_replacement": choice, "notes": "serial checked"}
    response = admin_client.post(op_url(claim, "approve"), data, follow=True)
    claim = fresh(claim)
    assert (claim.status, claim.approval_notes, claim.replacement_order_created) == (
        "approved",
        "serial checked",
        replaced,
    )
    assert level(a) == ((9, 1, 0) if replaced else (9, 0, 0))
    made = f" Created the replacement order {claim.replacement_order}." if replaced else ""
    assert messages_of(response) == [f"Approved {claim.warranty_number}.{made}"]
    assert_consistent()


def test_approving_a_claim_needs_the_approve_permission_and_a_refusal_changes_nothing(admin_client):
    stock(10)
    claim = make_warranty(shipped(("A", 1, "10.00")))
    before = snapshot(claim)
    clerk = staff_client("returns.view_warranty", "returns.change_warranty")
    assert op_url(claim, "approve").encode() not in clerk.get(change_url(claim)).content
    response = clerk.post(op_url(claim, "approve"), {"create_replacement": "yes"}, follow=True)
    assert messages_of(response) == ["Approve needs the permission returns.approve_warranty."]
    assert snapshot(claim) == before
    no_order = make_warranty(None)  # a replacement ships where the original order went
    before = snapshot(no_order)
    response = admin_client.post(op_url(no_order, "approve"), {"create_replacement": "yes"})
    assert response.status_code == 200
    assert messages_of(response) == [
        f"Warranty {no_order.warranty_number} has no order: a replacement ships where the original order went."
    ]
    assert snapshot(no_order) == before


@pytest.mark.parametrize("status", WARRANTY_STATUSES)
def test_claim_operations_are_offered_only_where_the_service_allows_them(admin_client, status):
    stock(10)
    claim = make_warranty(shipped(("A", 1, "10.00")), status=status)
    content = admin_client.get(change_url(claim)).content
    for name, label, allowed in (
        ("approve", "Approve", ("requested",)),
        ("cancel", "Cancel with a reason", ("requested", "approved")),
    ):
        assert (op_url(claim, name).encode() in content) is (status in allowed), name
        if status not in allowed:
            before = snapshot(claim)
            response = admin_client.post(op_url(claim, name), {"reason": "x"}, follow=True)
            assert messages_of(response) == [
                f"{label} is not possible on {claim.warranty_number} while it is {status.replace('_', ' ')}."
            ]
            assert snapshot(claim) == before


def test_cancelling_a_claim_with_a_reason_cancels_its_replacement(admin_client):
    a, _ = stock(10)
    claim = make_warranty(shipped(("A", 1, "10.00")), status="approved", advanced_replacement=True)
    assert level(a) == (9, 1, 0)
    response = admin_client.post(op_url(claim, "cancel"), {"reason": "customer found the part"}, follow=True)
    claim = fresh(claim)
    assert messages_of(response) == [
        f"Cancelled {claim.warranty_number}. Its replacement order {claim.replacement_order} is cancelled."
    ]
    assert (claim.status, claim.cancel_reason, fresh(claim.replacement_order).status) == (
        "cancelled",
        "customer found the part",
        "cancelled",
    )
    assert level(a) == (9, 0, 0)
    assert_consistent()
