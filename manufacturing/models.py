"""Bills of materials, work orders, manufacture orders and their lines (contract §5, reference §12–§18).

Transitions are declared here once and change only their own row; `manufacturing.services` locks the rows,
moves stock through `inventory.services`, and runs the transitions through `stateset.fsm.apply_transition`.
The database guards what must never break: one active BOM per part, positive quantities, and a work order
never completing (or scrapping) more than it planned.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, transition

from inventory.models import InventoryItem, Location
from manufacturing.errors import DuplicateNumber
from manufacturing.states import (
    MO_CANCELLABLE,
    MO_RUNNING,
    WO_HOLDABLE,
    WO_NOT_STARTED,
    BomLineStatus,
    BomLineType,
    BomStatus,
    ManufactureOrderLineStatus,
    ManufactureOrderStatus,
    SupplyType,
    WorkOrderLineStatus,
    WorkOrderStatus,
)
from stateset.constraints import ci_unique
from stateset.models import StatefulModel, TimeStampedModel

# ---- bills of materials ------------------------------------------------------------------------------------


# As manufacturing.services words its own check, so that a request losing a race to the constraint reads the same.
NUMBER_USED = "The number '{value}' is already used."


class BillOfMaterials(StatefulModel):
    """What one unit of `part` is made of (reference §12 plus `part`, `revision`, `status`).

    draft → active → obsolete; `revise` copies an active BOM into a new draft revision of the same part.
    Lines and the part change only while draft. At most one BOM per part is active (a partial unique index).
    """

    number_prefix = "BOM"

    number = models.CharField(max_length=50, null=True, blank=True)
    name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    groups = models.CharField(max_length=255, blank=True)
    valid = models.BooleanField(default=True, help_text="A mark for your own use; nothing in StateSet reads it.")
    part = models.ForeignKey(  # indexed by the (part, revision) constraint, which starts with it
        InventoryItem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bills_of_materials",
        db_index=False,
        help_text="The finished (or sub-assembly) SKU one unit of which this BOM makes.",
    )
    revision = models.PositiveIntegerField(default=1, editable=False)
    revised_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="revisions"
    )
    status = FSMField(default=BomStatus.DRAFT, choices=BomStatus.choices, protected=True, db_index=True)

    class Meta:
        verbose_name = "bill of materials"
        verbose_name_plural = "bills of materials"
        permissions = [("buildtostock_billofmaterials", "Can build finished goods to stock from a BOM")]
        constraints = [
            ci_unique(
                "number",
                name="manufacturing_billofmaterials_number_ci_unique",
                error=DuplicateNumber,
                message=NUMBER_USED,
                errors={"number": "already used"},
                violation_error_message="This BOM number is already used (compared case-insensitively).",
            ),
            models.UniqueConstraint(
                fields=["part"],
                condition=Q(status=BomStatus.ACTIVE),
                name="mfg_bom_one_active_per_part",
                violation_error_message="This part already has an active bill of materials.",
            ),
            models.UniqueConstraint(fields=["part", "revision"], name="mfg_bom_part_revision_unique"),
        ]

    def __str__(self) -> str:
        label = f"{self.display_number} {self.name}".strip()
        return f"{label} (rev {self.revision})"

    @transition(field=status, source=BomStatus.DRAFT, target=BomStatus.ACTIVE, custom={"admin": True})
    def activate(self) -> None:
        """The BOM production uses for its part (the service checks part, lines, cycles, one active)."""

    @transition(
        field=status, source=[BomStatus.DRAFT, BomStatus.ACTIVE], target=BomStatus.OBSOLETE, custom={"admin": True}
    )
    def obsolete(self) -> None:
        """Retired: kept for the record and for the work orders planned from it."""

    @transition(field=status, source=BomStatus.ACTIVE, target=None, custom={"admin": True})
    def revise(self) -> None:
        """Recorded on the active BOM when a new draft revision is copied from it (the service creates it)."""

    @transition(
        field=status,
        source=BomStatus.ACTIVE,
        target=None,
        permission="manufacturing.buildtostock_billofmaterials",
    )
    def buildtostock(self) -> None:
        """Recorded on the BOM when the service has consumed components and received finished goods."""


class BillOfMaterialsLineItem(TimeStampedModel):
    """One component of a BOM (reference §13): `quantity` units of `part_number` per unit of the BOM's part."""

    bill_of_materials = models.ForeignKey(BillOfMaterials, on_delete=models.CASCADE, related_name="line_items")
    line_type = models.CharField(max_length=20, choices=BomLineType.choices, default=BomLineType.COMPONENT)
    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="bom_lines")
    part_name = models.CharField(max_length=255, blank=True)
    purchase_supply_type = models.CharField(max_length=20, choices=SupplyType.choices, default=SupplyType.PURCHASE)
    quantity = models.PositiveIntegerField(help_text="Per unit of the BOM's part.")
    status = models.CharField(max_length=20, choices=BomLineStatus.choices, default=BomLineStatus.ACTIVE)

    class Meta:
        verbose_name = "BOM line item"
        ordering = ["pk"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="mfg_bomline_quantity_gt_0")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.item.sku}"

    @property
    def part_number(self) -> str:
        return self.item.sku

    @property
    def bill_of_materials_number(self) -> str | None:
        return self.bill_of_materials.number


