"""The inventory vocabulary: movement reasons, allocation states, and the document statuses of this app."""

from django.db import models


class MovementReason(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    SHIPMENT = "shipment", "Shipment"
    RETURN_RESTOCK = "return_restock", "Return restock"
    ADJUSTMENT = "adjustment", "Adjustment"
    CYCLE_COUNT = "cycle_count", "Cycle count"
    PRODUCTION_CONSUME = "production_consume", "Production consume"
    PRODUCTION_OUTPUT = "production_output", "Production output"
    TRANSFER = "transfer", "Transfer"


class AllocationStatus(models.TextChoices):
    OPEN = "open", "Open"
    CONSUMED = "consumed", "Consumed"
    RELEASED = "released", "Released"


class LocationKind(models.TextChoices):
    WAREHOUSE = "warehouse", "Warehouse"
    SITE = "site", "Site"
    BIN = "bin", "Bin"


DEFAULT_LOCATION_CODE = "MAIN"


# ---- purchase orders (contract §2, "Purchase orders") -------------------------------------------------------


class PurchaseOrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ORDERED = "ordered", "Ordered"
    PARTIALLY_RECEIVED = "partially_received", "Partially received"
    RECEIVED = "received", "Received"
    CANCELLED = "cancelled", "Cancelled"


# Sent to the supplier and not closed: its outstanding quantities count as `incoming`, and it can receive.
PO_RECEIVING = (PurchaseOrderStatus.ORDERED, PurchaseOrderStatus.PARTIALLY_RECEIVED)
PO_CANCELLABLE = (
    PurchaseOrderStatus.DRAFT,
    PurchaseOrderStatus.SUBMITTED,
    PurchaseOrderStatus.APPROVED,
    PurchaseOrderStatus.ORDERED,
)
PO_FINANCEABLE = (
    PurchaseOrderStatus.APPROVED,
    PurchaseOrderStatus.ORDERED,
    PurchaseOrderStatus.PARTIALLY_RECEIVED,
    PurchaseOrderStatus.RECEIVED,
)
# Before it is sent: where the goods will arrive can still change.
PO_NOT_SENT = (PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.SUBMITTED, PurchaseOrderStatus.APPROVED)
PO_CLOSED = (PurchaseOrderStatus.REJECTED, PurchaseOrderStatus.RECEIVED, PurchaseOrderStatus.CANCELLED)


# ---- packing lists -----------------------------------------------------------------------------------------


class PackingListStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    SHIPPED = "shipped", "Shipped"
    RECEIVED = "received", "Received"
    CANCELLED = "cancelled", "Cancelled"


# Announced and not yet closed: its items count as incoming and can arrive.
PL_IN_TRANSIT = (PackingListStatus.SUBMITTED, PackingListStatus.SHIPPED)
PL_CANCELLABLE = (PackingListStatus.DRAFT, PackingListStatus.SUBMITTED, PackingListStatus.SHIPPED)


# ---- cycle counts ------------------------------------------------------------------------------------------


class CycleCountStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    COUNTED = "counted", "Counted"
    RECONCILED = "reconciled", "Reconciled"
    CANCELLED = "cancelled", "Cancelled"


CC_CANCELLABLE = (CycleCountStatus.OPEN, CycleCountStatus.IN_PROGRESS, CycleCountStatus.COUNTED)


class CountLineStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    COUNTED = "counted", "Counted"
    SKIPPED = "skipped", "Skipped"
    ADJUSTED = "adjusted", "Adjusted"  # its variance was posted to the ledger by reconcile
