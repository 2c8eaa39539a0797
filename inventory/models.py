"""Stock: locations, items, one level per (item, location), the append-only ledger, allocations; and the
documents that move stock in: purchase orders, packing lists, cycle counts.

Only `inventory.services.stock` writes StockLevel, StockMovement and Allocation rows. The database guards the
invariants that must never break, whatever the code does:

- StockLevel: `0 <= allocated <= on_hand` and `incoming >= 0` (CHECK constraints);
- StockMovement: `quantity != 0`; rows are never updated (a trigger on every database, see migration 0002)
  nor deleted (a trigger on PostgreSQL; the model and queryset refuse it everywhere);
- Allocation: `quantity >= 0`, and open allocations hold a positive quantity.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import RETURN_VALUE, FSMField, transition

from inventory.states import (
    CC_CANCELLABLE,
    DEFAULT_LOCATION_CODE,
    PL_CANCELLABLE,
    PL_IN_TRANSIT,
    PO_CANCELLABLE,
    PO_FINANCEABLE,
    PO_RECEIVING,
    AllocationStatus,
    CountLineStatus,
    CycleCountStatus,
    LocationKind,
    MovementReason,
    PackingListStatus,
    PurchaseOrderStatus,
)
from stateset.constraints import ci_unique
from stateset.errors import ValidationFailed
from stateset.models import StatefulModel, TimeStampedModel


class Location(TimeStampedModel):
    """A warehouse, site or bin, by code. Migration 0001 creates `MAIN`, the default everywhere."""

    code = models.CharField(max_length=50, unique=True)
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=20, choices=LocationKind.choices, default=LocationKind.WAREHOUSE)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class InventoryItem(TimeStampedModel):
    """One per SKU. Its counts (`warehouse`, `available`, `incoming`, `allocated`) are sums over its levels."""

    # Indexed for the exact lookups (lines name their SKU exactly); unique case-insensitively below.
    sku = models.CharField(max_length=100, db_index=True)
    upc = models.CharField(max_length=100, blank=True)
    description = models.CharField(max_length=500, blank=True)
    size = models.CharField(max_length=50, blank=True)
    color = models.CharField(max_length=50, blank=True)
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    reorder_point = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    arriving = models.DateField(null=True, blank=True)
    arrival_date = models.DateField(null=True, blank=True)
    delivery_date = models.DateField(null=True, blank=True)
    purchase_order_id = models.CharField(max_length=100, blank=True)
    restock_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["sku"]
        permissions = [
            ("adjust_inventoryitem", "Can adjust stock on hand"),
            ("transfer_inventoryitem", "Can transfer stock between locations"),
        ]
        constraints = [
            ci_unique(
                "sku",
                name="inventory_inventoryitem_sku_ci_unique",
                error=ValidationFailed,
                message="An item with SKU '{value}' already exists.",
                errors={"sku": "already exists"},
                violation_error_message="An item with this SKU already exists, in any case.",
            ),
        ]

    def __str__(self) -> str:
        return self.sku


class StockLevel(models.Model):
    # No index of its own: the (item, location) unique constraint starts with it.
    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="levels", db_index=False)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="levels")
    on_hand = models.IntegerField(default=0)
    allocated = models.IntegerField(default=0)
    incoming = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "location"], name="stocklevel_item_location_unique"),
            models.CheckConstraint(condition=Q(allocated__gte=0), name="stocklevel_allocated_gte_0"),
            models.CheckConstraint(
                condition=Q(allocated__lte=models.F("on_hand")), name="stocklevel_allocated_lte_on_hand"
            ),
            models.CheckConstraint(condition=Q(incoming__gte=0), name="stocklevel_incoming_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}@{self.location_id}: {self.on_hand} on hand, {self.allocated} allocated"

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The stock ledger is append-only: movements are never updated.")

    def delete(self):
        raise TypeError("The stock ledger is append-only: movements are never deleted.")


class StockMovement(models.Model):
    """One change of `on_hand` at one location. The sum of a level's movements is its `on_hand`."""

    # No index of its own: the (item, location) and (item, created_at) indexes start with it.
    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="movements", db_index=False)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="movements")
    quantity = models.IntegerField(help_text="Signed: positive into stock, negative out of it.")
    on_hand_after = models.IntegerField(help_text="The level's on hand right after this movement.")
    reason = models.CharField(max_length=30, choices=MovementReason.choices)
    reason_text = models.CharField(max_length=200, blank=True, help_text="The reason given, in words (e.g. 'damaged').")
    source_type = models.CharField(max_length=50, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)
    source_number = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # PROTECT: a user who moved stock is deactivated, never deleted, so the ledger keeps its author.
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    actor = models.CharField(
        max_length=255,
        blank=True,
        help_text="Who moved it, and how: through the API (which key), the back office, or a command.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["item", "location"]),
            models.Index(fields=["source_type", "source_id"]),
            # An item's ledger (`/movements`), newest first (issue #16).
            models.Index(fields=["item", "created_at", "id"], name="movement_item_created_id"),
        ]
        constraints = [models.CheckConstraint(condition=~Q(quantity=0), name="stockmovement_quantity_not_0")]

    def __str__(self) -> str:
        return f"{self.reason} {self.quantity:+d} {self.item_id}@{self.location_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("The stock ledger is append-only: movements are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The stock ledger is append-only: movements are never deleted.")


