"""Writes for CRM: customers, leads and cases. Every service takes `by: Actor` and owns its transaction;
status changes go through `stateset.fsm.apply_transition` (permission, source state, StateLog row)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from crm.errors import CustomerHasDocuments, DuplicateCaseNumber, DuplicateCustomer, LeadHasNoEmail
from crm.models import Case, Customer, Lead
from stateset.actors import Actor
from stateset.fsm import apply_transition, check_transition, lock, log_event

CUSTOMER_FIELDS = {
    "sso_id",
    "activation_date",
    "email",
    "first_name",
    "last_name",
    "phone",
    "stripe_customer_id",
    "timestamp",
}


def _check_unique(*, email: str | None, sso_id: str | None, exclude_pk: int | None = None) -> None:
    others = Customer.objects.exclude(pk=exclude_pk) if exclude_pk else Customer.objects.all()
    errors = {}
    if email and others.filter(email__iexact=email).exists():
        errors["email"] = f"A customer with the email '{email}' already exists."
    if sso_id and others.filter(sso_id=sso_id).exists():
        errors["sso_id"] = f"A customer with the sso_id '{sso_id}' already exists."
    if errors:
        raise DuplicateCustomer(next(iter(errors.values())), errors=errors)


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - CUSTOMER_FIELDS
    if unknown:
        raise TypeError(f"customer fields not known: {sorted(unknown)}")
    if "email" in fields and fields["email"]:
        fields["email"] = fields["email"].strip()
    if "sso_id" in fields:
        fields["sso_id"] = (fields["sso_id"] or "").strip() or None  # blank means none, not a shared ""
    return fields


def customer_create(*, by: Actor, email: str, timestamp: datetime | None = None, **fields: Any) -> Customer:
    """Create a customer. Email is unique case-insensitively and sso_id is unique when given (400 otherwise);
    the database's unique constraints back both against a concurrent create."""
    fields = _clean({"email": email, **fields})
    if timestamp is not None:
        fields["timestamp"] = timestamp
    with transaction.atomic():
        _check_unique(email=fields["email"], sso_id=fields.get("sso_id"))
        return Customer.objects.create(**fields)


def customer_update(*, customer: Customer, by: Actor, **fields: Any) -> Customer:
    """Change the given fields of a customer, with the same uniqueness rules as create."""
    fields = _clean(fields)
    with transaction.atomic():
        customer = lock(Customer, customer.pk)
        _check_unique(email=fields.get("email"), sso_id=fields.get("sso_id"), exclude_pk=customer.pk)
        for name, value in fields.items():
            setattr(customer, name, value)
        customer.save()
    return customer


def customer_get_or_create(
    *, by: Actor, email: str, first_name: str = "", last_name: str = "", phone: str = ""
) -> tuple[Customer, bool]:
    """The customer with this email (case-insensitive), created if there is none. Used by lead conversion
    and by orders created with an inline customer."""
    from crm.selectors import customer_by_email

    existing = customer_by_email(email)
    if existing is not None:
        return existing, False
    try:
        # A savepoint: if a concurrent transaction inserts the same email first, our check or the unique
        # index refuses ours (on PostgreSQL, once the other commits) and we take theirs instead of failing.
        with transaction.atomic():
            customer = customer_create(by=by, email=email, first_name=first_name, last_name=last_name, phone=phone)
        return customer, True
    except (IntegrityError, DuplicateCustomer):
        existing = customer_by_email(email)
        if existing is None:
            raise
        return existing, False


def customer_delete(*, customer: Customer, by: Actor) -> None:
    """Delete a customer. A customer whose orders, returns or cases point at them is kept: 422."""
    with transaction.atomic():
        customer = lock(Customer, customer.pk)
        try:
            customer.delete()
        except ProtectedError as exc:
            kinds = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
            raise CustomerHasDocuments(
                f"Customer {customer.pk} has {', '.join(kinds)} and cannot be deleted.",
                errors={"customer": f"referenced by {', '.join(kinds)}"},
            )


# ---- leads ------------------------------------------------------------------------------------------------

LEAD_FIELDS = {
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "department",
    "description",
    "lead_source",
    "owner",
    "processor",
    "controller",
    "handle",
    "avatar",
    "photo_url",
    "birthdate",
    "languages",
    "assistant",
    "assistant_phone",
    "fax",
    "do_not_call",
    "email_opt_out",
    "fax_opt_out",
    "invalid_lead",
    "mailing_street",
    "mailing_city",
    "mailing_state",
    "mailing_country",
    "mailing_geocode_accuracy",
}


def _who(by: Actor) -> str:
    """The name kept in `created_by` / `last_modified_by`: the user, or the command for unattended writes."""
    return by.user.get_username() if by.user else by.label


