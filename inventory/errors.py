from __future__ import annotations

from dataclasses import dataclass

from stateset.errors import DomainError, ValidationFailed


@dataclass(frozen=True)
class Shortage:
    sku: str
    location: str
    requested: int
    available: int

    def as_text(self) -> str:
        return f"{self.location}: requested {self.requested}, available {self.available}"


class InsufficientStock(DomainError):
    """Stock is short for one or more lines. Names every short SKU and location; nothing was changed."""

    code = "insufficient_stock"

    def __init__(self, shortages: list[Shortage], *, action: str = "allocate"):
        self.shortages = shortages
        listed = "; ".join(
            f"{s.sku} at {s.location} (requested {s.requested}, available {s.available})" for s in shortages
        )
        errors = {}
        for s in shortages:
            errors[s.sku] = f"{errors[s.sku]}; {s.as_text()}" if s.sku in errors else s.as_text()
        super().__init__(f"Insufficient stock to {action}: {listed}.", errors=errors)


class StockLimitExceeded(DomainError):
    """A change would take a stock level past stateset.limits.MAX_STOCK; nothing was changed."""

    code = "stock_limit_exceeded"


class UnknownSku(ValidationFailed):
    code = "unknown_sku"


class UnknownLocation(ValidationFailed):
    code = "unknown_location"


class ItemInUse(DomainError):
    code = "item_in_use"


class OverReceipt(DomainError):
    code = "over_receipt"


class AlreadyArrived(DomainError):
    code = "already_arrived"


class NotEditable(DomainError):
    """The document's status no longer allows this change (lines after submit, location after send...)."""

    code = "not_editable"


class EmptyDocument(DomainError):
    code = "document_empty"


class DocumentInUse(DomainError):
    code = "document_in_use"


class SkuNotOnPurchaseOrder(DomainError):
    code = "sku_not_on_purchase_order"


class PurchaseOrderNotReceiving(DomainError):
    code = "purchase_order_not_receiving"


class CountIncomplete(DomainError):
    code = "count_incomplete"


class UnknownPurchaseOrder(ValidationFailed):
    code = "unknown_purchase_order"