class Allocation(models.Model):
    """Stock held at one level for one document line (an order line, a wholesale order line, a work order
    line). `quantity` is what is still held; it falls as the line ships, is released, or moves to another
    line (split, merge). The level's `allocated` equals the sum of its open allocations."""

    level = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="allocations")
    document_type = models.CharField(max_length=50)
    document_id = models.BigIntegerField()
    line_id = models.BigIntegerField()
    quantity = models.IntegerField()
    status = models.CharField(max_length=20, choices=AllocationStatus.choices, default=AllocationStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["document_type", "document_id"]),
            models.Index(fields=["document_type", "line_id"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0), name="allocation_quantity_gte_0"),
            models.CheckConstraint(
                condition=~Q(status=AllocationStatus.OPEN) | Q(quantity__gt=0), name="allocation_open_positive"
            ),
            models.UniqueConstraint(
                fields=["document_type", "line_id", "level"],
                condition=Q(status=AllocationStatus.OPEN),
                name="allocation_one_open_per_line_level",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} for {self.document_type} {self.document_id} line {self.line_id} ({self.status})"


def main_location_id() -> int:
    """The default `location` of a document: MAIN (created by migration 0002, recreated if missing)."""
    location, _ = Location.objects.get_or_create(code=DEFAULT_LOCATION_CODE, defaults={"name": "Main warehouse"})
    return location.pk


# ---- purchase orders ---------------------------------------------------------------------------------------


def _has_lines(document) -> bool:
    """The condition of submit and start: a document needs at least one line (its services say so first,
    with a clearer error; this keeps the admin's buttons from offering it)."""
    return document.pk is not None and document.lines.exists()


def _has_items(packing_list) -> bool:
    return packing_list.pk is not None and packing_list.items.exists()