def _changed(names: Any) -> str:
    """The reason of an `update` history row, as orders and returns word it: the fields given."""
    return f"changed {', '.join(sorted(names)) or 'nothing'}"


def _check_fields(fields: dict[str, Any], allowed: set[str], kind: str) -> dict[str, Any]:
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"{kind} fields not known: {sorted(unknown)}")
    if fields.get("email"):
        fields["email"] = fields["email"].strip()
    return fields


def lead_create(*, by: Actor, **fields: Any) -> Lead:
    """Create a lead in status new. Several leads may share an email; they convert into one customer."""
    fields = _check_fields(fields, LEAD_FIELDS, "lead")
    with transaction.atomic():
        lead = Lead.objects.create(**fields, created_by=_who(by), last_modified_by=_who(by))
        log_event(lead, "create", by=by)
    return lead


def lead_update(*, lead: Lead, by: Actor, **fields: Any) -> Lead:
    """Change the given data fields of a lead, in any status (a converted lead's customer is not touched).
    The status changes only through the lead's actions."""
    fields = _check_fields(fields, LEAD_FIELDS, "lead")
    with transaction.atomic():
        lead = lock(Lead, lead.pk)
        if fields:
            for name, value in fields.items():
                setattr(lead, name, value)
            lead.last_modified_by = _who(by)
            lead.save()
        log_event(lead, "update", by=by, reason=_changed(fields))
    return lead


def lead_delete(*, lead: Lead, by: Actor) -> None:
    """Delete a lead in any status. A customer it was converted into stays."""
    with transaction.atomic():
        lock(Lead, lead.pk).delete()


def _lead_transition(lead: Lead, name: str, *, by: Actor, reason: str = "", **kwargs: Any) -> Lead:
    with transaction.atomic():
        lead = lock(Lead, lead.pk)
        apply_transition(lead, name, by=by, reason=reason, **kwargs)
    return lead


def lead_engage(*, lead: Lead, by: Actor, reason: str = "") -> Lead:
    """new → engaged. 422 from any other status."""
    return _lead_transition(lead, "engage", by=by, reason=reason)


def lead_accept(*, lead: Lead, by: Actor, reason: str = "") -> Lead:
    """engaged → accepted. 422 from any other status."""
    return _lead_transition(lead, "accept", by=by, reason=reason)


def lead_reject(*, lead: Lead, by: Actor, reason: str = "") -> Lead:
    """new or engaged → rejected. 422 from any other status."""
    return _lead_transition(lead, "reject", by=by, reason=reason)


def lead_convert(*, lead: Lead, by: Actor, reason: str = "") -> Lead:
    """accepted → converted, linked to the customer with the lead's email (compared case-insensitively),
    created from the lead's name and phone when there is none. Two leads with one email make one customer,
    even when they convert at the same moment. Needs `crm.convert_lead` (403); refused with 422 from any
    status but accepted, or when the lead has no email — and then nothing is created."""
    with transaction.atomic():
        lead = lock(Lead, lead.pk)
        check_transition(lead, "convert", by=by)
        if not lead.email:
            raise LeadHasNoEmail(
                f"Lead #{lead.pk} has no email, so it cannot become a customer; add one first.",
                errors={"email": "required to convert"},
            )
        customer, created = customer_get_or_create(
            by=by, email=lead.email, first_name=lead.first_name, last_name=lead.last_name, phone=lead.phone
        )
        note = f"{'created' if created else 'linked'} customer {customer.pk} <{customer.email}>"
        apply_transition(lead, "convert", by=by, reason="; ".join(filter(None, [reason, note])), customer=customer)
    return lead


def lead_unconvert(*, lead: Lead, by: Actor, reason: str = "") -> Lead:
    """converted → accepted. The customer stays (with anything attached to it); the lead's link to it is
    cleared, and the history row names it. Needs `crm.convert_lead`."""
    with transaction.atomic():
        lead = lock(Lead, lead.pk)
        check_transition(lead, "unconvert", by=by)
        note = f"was customer {lead.converted_customer_id}"
        apply_transition(lead, "unconvert", by=by, reason="; ".join(filter(None, [reason, note])))
    return lead


# ---- cases ------------------------------------------------------------------------------------------------

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
    _check_fields(fields, CASE_FIELDS, "case")
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
    _check_fields(fields, CASE_FIELDS, "case")
    with transaction.atomic():
        case = lock(Case, case.pk)
        if renumber:
            case.case_number = case_number_check(number, case=case) if number else None
        if fields or renumber:
            for name, value in fields.items():
                setattr(case, name, value)
            case.save()
            case.assign_number()
        log_event(case, "update", by=by, reason=_changed([*fields, *(["case_number"] if renumber else [])]))
    return case


def case_delete(*, case: Case, by: Actor) -> None:
    """Delete a case in any status."""
    with transaction.atomic():
        lock(Case, case.pk).delete()


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
