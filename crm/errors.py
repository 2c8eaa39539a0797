from stateset.errors import DomainError, ValidationFailed


class DuplicateCustomer(ValidationFailed):
    """Email (case-insensitive) and sso_id identify one customer each."""


class CustomerHasDocuments(DomainError):
    code = "customer_has_orders"
