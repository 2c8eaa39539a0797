"""The returns app's refusals. Each maps to HTTP in `stateset.api.exception_handler` (422 unless noted).

Quantities above what an order shipped and has not had returned are refused by the orders service with
`orders.errors.ReturnExceedsShipped` (422 `return_exceeds_shipped`); refunds above an order's balance with
`orders.errors.RefundExceedsBalance` (422 `refund_exceeds_balance`).
"""

from stateset.errors import DomainError, ValidationFailed


class InvalidReturnInput(ValidationFailed):
    """Input only a service can judge: a line that is not on the order, an ambiguous SKU, an unknown order (400)."""


class ReturnNotEditable(DomainError):
    """Lines change only while the return is requested; location and fee until receipt or refund."""

    code = "return_not_editable"


class ReturnNotDeletable(DomainError):
    code = "return_not_deletable"


class ReturnEmpty(DomainError):
    """A return without lines cannot be approved."""

    code = "return_empty"


class OverReceipt(DomainError):
    """More received on a line than the line returns."""

    code = "over_receipt"


class NothingToRefund(DomainError):
    """The default refund (line amounts of what was received − restocking fee) is zero or less."""

    code = "nothing_to_refund"


class WarrantyNotEditable(DomainError):
    code = "warranty_not_editable"


class WarrantyNotDeletable(DomainError):
    code = "warranty_not_deletable"


class ReplacementNotPossible(DomainError):
    """A replacement needs the claim's order (where it ships) and at least one line with a SKU."""

    code = "replacement_not_possible"


class ReplacementShipped(DomainError):
    """A claim whose replacement order has shipped cannot be cancelled: complete it instead."""

    code = "replacement_shipped"
