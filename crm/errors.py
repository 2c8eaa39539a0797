from stateset.errors import DomainError, ValidationFailed


class DuplicateCustomer(ValidationFailed):
    """Email (case-insensitive) and sso_id identify one customer each."""


class CustomerHasDocuments(DomainError):
    code = "customer_has_orders"


class LeadHasNoEmail(DomainError):
    """A lead becomes a customer by its email; without one there is nothing to create or link."""

    code = "lead_missing_email"


class DuplicateCaseNumber(ValidationFailed):
    """Case numbers are unique (compared case-insensitively when a client chooses one)."""
