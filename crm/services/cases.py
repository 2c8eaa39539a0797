"""Cases: create, update, delete, and their transitions; a case number is the client's (unique) or generated."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from crm.errors import DuplicateCaseNumber
from crm.models import Case
from crm.services.common import changed_note, clean_fields
from stateset import events
from stateset.actors import Actor
from stateset.fsm import apply_transition, lock, log_event

CASE_FIELDS = {
    "case_name",
    "description",
    "priority",
    "submitter",
    "resolver",
    "is_deleted",
    "account_id",
    "user_id",
    "contact_id",
    "vendor_id",
    "supplier_id",
    "customer",
    "order",
}


def case_number_check(number: str, *, case: Case | None = None) -> str:
    """A client-chosen case number, stripped; 400 if another case has it. A case keeping its own number (a
    PUT echoing the whole case) passes. A number of the generated form is allowed: should generation reach
    it later, stateset.models.NumberedModel gives the generated one a suffix."""
    number = number.strip()
    if case is not None and case.case_number == number:
        return number
    others = Case.objects.exclude(pk=case.pk) if case is not None else Case.objects.all()
    if others.filter(case_number__iexact=number).exists():
        raise DuplicateCaseNumber(
            f"A case with the number '{number}' already exists.", errors={"caseNumber": "already used"}
        )
    return number


def case_create(*, by: Actor, case_name: str, case_number: str | None = None, **fields: Any) -> Case:
    """Open a case. Its number is the client's (unique) or, when none is given, generated from its id as
    `CASE-000042`."""
    clean_fields(fields, CASE_FIELDS, "case")
    with transaction.atomic():
        number = case_number_check(case_number) if case_number else None
        case = Case.objects.create(case_name=case_name, case_number=number, **fields)
        case.assign_number()
        log_event(case, "create", by=by)
    return case


def case_update(*, case: Case, by: Actor, **fields: Any) -> Case:
    """Change the given data fields of a case, in any status. A new `case_number` follows the rules of
    create; an empty one brings back the generated number. Status and its flags change only through the
    case's actions."""
    renumber = "case_number" in fields
    number = fields.pop("case_number", None)
    clean_fields(fields, CASE_FIELDS, "case")
    with transaction.atomic():
        case = lock(Case, case.pk)
        if renumber:
            case.case_number = case_number_check(number, case=case) if number else None
        if fields or renumber:
            for name, value in fields.items():
                setattr(case, name, value)
            case.save()
            case.assign_number()
        log_event(case, "update", by=by, reason=changed_note([*fields, *(["case_number"] if renumber else [])]))
    return case


def case_delete(*, case: Case, by: Actor) -> None:
    """Delete a case in any status."""
    with transaction.atomic():
        case = lock(Case, case.pk)
        events.emit(case, "delete", by=by, snapshot=True)
        case.delete()


def _case_transition(case: Case, name: str, *, by: Actor, reason: str = "", **kwargs: Any) -> Case:
    with transaction.atomic():
        case = lock(Case, case.pk)
        apply_transition(case, name, by=by, reason=reason, **kwargs)
    return case


def case_escalate(*, case: Case, by: Actor, reason: str = "") -> Case:
    """open → escalated; `is_escalated` becomes true. 422 from any other status."""
    return _case_transition(case, "escalate", by=by, reason=reason)


def case_resolve(*, case: Case, by: Actor, resolver: str = "", reason: str = "") -> Case:
    """open or escalated → resolved, recording `resolver` when given; `is_escalated` becomes false."""
    return _case_transition(case, "resolve", by=by, reason=reason, resolver=resolver)


def case_close(*, case: Case, by: Actor, reason: str = "") -> Case:
    """open, escalated or resolved → closed; `is_closed` becomes true and `is_escalated` false."""
    return _case_transition(case, "close", by=by, reason=reason)


def case_reopen(*, case: Case, by: Actor, reason: str = "") -> Case:
    """resolved or closed → open; both flags become false."""
    return _case_transition(case, "reopen", by=by, reason=reason)
