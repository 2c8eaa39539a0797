"""The orders app's refusals. Each maps to HTTP in `stateset.api.exception_handler` (422 unless noted)."""

from stateset.errors import DomainError, ValidationFailed


class UnknownSku(DomainError):
    """A line names a SKU with no inventory item (and does not say `"requires_inventory": false`)."""

    code = "unknown_sku"


class RefundExceedsBalance(DomainError):
    code = "refund_exceeds_balance"


class PromotionNotApplicable(DomainError):
    """Inactive, outside its dates, below its minimum, used up, unknown, or the order already has one."""

    code = "promotion_not_applicable"


class PromotionInUse(DomainError):
    code = "promotion_in_use"


class LastLine(DomainError):
    """An order keeps at least one line: cancel it instead."""

    code = "last_line"


class SplitNotAllowed(DomainError):
    code = "split_not_allowed"


class MergeNotAllowed(DomainError):
    code = "merge_not_allowed"


class ReturnExceedsShipped(DomainError):
    """More units than were shipped and not yet returned."""

    code = "return_exceeds_shipped"


class AllocationMismatch(DomainError):
    """The stock held for an order does not cover its lines (never expected; the change is rolled back)."""

    code = "allocation_short"


class ExceedsShippable(DomainError):
    """A shipment asks more units of a line than it holds at that location, less other pending shipments'
    reservations (issue #18); nothing was written."""

    code = "exceeds_shippable"


class ShipmentsPending(DomainError):
    """The order's lines are reserved by pending shipments: ship, cancel or delete those first."""

    code = "shipments_pending"


class ShipmentNotReversible(DomainError):
    """A return already took back units of this shipment: it cannot come back to the sender."""

    code = "shipment_not_reversible"


class RefundedAboveTotal(DomainError):
    """Cancelling the remaining units would take the order's total below what was already refunded."""

    code = "refunded_above_total"


class InvalidOrderInput(ValidationFailed):
    """Input only a service can judge: a line or discount that is not on this order, a reserved number (400)."""
