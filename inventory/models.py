"""Stock: locations, items, one level per (item, location), the append-only ledger, allocations.

Only `inventory.services` writes StockLevel, StockMovement and Allocation rows. The database guards the
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

from inventory.states import AllocationStatus, LocationKind, MovementReason
from stateset.models import TimeStampedModel


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

    sku = models.CharField(max_length=100, unique=True)
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

    def __str__(self) -> str:
        return self.sku


class StockLevel(models.Model):
    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="levels")
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

    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="movements")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="movements")
    quantity = models.IntegerField(help_text="Signed: positive into stock, negative out of it.")
    on_hand_after = models.IntegerField(help_text="The level's on hand right after this movement.")
    reason = models.CharField(max_length=30, choices=MovementReason.choices)
    reason_text = models.CharField(max_length=200, blank=True, help_text="The caller's own reason (e.g. 'damaged').")
    source_type = models.CharField(max_length=50, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)
    source_number = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # PROTECT: a user who moved stock is deactivated, never deleted, so the ledger keeps its author.
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    actor = models.CharField(max_length=255, blank=True, help_text="The door: API key, admin, or command.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["item", "location"]),
            models.Index(fields=["source_type", "source_id"]),
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
