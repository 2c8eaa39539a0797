"""The returns vocabulary (contract §4): return, return line and warranty statuses, item conditions, the
named groups the transitions, services, filters and admin share, and the warranty status words of
`POST /v1/warranties/{id}/status`."""

from django.db import models


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RECEIVED = "received", "Received"
    REFUNDED = "refunded", "Refunded"
    CANCELLED = "cancelled", "Cancelled"
    CLOSED = "closed", "Closed"


# The customer has not sent the goods yet: the return can still be cancelled.
RETURN_CANCELLABLE = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED)
RETURN_CLOSABLE = (ReturnStatus.RECEIVED, ReturnStatus.REFUNDED, ReturnStatus.REJECTED, ReturnStatus.CANCELLED)
RETURN_REOPENABLE = (ReturnStatus.REJECTED, ReturnStatus.CANCELLED)
# Its lines count as returned on the order (units under the return); the others gave them back.
RETURN_HOLDS_UNITS = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.RECEIVED, ReturnStatus.REFUNDED)
# Lines (and the order link) change only before the decision.
RETURN_LINES_EDITABLE = (ReturnStatus.REQUESTED,)
# Where restocked goods go can change until they arrive; the restocking fee until the refund.
RETURN_LOCATION_EDITABLE = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED)
RETURN_FEE_EDITABLE = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.RECEIVED)
# Nothing moved yet (no stock, no money): DELETE is allowed.
RETURN_DELETABLE = (ReturnStatus.REQUESTED, ReturnStatus.REJECTED, ReturnStatus.CANCELLED)
# Open (contract §4): still waiting for someone to act on it (the back office's dashboard counts these).
RETURN_OPEN = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.RECEIVED)


class ReturnLineStatus(models.TextChoices):
    """A line follows its return (a closed return's lines keep the status they had)."""

    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RECEIVED = "received", "Received"
    REFUNDED = "refunded", "Refunded"
    CANCELLED = "cancelled", "Cancelled"


class Condition(models.TextChoices):
    NEW = "new", "New"
    LIKE_NEW = "like_new", "Like new"
    USED = "used", "Used"
    DAMAGED = "damaged", "Damaged"
    UNSALVAGEABLE = "unsalvageable", "Unsalvageable"


# A line marked `restock` goes back on hand at receipt only in one of these conditions.
RESTOCKABLE_CONDITIONS = (Condition.NEW, Condition.LIKE_NEW)


class WarrantyStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


WARRANTY_CANCELLABLE = (WarrantyStatus.REQUESTED, WarrantyStatus.APPROVED)
WARRANTY_REOPENABLE = (WarrantyStatus.DENIED, WarrantyStatus.CANCELLED)
# The claim's lines change only before the decision (approval builds the replacement from them).
WARRANTY_LINES_EDITABLE = (WarrantyStatus.REQUESTED,)
WARRANTY_DELETABLE = (WarrantyStatus.REQUESTED, WarrantyStatus.DENIED, WarrantyStatus.CANCELLED)
# Open (contract §4): awaiting its decision or its replacement.
WARRANTY_OPEN = (WarrantyStatus.REQUESTED, WarrantyStatus.APPROVED)

# `POST /v1/warranties/{id}/status {"status": word}`: each word (the official Python client's `filed`,
# `processing`, `approved`, `denied`, `completed`, and ours) and the transition it runs. `None` means "the
# claim is awaiting its decision": our `requested` covers the client's `filed` and `processing`, so these
# words change nothing on a requested claim; from denied or cancelled, `filed`/`requested` reopen it.
WARRANTY_STATUS_WORDS: dict[str, str | None] = {
    "filed": "reopen",
    "requested": "reopen",
    "reopen": "reopen",
    "reopened": "reopen",
    "processing": None,
    "approved": "approve",
    "approve": "approve",
    "denied": "deny",
    "deny": "deny",
    "rejected": "deny",
    "completed": "complete",
    "complete": "complete",
    "cancelled": "cancel",
    "canceled": "cancel",
    "cancel": "cancel",
}
# Words that leave a requested claim as it is (it is already filed and awaiting its decision).
WARRANTY_AWAITING_WORDS = ("filed", "requested", "processing")
