"""Returns (RMAs) and their lines; warranty claims and their lines (contract §4, reference §3–§6).

Status fields are protected FSM fields: each transition is declared once below, with the permission it
needs, and run only through `stateset.fsm.apply_transition` by the services in `returns.services`, which
also do what a transition means beyond the row (units counted as returned on the order, restock, refund,
replacement order). Transitions with `custom={"admin": True}` are buttons in the admin; the admin runs them
through the same services.

Model fields are snake_case; the serializers map the documented names (`customerEmail`, `enteredBy`,
`warrantyNumber`, ...).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils import timezone
from django_fsm import FSMField, transition

from returns.errors import InvalidReturnInput
from returns.states import (
    RETURN_CANCELLABLE,
    RETURN_CLOSABLE,
    RETURN_REOPENABLE,
    WARRANTY_CANCELLABLE,
    WARRANTY_REOPENABLE,
    Condition,
    ReturnLineStatus,
    ReturnStatus,
    WarrantyStatus,
)
from stateset.constraints import ci_unique
from stateset.models import StatefulModel, TimeStampedModel

ZERO = Decimal("0.00")


def money(**kwargs) -> models.DecimalField:
    kwargs.setdefault("default", ZERO)
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)


# As returns.services words its own check, so that a request losing a race to the constraint reads the same.
NUMBER_USED = "The number '{value}' is already used."


def text(length: int = 255) -> models.CharField:
    return models.CharField(max_length=length, blank=True)


class Return(StatefulModel):
    """A return merchandise authorisation for goods of one shipped order.

    Its lines count as returned on the order's lines (`quantity_returned`) from creation until it is rejected
    or cancelled (and again once reopened): `returns.services.return_units_take` is the one way they are
    counted, so no path can return more than the order shipped and has not had returned.
    """

    number_prefix = "RMA"
    number_field = "rma"

    rma = models.CharField(max_length=50, null=True, blank=True)
    # order and customer have no index of their own: the (…, created_at, id) indexes in Meta start with them,
    # and serve their filters too. status keeps its own: a status's bounded count scans the narrow index, where
    # the planner would rather read the table than the wide one (tests/core/test_list_plans.py).
    status = FSMField(default=ReturnStatus.REQUESTED, choices=ReturnStatus.choices, protected=True, db_index=True)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="returns", db_index=False)
    customer = models.ForeignKey(
        "crm.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="returns", db_index=False
    )
    location = models.ForeignKey(
        "inventory.Location",
        on_delete=models.PROTECT,
        related_name="returns",
        help_text="Where restocked goods go back on hand (the order's location by default).",
    )

    # The client's documented fields, kept as given.
    customer_email = models.CharField(max_length=254, blank=True, db_index=True)
    entered_by = text()
    description = models.TextField(blank=True)
    issue = models.TextField(blank=True)
    reason_category = text(100)
    reported_condition = text(100)
    condition = text(100)
    action_needed = models.BooleanField(default=False)
    tracking_number = text()
    zendesk_number = text(100)
    fedex_status = text(100)
    serial_number = text()
    scanned_serial_number = text()
    match = models.BooleanField(default=False)
    country = text(100)
    shipping_address = models.JSONField(
        default=dict, blank=True, help_text="The address the customer gave for this return."
    )
    sso_id = text()
    workflow_id = text()
    flat_rate_shipping = money()
    tax_refunded = money()
    created_date = models.DateTimeField(default=timezone.now)
    order_date = models.DateTimeField(null=True, blank=True)
    shipped_date = models.DateTimeField(null=True, blank=True)
    requested_date = models.DateTimeField(default=timezone.now)
    warehouse_condition_date = models.DateTimeField(null=True, blank=True)
    restocking_fee = money(help_text="Kept back from the default refund.")

    # Written by the services.
    amount = money(editable=False, help_text="The sum of the lines' amounts.")
    total_refunded = money(editable=False)
    order_refunded = models.BooleanField(default=False, editable=False)
    refunded_date = models.DateTimeField(null=True, blank=True, editable=False)
    warehouse_received_date = models.DateTimeField(null=True, blank=True, editable=False)
    received_by = models.CharField(max_length=255, blank=True, editable=False)
    approval_notes = models.TextField(blank=True, editable=False)
    rejection_reason = models.TextField(blank=True, editable=False)
    cancel_reason = models.TextField(blank=True, editable=False)
    replacement_order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exchange_returns",
        editable=False,
        help_text="For an exchange: the replacement order made for the new items.",
    )
    exchange_price_difference = money(null=True, blank=True, default=None, editable=False)

    class Meta:
        # The list's sort and filters, each on an index (issue #16); the RMA by its Upper() unique index.
        indexes = [
            models.Index(fields=["created_at", "id"], name="return_created_id"),
            models.Index(fields=["status", "created_at", "id"], name="return_status_created_id"),
            models.Index(fields=["customer", "created_at", "id"], name="return_customer_created_id"),
            models.Index(fields=["order", "created_at", "id"], name="return_order_created_id"),
            models.Index(Upper("customer_email"), name="return_customer_email_upper"),
            models.Index(Upper("tracking_number"), name="return_tracking_upper"),
        ]
        permissions = [
            ("approve_return", "Can approve or reject a return"),
            ("receive_return", "Can receive a return (restocks its goods)"),
            ("refund_return", "Can refund a return (records a refund on its order)"),
        ]
        constraints = [
            ci_unique(
                "rma",
                name="returns_return_rma_ci_unique",
                error=InvalidReturnInput,
                message=NUMBER_USED,
                errors={"rma": "already used"},
                violation_error_message="This RMA number is already used (compared case-insensitively).",
            ),
            models.CheckConstraint(condition=Q(restocking_fee__gte=0), name="returns_return_fee_gte_0"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="returns_return_amount_gte_0"),
            models.CheckConstraint(condition=Q(total_refunded__gte=0), name="returns_return_refunded_gte_0"),
            models.CheckConstraint(
                condition=Q(order_refunded=False) | Q(total_refunded__gt=0), name="returns_return_refund_recorded"
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    # ---- transitions -------------------------------------------------------------------------------------

    @transition(
        field=status,
        source=ReturnStatus.REQUESTED,
        target=ReturnStatus.APPROVED,
        permission="returns.approve_return",
        custom={"admin": True},
    )
    def approve(self, notes: str = "") -> None:
        self.approval_notes = notes

    @transition(
        field=status,
        source=ReturnStatus.REQUESTED,
        target=ReturnStatus.REJECTED,
        permission="returns.approve_return",
        custom={"admin": True, "form": "stateset.admin.ReasonForm"},
    )
    def reject(self, rejection_reason: str = "") -> None:
        """The service has given the units back to the order."""
        self.rejection_reason = rejection_reason

    @transition(
        field=status, source=ReturnStatus.APPROVED, target=ReturnStatus.RECEIVED, permission="returns.receive_return"
    )
    def receive(self, received_by: str = "") -> None:
        """The service has recorded what arrived and restocked what may go back on hand."""
        self.received_by = received_by
        self.warehouse_received_date = timezone.now()

    @transition(
        field=status, source=ReturnStatus.RECEIVED, target=ReturnStatus.REFUNDED, permission="returns.refund_return"
    )
    def refund(self, amount: Decimal) -> None:
        """The service has recorded the refund on the order."""
        self.total_refunded += amount
        self.order_refunded = True
        self.refunded_date = timezone.now()

    @transition(field=status, source=RETURN_CANCELLABLE, target=ReturnStatus.CANCELLED, custom={"admin": True})
    def cancel(self, cancel_reason: str = "") -> None:
        """The service has given the units back to the order."""
        self.cancel_reason = cancel_reason

    @transition(field=status, source=RETURN_CLOSABLE, target=ReturnStatus.CLOSED, custom={"admin": True})
    def close(self) -> None:
        pass

    @transition(field=status, source=RETURN_REOPENABLE, target=ReturnStatus.REQUESTED, custom={"admin": True})
    def reopen(self) -> None:
        """The service has counted the units as returned again (refused if they are gone)."""
        self.rejection_reason = ""
        self.cancel_reason = ""

    @transition(field=status, source="*", target=None)
    def update(self) -> None:
        """Header fields changed (the service checks which may change in the current status)."""


class ReturnLineItem(TimeStampedModel):
    """One returned line: reference §4's fields plus `quantity`, the order line it returns, the condition,
    whether it goes back on hand (`restock`) and whether it did (`restocked`, exactly once, at receipt)."""

    parent_return = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="return_line_items")
    order_line_item = models.ForeignKey(
        "orders.OrderLineItem",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="return_lines",
        help_text="The order line whose shipped units this line returns (resolved from the SKU when not given).",
    )
    shipment = models.ForeignKey(
        "orders.Shipment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="return_lines",
        help_text="The shipment (parcel) the units come back from (issue #18); optional.",
    )
    sku = models.CharField(max_length=100, blank=True, db_index=True)
    name = text()
    price = money(help_text="Unit price paid (the order line's total / quantity unless given).")
    amount = money(help_text="What the line refunds: price × quantity unless given.")
    quantity = models.PositiveIntegerField()
    quantity_received = models.PositiveIntegerField(default=0, editable=False)
    condition = models.CharField(max_length=20, choices=Condition.choices, default=Condition.NEW)
    restock = models.BooleanField(default=True, help_text="Back on hand at receipt if new or like new.")
    restocked = models.BooleanField(default=False, editable=False)
    status = models.CharField(
        max_length=20, choices=ReturnLineStatus.choices, default=ReturnLineStatus.REQUESTED, editable=False
    )
    reason = models.TextField(blank=True)
    serial_number = text()
    tax_refunded = money()
    flat_rate_shipping = money()

    class Meta:
        ordering = ["pk"]
        verbose_name = "return line item"
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="returns_line_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity")), name="returns_line_received_lte_quantity"
            ),
            models.CheckConstraint(
                condition=Q(restocked=False) | Q(quantity_received__gt=0), name="returns_line_restocked_received"
            ),
            models.CheckConstraint(condition=Q(price__gte=0) & Q(amount__gte=0), name="returns_line_money_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku or self.name or 'line'}"


class Warranty(StatefulModel):
    """A warranty claim (reference §5). Approving with `advanced_replacement` (or `create_replacement`)
    makes a zero-price replacement order for the claim's lines."""

    number_prefix = "WAR"
    number_field = "warranty_number"

    warranty_number = models.CharField(max_length=50, null=True, blank=True)
    status = FSMField(default=WarrantyStatus.REQUESTED, choices=WarrantyStatus.choices, protected=True, db_index=True)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="warranties"
    )
    customer = models.ForeignKey(
        "crm.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="warranties"
    )

    customer_email = models.CharField(max_length=254, blank=True, db_index=True)
    entered_by = text()
    warranty_name = text()
    warranty_type = text(100)
    description = models.TextField(blank=True)
    issue = models.TextField(blank=True)
    reason_category = text(100)
    reported_condition = text(100)
    condition = text(100)
    condition_date = models.DateTimeField(null=True, blank=True)
    action_needed = models.BooleanField(default=False)
    advanced_replacement = models.BooleanField(
        default=False, help_text="Approval creates a zero-price replacement order for the claim's lines."
    )
    amount = money()
    country = text(100)
    match = models.BooleanField(default=False)
    rma = text(100)
    serial_number = text()
    scanned_serial_number = text()
    replacement_color = text(100)
    shipstation_order_id = text()
    sso_id = text()
    stripe_invoice_id = text()
    tax_refunded = money()
    total_refunded = money()
    tracking_number = text()
    zendesk_number = text(100)
    created_date = models.DateTimeField(default=timezone.now)
    order_date = models.DateTimeField(null=True, blank=True)
    requested_date = models.DateTimeField(default=timezone.now)
    shipped_date = models.DateTimeField(null=True, blank=True)
    warehouse_received_date = models.DateTimeField(null=True, blank=True)
    expiration_date = models.DateField(null=True, blank=True)

    # Written by the services.
    replacement_order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="warranty_replacements",
        editable=False,
    )
    replacement_order_created = models.BooleanField(default=False, editable=False)
    approval_notes = models.TextField(blank=True, editable=False)
    denial_reason = models.TextField(blank=True, editable=False)
    cancel_reason = models.TextField(blank=True, editable=False)
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "warranties"
        permissions = [
            ("approve_warranty", "Can approve or deny a warranty claim (approval may create a replacement order)"),
        ]
        constraints = [
            ci_unique(
                "warranty_number",
                name="returns_warranty_warranty_number_ci_unique",
                error=InvalidReturnInput,
                message=NUMBER_USED,
                errors={"warranty_number": "already used"},
                keys=("warrantyNumber", "warranty_number"),
                violation_error_message="This warranty number is already used (compared case-insensitively).",
            ),
            models.CheckConstraint(
                condition=Q(replacement_order_created=False) | Q(replacement_order__isnull=False),
                name="returns_warranty_replacement_linked",
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    @transition(
        field=status,
        source=WarrantyStatus.REQUESTED,
        target=WarrantyStatus.APPROVED,
        permission="returns.approve_warranty",
    )
    def approve(self, notes: str = "") -> None:
        """The service has created the replacement order when one was asked for."""
        self.approval_notes = notes
        self.approved_at = timezone.now()

    @transition(
        field=status,
        source=WarrantyStatus.REQUESTED,
        target=WarrantyStatus.DENIED,
        permission="returns.approve_warranty",
        custom={"admin": True, "form": "stateset.admin.ReasonForm"},
    )
    def deny(self, denial_reason: str = "") -> None:
        self.denial_reason = denial_reason

    @transition(field=status, source=WarrantyStatus.APPROVED, target=WarrantyStatus.COMPLETED, custom={"admin": True})
    def complete(self) -> None:
        self.completed_at = timezone.now()

    @transition(field=status, source=WARRANTY_CANCELLABLE, target=WarrantyStatus.CANCELLED)
    def cancel(self, cancel_reason: str = "") -> None:
        """The service has cancelled a replacement order that had not shipped."""
        self.cancel_reason = cancel_reason

    @transition(field=status, source=WARRANTY_REOPENABLE, target=WarrantyStatus.REQUESTED, custom={"admin": True})
    def reopen(self) -> None:
        self.denial_reason = ""
        self.cancel_reason = ""

    @transition(field=status, source="*", target=None)
    def update(self) -> None:
        """Header fields changed."""


class WarrantyLineItem(TimeStampedModel):
    """One item of a claim (reference §6), plus `quantity` (1 by default) for the replacement."""

    warranty = models.ForeignKey(Warranty, on_delete=models.CASCADE, related_name="warranty_line_items")
    sku = models.CharField(max_length=100, blank=True, db_index=True)
    name = text()
    price = money()
    quantity = models.PositiveIntegerField(default=1)
    condition = text(100)
    serial_number = text()
    amount = money()
    flat_rate_shipping = money()
    tax_refunded = money()
    image_1 = text(1000)
    image_2 = text(1000)
    image_3 = text(1000)
    match = models.BooleanField(default=False)

    class Meta:
        ordering = ["pk"]
        verbose_name = "warranty line item"
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="returns_warranty_line_qty_gt_0")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku or self.name or 'item'}"