class PurchaseOrder(StatefulModel):
    """An order to a supplier, with the field names of reference §11 (`purchase_order_number`,
    `purchase_order_status`, `createdat`, `lastupdated`, ...; inventory.serializers maps them).

    Lifecycle (contract §2): draft → submitted → approved | rejected; approved → ordered (send: the lines'
    quantities become `incoming` at `location`); ordered, partially_received → partially_received | received
    by receipts, or → received by complete (closing short); cancel from draft, submitted, approved, ordered.
    finance records the financer in any status from approved on. The stock effects are in
    inventory.services.purchasing; the transitions here change only this row.
    """

    number_prefix = "PO"
    number_field = "purchase_order_number"

    purchase_order_number = models.CharField(max_length=50, null=True, blank=True)
    purchase_order_name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    status = FSMField(
        default=PurchaseOrderStatus.DRAFT, choices=PurchaseOrderStatus.choices, protected=True, db_index=True
    )
    vendor = models.CharField(max_length=255, blank=True, db_index=True)
    purchaser = models.CharField(max_length=255, blank=True)
    fulfiller = models.CharField(max_length=255, blank=True)
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, default=main_location_id, related_name="purchase_orders"
    )
    purchase_date = models.DateField(null=True, blank=True)
    delivery_date = models.DateField(null=True, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    purchase_order_hash = models.CharField(max_length=255, blank=True)
    transaction_id = models.CharField(max_length=255, blank=True)
    # Computed from the lines by the services, never written by clients.
    subtotal = models.DecimalField(max_digits=14, decimal_places=2, default=0, editable=False)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=0, editable=False)
    financer = models.CharField(max_length=255, blank=True, editable=False)
    financed = models.BooleanField(default=False, editable=False)
    rejection_reason = models.CharField(max_length=500, blank=True, editable=False)
    cancel_reason = models.CharField(max_length=500, blank=True, editable=False)

    class Meta:
        verbose_name = "purchase order"
        permissions = [
            ("approve_purchaseorder", "Can approve or reject a purchase order"),
            ("send_purchaseorder", "Can send a purchase order to the supplier"),
            ("receive_purchaseorder", "Can receive or close a purchase order"),
            ("cancel_purchaseorder", "Can cancel a purchase order"),
            ("finance_purchaseorder", "Can record the financing of a purchase order"),
        ]
        constraints = [
            ci_unique(
                "purchase_order_number",
                name="inventory_purchaseorder_purchase_order_number_ci_unique",
                error=ValidationFailed,
                message="A purchase order with the number '{value}' already exists.",
                errors={"purchase_order_number": "already used"},
                violation_error_message="A purchase order with this number already exists, in any case.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_number} {self.vendor}".strip()

    @transition(
        field=status,
        source=PurchaseOrderStatus.DRAFT,
        target=PurchaseOrderStatus.SUBMITTED,
        conditions=[_has_lines],
        custom={"admin": True},
    )
    def submit(self) -> None:
        """Ready for approval (the condition backs the service's rule: at least one line)."""

    @transition(
        field=status,
        source=PurchaseOrderStatus.SUBMITTED,
        target=PurchaseOrderStatus.APPROVED,
        permission="inventory.approve_purchaseorder",
        custom={"admin": True},
    )
    def approve(self) -> None:
        """Approved for ordering."""

    @transition(
        field=status,
        source=PurchaseOrderStatus.SUBMITTED,
        target=PurchaseOrderStatus.REJECTED,
        permission="inventory.approve_purchaseorder",
        custom={"admin": True, "form": "stateset.admin.ReasonForm"},
    )
    def reject(self, rejection_reason: str) -> None:
        self.rejection_reason = rejection_reason[:500]

    @transition(
        field=status,
        source=PurchaseOrderStatus.APPROVED,
        target=PurchaseOrderStatus.ORDERED,
        permission="inventory.send_purchaseorder",
    )
    def send(self) -> None:
        """Sent to the supplier (inventory.services.purchasing.purchase_order_send raises `incoming`)."""

    @transition(
        field=status,
        source=PO_RECEIVING,
        target=RETURN_VALUE(PurchaseOrderStatus.PARTIALLY_RECEIVED, PurchaseOrderStatus.RECEIVED),
        permission="inventory.receive_purchaseorder",
    )
    def receive(self, fully_received: bool) -> str:
        """A receipt was booked on the lines; received once every line has all it ordered."""
        return PurchaseOrderStatus.RECEIVED if fully_received else PurchaseOrderStatus.PARTIALLY_RECEIVED

    @transition(
        field=status,
        source=PO_RECEIVING,
        target=PurchaseOrderStatus.RECEIVED,
        permission="inventory.receive_purchaseorder",
    )
    def complete(self) -> None:
        """Closed short: what was not received will not come."""

    @transition(
        field=status,
        source=PO_CANCELLABLE,
        target=PurchaseOrderStatus.CANCELLED,
        permission="inventory.cancel_purchaseorder",
    )
    def cancel(self, cancel_reason: str = "") -> None:
        self.cancel_reason = cancel_reason[:500]

    @transition(
        field=status,
        source=PO_FINANCEABLE,
        target=None,
        permission="inventory.finance_purchaseorder",
        custom={"admin": True, "form": "inventory.admin.FinanceForm"},
    )
    def finance(self, financer: str) -> None:
        self.financer = financer
        self.financed = True


class PurchaseOrderLineItem(TimeStampedModel):
    """One SKU of a purchase order (one line per SKU). `quantity_received` only grows, through receipts, and
    never passes `quantity_ordered` (a CHECK constraint backs the over-receipt rule)."""

    purchase_order = models.ForeignKey(  # indexed by the one-line-per-SKU constraint, which starts with it
        PurchaseOrder, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="purchase_order_lines")
    description = models.CharField(max_length=500, blank=True)
    quantity_ordered = models.PositiveIntegerField()
    quantity_received = models.PositiveIntegerField(default=0, editable=False)
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2, default=0)

    class Meta:
        ordering = ["pk"]
        verbose_name = "purchase order line item"
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "item"], name="po_line_one_per_sku"),
            models.CheckConstraint(condition=Q(quantity_ordered__gt=0), name="po_line_quantity_ordered_gt_0"),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=models.F("quantity_ordered")), name="po_line_no_over_receipt"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} × {self.quantity_ordered}"

    @property
    def sku(self) -> str:
        return self.item.sku

    @property
    def outstanding(self) -> int:
        return self.quantity_ordered - self.quantity_received

    @property
    def line_total(self):
        return self.unit_cost * self.quantity_ordered