# ---- manufacture orders ------------------------------------------------------------------------------------


class ManufactureOrder(StatefulModel):
    """A production plan (reference §17 plus `status`): each line names a BOM and a quantity; `submit`
    creates one work order per line. Its status then follows its work orders
    (manufacturing.services.manufacture_order_sync_status)."""

    number_prefix = "MO"

    number = models.CharField(max_length=50, null=True, blank=True)
    memo = models.TextField(blank=True)
    priority = models.CharField(max_length=50, blank=True)
    site = models.CharField(max_length=255, blank=True)
    yield_location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Where its work orders draw components and put output, unless a line says otherwise.",
    )
    created_on = models.DateField(default=timezone.localdate)
    expected_completion_date = models.DateField(null=True, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    held_from_status = models.CharField(max_length=20, blank=True, editable=False)
    status = FSMField(
        default=ManufactureOrderStatus.DRAFT, choices=ManufactureOrderStatus.choices, protected=True, db_index=True
    )

    class Meta:
        constraints = [
            ci_unique(
                "number",
                name="manufacturing_manufactureorder_number_ci_unique",
                error=DuplicateNumber,
                message=NUMBER_USED,
                errors={"number": "already used"},
                violation_error_message="This manufacture order number is already used (compared case-insensitively).",
            ),
            models.CheckConstraint(
                condition=(Q(status=ManufactureOrderStatus.ON_HOLD) & ~Q(held_from_status=""))
                | (~Q(status=ManufactureOrderStatus.ON_HOLD) & Q(held_from_status="")),
                name="mfg_mo_held_from_iff_on_hold",
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    @transition(field=status, source=ManufactureOrderStatus.DRAFT, target=ManufactureOrderStatus.SUBMITTED)
    def submit(self) -> None:
        """The service creates the work orders; the issue date defaults to today."""
        if self.issued_on is None:
            self.issued_on = timezone.localdate()

    @transition(field=status, source=MO_RUNNING, target=ManufactureOrderStatus.ON_HOLD, custom={"admin": True})
    def hold(self) -> None:
        self.held_from_status = self.status

    @transition(
        field=status,
        source=ManufactureOrderStatus.ON_HOLD,
        target=RETURN_VALUE(*MO_RUNNING, ManufactureOrderStatus.COMPLETED, ManufactureOrderStatus.CANCELLED),
        custom={"admin": True},
    )
    def resume(self) -> str:
        """Back to the remembered status (which the work orders may have moved on while it was held)."""
        status, self.held_from_status = self.held_from_status, ""
        return status

    @transition(field=status, source=MO_CANCELLABLE, target=ManufactureOrderStatus.CANCELLED)
    def cancel(self) -> None:
        self.held_from_status = ""

    @transition(
        field=status,
        source=MO_RUNNING,
        target=RETURN_VALUE(*MO_RUNNING, ManufactureOrderStatus.COMPLETED, ManufactureOrderStatus.CANCELLED),
        custom={"internal": True},
    )
    def sync_status(self, status: str) -> str:
        """Follow the work orders: in_production once one started, completed once all finished."""
        return status


class ManufactureOrderLineItem(TimeStampedModel):
    """One product to make (reference §18): `quantity` of a BOM's part. `submit` gives it its work order."""

    manufacture_order = models.ForeignKey(
        ManufactureOrder, on_delete=models.CASCADE, related_name="manufacture_order_line_items"
    )
    bill_of_materials = models.ForeignKey(BillOfMaterials, on_delete=models.PROTECT, related_name="manufacture_lines")
    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="manufacture_lines")
    work_order = models.OneToOneField(
        "WorkOrder",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="manufacture_order_line",
    )
    part_name = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField()
    expected_date = models.DateField(null=True, blank=True)
    line_type = models.CharField(max_length=50, default="Manufacture")
    output_type = models.CharField(max_length=50, default="Product")
    priority = models.CharField(max_length=50, blank=True)
    site = models.CharField(max_length=255, blank=True)
    yield_location = models.ForeignKey(Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = "manufacture order line item"
        ordering = ["pk"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="mfg_moline_quantity_gt_0")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.item.sku}"

    @property
    def part_number(self) -> str:
        return self.item.sku

    @property
    def bom_number(self) -> str | None:
        return self.bill_of_materials.number

    @property
    def bom_name(self) -> str:
        return self.bill_of_materials.name

    @property
    def manufacture_order_number(self) -> str | None:
        return self.manufacture_order.number

    @property
    def work_order_number(self) -> str | None:
        return self.work_order.number if self.work_order_id else None

    @property
    def line_status(self) -> str:
        if not self.work_order_id:
            return ManufactureOrderLineStatus.DRAFT
        return {
            WorkOrderStatus.PLANNED: ManufactureOrderLineStatus.PLANNED,
            WorkOrderStatus.RELEASED: ManufactureOrderLineStatus.PLANNED,
            WorkOrderStatus.COMPLETED: ManufactureOrderLineStatus.COMPLETED,
            WorkOrderStatus.CANCELLED: ManufactureOrderLineStatus.CANCELLED,
        }.get(self.work_order.status, ManufactureOrderLineStatus.IN_PROGRESS)


# ---- work orders -------------------------------------------------------------------------------------------


class WorkOrder(StatefulModel):
    """Make `quantity` of `part` at `location` (reference §14 plus `bill_of_materials`, `quantity`,
    `quantity_completed`, `quantity_scrapped`). Components are drawn from `location` and output goes there.

    planned → released (components allocated) → in_progress (consumed) → completed (once completed plus
    scrapped reaches the quantity); hold / resume from released or in_progress; cancel before it starts.
    """

    number_prefix = "WO"

    number = models.CharField(max_length=50, null=True, blank=True)
    site = models.CharField(max_length=255, blank=True)
    work_order_type = models.CharField(max_length=100, blank=True)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="work_orders")
    part = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="work_orders")
    order_number = models.CharField(max_length=100, blank=True)
    manufacture_order = models.ForeignKey(
        ManufactureOrder,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="work_orders",
    )
    created_by = models.CharField(max_length=255, blank=True, editable=False)
    issue_date = models.DateField(null=True, blank=True)
    expected_completion_date = models.DateField(null=True, blank=True)
    priority = models.CharField(max_length=50, blank=True)
    memo = models.TextField(blank=True)
    bill_of_materials = models.ForeignKey(
        BillOfMaterials, on_delete=models.PROTECT, null=True, blank=True, related_name="work_orders"
    )
    quantity = models.PositiveIntegerField(help_text="Planned quantity of the part.")
    quantity_completed = models.PositiveIntegerField(default=0, editable=False)
    quantity_scrapped = models.PositiveIntegerField(default=0, editable=False)
    held_from_status = models.CharField(max_length=20, blank=True, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    status = FSMField(default=WorkOrderStatus.PLANNED, choices=WorkOrderStatus.choices, protected=True, db_index=True)

    class Meta:
        permissions = [
            ("release_workorder", "Can release a work order (allocates its components)"),
            ("start_workorder", "Can start a work order (consumes its components)"),
            ("complete_workorder", "Can complete a work order (receives finished goods)"),
            ("cancel_workorder", "Can cancel a work order (releases its allocations)"),
        ]
        constraints = [
            ci_unique(
                "number",
                name="manufacturing_workorder_number_ci_unique",
                error=DuplicateNumber,
                message=NUMBER_USED,
                errors={"number": "already used"},
                violation_error_message="This work order number is already used (compared case-insensitively).",
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="mfg_wo_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(quantity_completed__lte=F("quantity") - F("quantity_scrapped")),
                name="mfg_wo_completed_plus_scrapped_lte_quantity",
            ),
            models.CheckConstraint(
                condition=~Q(status=WorkOrderStatus.COMPLETED)
                | Q(quantity_completed=F("quantity") - F("quantity_scrapped")),
                name="mfg_wo_completed_means_all_accounted",
            ),
            models.CheckConstraint(
                condition=(Q(status=WorkOrderStatus.ON_HOLD) & ~Q(held_from_status=""))
                | (~Q(status=WorkOrderStatus.ON_HOLD) & Q(held_from_status="")),
                name="mfg_wo_held_from_iff_on_hold",
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    @property
    def bill_of_materials_number(self) -> str | None:
        return self.bill_of_materials.number if self.bill_of_materials_id else None

    @property
    def manufacture_order_number(self) -> str | None:
        return self.manufacture_order.number if self.manufacture_order_id else None

    @property
    def quantity_remaining(self) -> int:
        return self.quantity - self.quantity_completed - self.quantity_scrapped

    @transition(
        field=status,
        source=WorkOrderStatus.PLANNED,
        target=WorkOrderStatus.RELEASED,
        permission="manufacturing.release_workorder",
    )
    def release(self) -> None:
        """The service has allocated every line's components at the work order's location."""

    @transition(
        field=status,
        source=WorkOrderStatus.RELEASED,
        target=WorkOrderStatus.IN_PROGRESS,
        permission="manufacturing.start_workorder",
    )
    def start(self) -> None:
        """The service has consumed the allocated components."""
        self.started_at = timezone.now()

    @transition(
        field=status,
        source=WorkOrderStatus.IN_PROGRESS,
        target=RETURN_VALUE(WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.COMPLETED),
        permission="manufacturing.complete_workorder",
    )
    def complete(self, quantity_completed: int, quantity_scrapped: int = 0) -> str:
        """Count good and scrapped units (the service checks the remainder and receives the good ones)."""
        self.quantity_completed += quantity_completed
        self.quantity_scrapped += quantity_scrapped
        if self.quantity_remaining > 0:
            return WorkOrderStatus.IN_PROGRESS
        self.completed_at = timezone.now()
        return WorkOrderStatus.COMPLETED

    @transition(field=status, source=WO_HOLDABLE, target=WorkOrderStatus.ON_HOLD, custom={"admin": True})
    def hold(self) -> None:
        self.held_from_status = self.status

    @transition(
        field=status,
        source=WorkOrderStatus.ON_HOLD,
        target=RETURN_VALUE(*WO_HOLDABLE),
        custom={"admin": True},
    )
    def resume(self) -> str:
        status, self.held_from_status = self.held_from_status, ""
        return status

    @transition(
        field=status,
        source=WO_NOT_STARTED,
        target=WorkOrderStatus.CANCELLED,
        permission="manufacturing.cancel_workorder",
    )
    def cancel(self) -> None:
        """The service has released whatever the lines held."""


class WorkOrderLineItem(TimeStampedModel):
    """A component the work order needs (reference §15): `total_quantity = unit_quantity × quantity`."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="work_order_line_items")
    line_type = models.CharField(max_length=50, default=BomLineType.COMPONENT)
    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="work_order_lines")
    part_name = models.CharField(max_length=255, blank=True)
    unit_quantity = models.PositiveIntegerField()
    total_quantity = models.PositiveIntegerField(editable=False)

    class Meta:
        verbose_name = "work order line item"
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(unit_quantity__gt=0), name="mfg_woline_unit_quantity_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.total_quantity} × {self.item.sku}"

    @property
    def part_number(self) -> str:
        return self.item.sku

    @property
    def work_order_number(self) -> str | None:
        return self.work_order.number

    @property
    def line_status(self) -> str:
        """Follows the work order's stock: allocated once released, consumed once started."""
        status = self.work_order.status
        if status == WorkOrderStatus.ON_HOLD:
            status = self.work_order.held_from_status
        return {
            WorkOrderStatus.PLANNED: WorkOrderLineStatus.PLANNED,
            WorkOrderStatus.RELEASED: WorkOrderLineStatus.ALLOCATED,
            WorkOrderStatus.CANCELLED: WorkOrderLineStatus.CANCELLED,
        }.get(status, WorkOrderLineStatus.CONSUMED)
