"""Typed errors raised by services. `stateset.api.exception_handler` maps them to HTTP, in one place.

A service raises a DomainError (or a subclass from its app's `errors.py`) when a business rule refuses a
request. The error carries everything the response needs: status, type, code, message, per-field errors.
The admin and the management commands show the same message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class DomainError(Exception):
    """A business rule refused the request. 422 unless a subclass says otherwise."""

    status = 422
    type = "invalid_request_error"
    code = "business_rule_violation"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        errors: dict[str, Any] | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.errors = errors or {}
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class ValidationFailed(DomainError):
    """Bad input that only a service can see (a cycle in a BOM, a SKU that does not exist, ...)."""

    status = 400
    code = "validation_error"


class NotFound(DomainError):
    status = 404
    type = "not_found_error"
    code = "resource_not_found"


class PermissionDenied(DomainError):
    status = 403
    type = "permission_error"
    code = "insufficient_permissions"


class Conflict(DomainError):
    """A clash that succeeds on retry (a lost race). StateSet's Python client retries 409 by itself."""

    status = 409
    type = "api_error"
    code = "conflict"


class InvalidStateTransition(DomainError):
    """The action is not allowed from the document's current status."""

    code = "invalid_state_transition"

    def __init__(self, *, label: str, status: str, action: str, allowed: Iterable[str]) -> None:
        allowed = sorted(set(allowed))
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"Cannot {action} {label}: its status is '{status}'. Actions allowed from '{status}': {allowed_text}.",
            errors={"status": status, "allowed_actions": allowed},
        )
        self.current_status = status
        self.allowed = allowed