# ---- packing lists -----------------------------------------------------------------------------------------


class PackingList(StatefulModel):
    """What one supplier shipment contains (reference §9: `deliveryDate`, `arrivalDate`, `invoice_number`,
    `ship_per`, `tracking_number`, `purchase_order_number`).

    Lifecycle: draft → submitted → shipped → received; cancelled from draft, submitted, shipped. Items arrive
    one by one (inventory.services.purchasing.packing_list_item_arrive) while submitted or shipped; the list becomes
    received when the last one arrives, or by receive, which arrives all the rest. `incoming_added` says
    whether submit added the items to `incoming` (an unlinked list) or left them to its purchase order,
    which already counts them.
    """

    number_prefix = "PL"
    number_field = "number"

    number = models.CharField(max_length=50, null=True, blank=True)
    status = FSMField(default=PackingListStatus.DRAFT, choices=PackingListStatus.choices, protected=True, db_index=True)
    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="packing_lists"
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, default=main_location_id, related_name="packing_lists"
    )
    delivery_date = models.DateField(null=True, blank=True)
    arrival_date = models.DateField(null=True, blank=True)
    invoice_number = models.CharField(max_length=100, blank=True)
    ship_per = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True, db_index=True)
    incoming_added = models.BooleanField(default=False, editable=False)

    class Meta:
        verbose_name = "packing list"
        permissions = [("receive_packinglist", "Can book the arrival of packing list items")]
        constraints = [
            ci_unique(
                "number",
                name="inventory_packinglist_number_ci_unique",
                error=ValidationFailed,
                message="A packing list with the number '{value}' already exists.",
                errors={"number": "already used"},
                violation_error_message="A packing list with this number already exists, in any case.",
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    @transition(
        field=status, source=PackingListStatus.DRAFT, target=PackingListStatus.SUBMITTED, conditions=[_has_items]
    )
    def submit(self, incoming_added: bool) -> None:
        self.incoming_added = incoming_added

    @transition(
        field=status, source=PackingListStatus.SUBMITTED, target=PackingListStatus.SHIPPED, custom={"admin": True}
    )
    def ship(self) -> None:
        """In transit."""

    @transition(field=status, source=PL_IN_TRANSIT, target=None, permission="inventory.receive_packinglist")
    def arrive(self) -> None:
        """One item arrived (the status stays until the last one)."""

    @transition(
        field=status,
        source=PL_IN_TRANSIT,
        target=PackingListStatus.RECEIVED,
        permission="inventory.receive_packinglist",
    )
    def receive(self) -> None:
        """Every item has arrived."""

    @transition(field=status, source=PL_CANCELLABLE, target=PackingListStatus.CANCELLED)
    def cancel(self) -> None:
        """Items not arrived will not come (their incoming is given back by the service)."""


class PackingListItem(TimeStampedModel):
    """One SKU and quantity of a packing list (reference §10). `arrived` turns true exactly once."""

    packing_list = models.ForeignKey(PackingList, on_delete=models.CASCADE, related_name="items")
    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="packing_list_items")
    description = models.CharField(max_length=500, blank=True)
    quantity = models.PositiveIntegerField()
    arrived = models.BooleanField(default=False, editable=False)
    arrived_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["pk"]
        verbose_name = "packing list item"
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="pl_item_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(arrived=False, arrived_at__isnull=True) | Q(arrived=True, arrived_at__isnull=False),
                name="pl_item_arrived_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} × {self.quantity}"

    @property
    def sku(self) -> str:
        return self.item.sku


# ---- cycle counts ------------------------------------------------------------------------------------------


class CycleCount(StatefulModel):
    """A count of stock on hand (reference §16). Lines name a part (SKU) and location; start snapshots the
    expected quantities, count records what was found, complete computes the variances, and reconcile posts
    each non-zero variance to the ledger once (`cycle_count` movements)."""

    number_prefix = "CC"
    number_field = "cycle_count_number"

    cycle_count_number = models.CharField(max_length=50, null=True, blank=True)
    status = FSMField(default=CycleCountStatus.OPEN, choices=CycleCountStatus.choices, protected=True, db_index=True)
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, default=main_location_id, related_name="cycle_counts"
    )
    site = models.CharField(max_length=100, blank=True)
    bin = models.CharField(max_length=100, blank=True)
    lot = models.CharField(max_length=100, blank=True)
    method = models.CharField(max_length=100, blank=True)
    assigned_user = models.CharField(max_length=255, blank=True)
    explanation = models.TextField(blank=True)
    standard_tracking = models.BooleanField(default=False)
    serialized_tracking = models.BooleanField(default=False)
    scheduled_start_date = models.DateField(null=True, blank=True)
    scheduled_end_date = models.DateField(null=True, blank=True)
    completed_date = models.DateTimeField(null=True, blank=True, editable=False)
    accuracy_rate = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "cycle count"
        permissions = [("reconcile_cyclecount", "Can post a cycle count's variances to stock")]
        constraints = [
            ci_unique(
                "cycle_count_number",
                name="inventory_cyclecount_cycle_count_number_ci_unique",
                error=ValidationFailed,
                message="A cycle count with the number '{value}' already exists.",
                errors={"cycle_count_number": "already used"},
                violation_error_message="A cycle count with this number already exists, in any case.",
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    # The documented single-part form (reference §16): a one-line count shows its part and quantities on
    # the header; a count of several lines shows no part and the sums. Read from prefetched `lines`.

    def _line_values(self, attr: str) -> list:
        return [getattr(line, attr) for line in self.lines.all() if getattr(line, attr) is not None]

    @property
    def part(self) -> str | None:
        lines = list(self.lines.all())
        return lines[0].item.sku if len(lines) == 1 else None

    @property
    def quantity_expected(self) -> int | None:
        values = self._line_values("quantity_expected")
        return sum(values) if values else None

    @property
    def quantity_counted(self) -> int | None:
        values = self._line_values("quantity_counted")
        return sum(values) if values else None

    @property
    def variance_quantity(self) -> int | None:
        values = self._line_values("variance_quantity")
        return sum(values) if values else None

    @property
    def variance_cost(self):
        values = self._line_values("variance_cost")
        return sum(values) if values else None

    @transition(
        field=status, source=CycleCountStatus.OPEN, target=CycleCountStatus.IN_PROGRESS, conditions=[_has_lines]
    )
    def start(self) -> None:
        """Counting begins (the service snapshots the expected quantities)."""

    @transition(field=status, source=CycleCountStatus.IN_PROGRESS, target=None)
    def count(self) -> None:
        """Counts recorded on lines."""

    @transition(field=status, source=CycleCountStatus.IN_PROGRESS, target=CycleCountStatus.COUNTED)
    def complete(self, completed_date, accuracy_rate) -> None:
        self.completed_date = completed_date
        self.accuracy_rate = accuracy_rate

    @transition(
        field=status,
        source=CycleCountStatus.COUNTED,
        target=CycleCountStatus.RECONCILED,
        permission="inventory.reconcile_cyclecount",
    )
    def reconcile(self) -> None:
        """The variances were posted to the ledger."""

    @transition(field=status, source=CC_CANCELLABLE, target=CycleCountStatus.CANCELLED, custom={"admin": True})
    def cancel(self) -> None:
        """Abandoned: nothing is posted."""


class CycleCountLineItem(TimeStampedModel):
    """One part at one location. `variance_quantity` = counted − expected, `variance_cost` = unit cost ×
    variance, both set by complete."""

    cycle_count = models.ForeignKey(  # indexed by the one-line-per-level constraint, which starts with it
        CycleCount, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="cycle_count_lines")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="cycle_count_lines")
    bin = models.CharField(max_length=100, blank=True)
    lot = models.CharField(max_length=100, blank=True)
    quantity_expected = models.IntegerField(null=True, blank=True, editable=False)
    quantity_counted = models.PositiveIntegerField(null=True, blank=True)
    variance_quantity = models.IntegerField(null=True, blank=True, editable=False)
    variance_cost = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True, editable=False)
    explanation = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=CountLineStatus.choices, default=CountLineStatus.PENDING, editable=False
    )

    class Meta:
        ordering = ["pk"]
        verbose_name = "cycle count line item"
        constraints = [
            # The snapshot and the posting are per stock level: one line per part and location.
            models.UniqueConstraint(fields=["cycle_count", "item", "location"], name="cc_line_one_per_level"),
        ]

    def __str__(self) -> str:
        return f"{self.item}@{self.location}"

    @property
    def part(self) -> str:
        return self.item.sku
