"""Leads: create, update, delete, and their transitions; a converted lead links the customer with its email."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from crm.errors import LeadHasNoEmail
from crm.models import Lead
from crm.services.common import changed_note, clean_fields
from crm.services.customers import customer_get_or_create
from stateset import events
from stateset.actors import Actor
from stateset.fsm import apply_transition, check_transition, lock, log_event

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


def _actor_name(by: Actor) -> str:
    """The name kept in `created_by` / `last_modified_by`: the user, or the command for unattended writes."""
    return by.user.get_username() if by.user else by.label


def lead_create(*, by: Actor, **fields: Any) -> Lead:
    """Create a lead in status new. Several leads may share an email; they convert into one customer."""
    fields = clean_fields(fields, LEAD_FIELDS, "lead")
    with transaction.atomic():
        lead = Lead.objects.create(**fields, created_by=_actor_name(by), last_modified_by=_actor_name(by))
        log_event(lead, "create", by=by)
    return lead


def lead_update(*, lead: Lead, by: Actor, **fields: Any) -> Lead:
    """Change the given data fields of a lead, in any status (a converted lead's customer is not touched).
    The status changes only through the lead's actions."""
    fields = clean_fields(fields, LEAD_FIELDS, "lead")
    with transaction.atomic():
        lead = lock(Lead, lead.pk)
        if fields:
            for name, value in fields.items():
                setattr(lead, name, value)
            lead.last_modified_by = _actor_name(by)
            lead.save()
        log_event(lead, "update", by=by, reason=changed_note(fields))
    return lead


def lead_delete(*, lead: Lead, by: Actor) -> None:
    """Delete a lead in any status. A customer it was converted into stays."""
    with transaction.atomic():
        lead = lock(Lead, lead.pk)
        events.emit(lead, "delete", by=by, snapshot=True)
        lead.delete()


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
