"""Writes for CRM: customers, leads and cases. Every service takes `by: Actor` and owns its transaction;
status changes go through `stateset.fsm.apply_transition` (permission, source state, StateLog row).

One module per aggregate (`customers`, `leads`, `cases`, and `common` for what they share); callers import
from here."""

from crm.services.cases import (
    CASE_FIELDS,
    case_close,
    case_create,
    case_delete,
    case_escalate,
    case_number_check,
    case_reopen,
    case_resolve,
    case_update,
)
from crm.services.customers import (
    CUSTOMER_FIELDS,
    customer_create,
    customer_delete,
    customer_get_or_create,
    customer_update,
)
from crm.services.leads import (
    LEAD_FIELDS,
    lead_accept,
    lead_convert,
    lead_create,
    lead_delete,
    lead_engage,
    lead_reject,
    lead_unconvert,
    lead_update,
)

__all__ = [
    "CASE_FIELDS",
    "CUSTOMER_FIELDS",
    "LEAD_FIELDS",
    "case_close",
    "case_create",
    "case_delete",
    "case_escalate",
    "case_number_check",
    "case_reopen",
    "case_resolve",
    "case_update",
    "customer_create",
    "customer_delete",
    "customer_get_or_create",
    "customer_update",
    "lead_accept",
    "lead_convert",
    "lead_create",
    "lead_delete",
    "lead_engage",
    "lead_reject",
    "lead_unconvert",
    "lead_update",
]
