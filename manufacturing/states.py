"""The manufacturing vocabulary: statuses of bills of materials, work orders and manufacture orders, the
documented line enums, and the named groups that transitions, filters and queries share (contract §5)."""

from django.db import models


class BomStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    OBSOLETE = "obsolete", "Obsolete"


class BomLineType(models.TextChoices):
    """reference §13 (StateSet's own enum)."""

    COMPONENT = "Component", "Component"
    ASSEMBLY = "Assembly", "Assembly"
    MATERIAL = "Material", "Material"
    OTHER = "Other", "Other"


class SupplyType(models.TextChoices):
    PURCHASE = "Purchase", "Purchase"
    MANUFACTURE = "Manufacture", "Manufacture"
    TRANSFER = "Transfer", "Transfer"


class BomLineStatus(models.TextChoices):
    ACTIVE = "Active", "Active"
    INACTIVE = "Inactive", "Inactive"
    PENDING = "Pending", "Pending"


# Lines that count: explosion, cost, build to stock and the lines copied onto a work order. An Inactive
# line stays on the BOM for the record and is ignored.
BOM_LINE_COUNTED = (BomLineStatus.ACTIVE, BomLineStatus.PENDING)


class WorkOrderStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    RELEASED = "released", "Released"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


# Where a hold can start, and so where a resume can return to.
WO_HOLDABLE = (WorkOrderStatus.RELEASED, WorkOrderStatus.IN_PROGRESS)
# Not started yet: can be cancelled (allocations, if any, are released).
WO_NOT_STARTED = (WorkOrderStatus.PLANNED, WorkOrderStatus.RELEASED)
WO_FINISHED = (WorkOrderStatus.COMPLETED, WorkOrderStatus.CANCELLED)


class WorkOrderLineStatus(models.TextChoices):
    """A work order line follows its work order's stock: planned, allocated (released), consumed (started)."""

    PLANNED = "Planned", "Planned"
    ALLOCATED = "Allocated", "Allocated"
    CONSUMED = "Consumed", "Consumed"
    CANCELLED = "Cancelled", "Cancelled"


class ManufactureOrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    IN_PRODUCTION = "in_production", "In production"
    ON_HOLD = "on_hold", "On hold"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


# The statuses its work orders move it between (manufacturing.services.manufacture_order_sync_status).
MO_RUNNING = (ManufactureOrderStatus.SUBMITTED, ManufactureOrderStatus.IN_PRODUCTION)
MO_CANCELLABLE = (
    ManufactureOrderStatus.DRAFT,
    ManufactureOrderStatus.SUBMITTED,
    ManufactureOrderStatus.IN_PRODUCTION,
    ManufactureOrderStatus.ON_HOLD,
)
MO_FINISHED = (ManufactureOrderStatus.COMPLETED, ManufactureOrderStatus.CANCELLED)


class ManufactureOrderLineStatus(models.TextChoices):
    """Shown on a manufacture order line: its work order's progress."""

    DRAFT = "Draft", "Draft"
    PLANNED = "Planned", "Planned"
    IN_PROGRESS = "In Progress", "In Progress"
    COMPLETED = "Completed", "Completed"
    CANCELLED = "Cancelled", "Cancelled"


# The ledger's document type for stock this app moves (inventory Source / LineRef).
WORK_ORDER_DOCUMENT = "work_order"
BOM_DOCUMENT = "bill_of_materials"
