"""Orders, their lines, discounts, tags, refunds and shipments; promotions; wholesale orders.

Status fields are protected FSM fields: each transition is declared once below, with the permission it
needs, and run only through `stateset.fsm.apply_transition` by the services in `orders.services`.
Transitions with `target=None` are actions that keep the status (add_item, split, tag, ...): declaring them
lets the state check and the audit row work the same way for every action.

Money is stored as Decimal with two places. The totals are written only by
`orders.services.order_recompute_totals`; CHECK constraints keep them sane whatever the code does.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, transition

from orders.errors import InvalidOrderInput
from orders.states import (
    CANCEL_REMAINING_FROM,
    CANCELLABLE,
    EDITABLE,
    EXCHANGEABLE,
    HOLDABLE,
    MERGEABLE,
    REALLOCATABLE,
    REFUNDABLE,
    RELEASE_TARGETS,
    RETURNABLE,
    SHIPMENT_EDITABLE,
    SHIPMENT_OPEN,
    SHIPMENT_UNDERWAY,
    SHIPPABLE,
    WHOLESALE_CANCELLABLE,
    WHOLESALE_EDITABLE,
    DiscountType,
    FinancialStatus,
    FulfillmentStatus,
    LineStatus,
    OrderStatus,
    PaymentTerms,
    PromotionType,
    ShipmentStatus,
    WholesaleStatus,
)
from stateset.constraints import ci_unique
from stateset.errors import ValidationFailed
from stateset.models import StatefulModel, TimeStampedModel

ZERO = Decimal("0.00")


def money(**kwargs) -> models.DecimalField:
    kwargs.setdefault("default", ZERO)
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)


# As orders.services words its own checks, so that a request losing a race to the constraint reads the same.
NUMBER_USED = "The number '{value}' is already used."


def _code_used(value: str) -> str:
    # str.capitalize lowers the rest too ('SPRING' reads 'spring'): the service's check words it so.
    return f"'{value}' is already used".capitalize() + "."


class Promotion(TimeStampedModel):
    """A promotion code. `times_used` moves only through the conditional UPDATE in
    `orders.services` (never above `usage_limit`, which a CHECK constraint also guards)."""

    code = models.CharField(max_length=100)
    name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=20, choices=PromotionType.choices)
    value = money(help_text="Percent (0-100) for percentage, an amount for fixed, ignored for free shipping.")
    active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    usage_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    times_used = models.PositiveIntegerField(default=0, editable=False)
    min_order_amount = money(null=True, blank=True, default=None, help_text="Minimum order subtotal.")

    class Meta:
        ordering = ["code"]
        constraints = [
            ci_unique(
                "code",
                name="orders_promotion_code_ci_unique",
                error=ValidationFailed,
                message=_code_used,
                errors={"code": "'{value}' is already used"},
                violation_error_message="Code already used.",
            ),
            models.CheckConstraint(
                condition=Q(usage_limit__isnull=True) | Q(times_used__lte=F("usage_limit")),
                name="orders_promotion_usage_within_limit",
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="orders_promotion_value_gte_0"),
            models.CheckConstraint(
                condition=~Q(type=PromotionType.PERCENTAGE) | Q(value__lte=100),
                name="orders_promotion_percentage_lte_100",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def is_current(self, at=None) -> bool:
        at = at or timezone.now()
        return (self.starts_at is None or self.starts_at <= at) and (self.ends_at is None or at <= self.ends_at)


class Order(StatefulModel):
    """A customer order (reference §2.2 fields, contract §3 additions). See the transitions below and the
    README's transition table."""

    number_prefix = "ORD"
    number_field = "order_number"

    order_number = models.CharField(max_length=50, null=True, blank=True)
    name = models.CharField(max_length=255, blank=True)
    # status, customer and location have no index of their own: the (…, created_at, id) indexes in Meta start
    # with them, and serve their filters too. Every index is written again by each non-HOT update of an order.
    status = FSMField(default=OrderStatus.PENDING, choices=OrderStatus.choices, protected=True)
    held_from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True, editable=False)
    hold_reason = models.TextField(blank=True, editable=False)

    customer = models.ForeignKey(
        "crm.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="orders", db_index=False
    )
    customer_email = models.CharField(max_length=254, blank=True, db_index=True)
    customer_name = models.CharField(max_length=255, blank=True)
    customer_number = models.CharField(max_length=100, blank=True)
    buyer_email = models.CharField(max_length=254, blank=True)
    buyer_message = models.TextField(blank=True)
    ordered_by = models.CharField(max_length=255, blank=True)

    currency = models.CharField(max_length=3, default="USD")
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="orders", db_index=False)

    shipping_address = models.JSONField(default=dict, blank=True)
    billing_address = models.JSONField(default=dict, blank=True)
    delivery_address = models.TextField(blank=True)
    delivery_date = models.DateField(null=True, blank=True)
    delivery_type = models.CharField(max_length=100, blank=True)
    fulfillment_type = models.CharField(max_length=100, blank=True)
    shipping_method = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True)
    seller_note = models.TextField(blank=True)
    source = models.CharField(max_length=100, blank=True)
    imported_status = models.CharField(max_length=100, blank=True)
    imported_date = models.DateTimeField(null=True, blank=True)
    is_import = models.BooleanField(default=False)
    is_cod = models.BooleanField(default=False)
    cancel_order_sla_time = models.DateTimeField(null=True, blank=True)
    payment = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    # Money: the inputs (`shipping_amount`, `tax_amount`) and the totals the service computes.
    shipping_amount = money(help_text="Shipping charged before promotions.")
    tax_amount = money()
    subtotal = money(editable=False)
    discount_total = money(editable=False)
    shipping_total = money(editable=False)
    tax_total = money(editable=False)
    total = money(editable=False)
    amount_refunded = money(editable=False)
    promotion = models.ForeignKey(
        Promotion, on_delete=models.PROTECT, null=True, blank=True, related_name="orders", editable=False
    )
    promotion_discount = money(editable=False)
    # Set when a split or merge froze the promotion's discount at an amount (so parts sum to the whole).
    promotion_fixed_amount = money(null=True, blank=True, default=None, editable=False)

    # What happened to it.
    cancel_reason = models.TextField(blank=True, editable=False)
    cancellation_initiator = models.CharField(max_length=255, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    tracking_number = models.CharField(max_length=255, blank=True, editable=False)
    carrier = models.CharField(max_length=100, blank=True, editable=False)
    shipped_at = models.DateTimeField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True, editable=False)
    split_from = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="split_orders", editable=False
    )
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_orders", editable=False
    )
    exchange_for = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replacement_orders", editable=False
    )
    is_replacement_order = models.BooleanField(default=False, editable=False)
    # An exchange's replacement total minus the returned amount, shown on both orders (set by the returns app).
    exchange_price_difference = money(null=True, blank=True, default=None, editable=False)

    class Meta:
        permissions = [
            ("ship_order", "Can ship an order (consumes its stock)"),
            ("cancel_order", "Can cancel an order (releases its stock)"),
            ("refund_order", "Can refund an order"),
            ("split_order", "Can split an order"),
            ("merge_order", "Can merge orders"),
            ("discount_order", "Can add or remove discounts and promotions on an order"),
            ("edit_order", "Can change what an order holds and charges: its lines, shipping and tax"),
        ]
        # Every default sort and documented filter of the list is served by an index (issue #16; the
        # migration builds them concurrently on PostgreSQL). Numbers are found by their Upper() unique index.
        indexes = [
            models.Index(fields=["total", "id"], name="order_total_id"),
            models.Index(fields=["created_at", "id"], name="order_created_id"),
            models.Index(fields=["status", "created_at", "id"], name="order_status_created_id"),
            models.Index(fields=["customer", "created_at", "id"], name="order_customer_created_id"),
            models.Index(fields=["location", "created_at", "id"], name="order_location_created_id"),
            models.Index(Upper("customer_email"), name="order_customer_email_upper"),
        ]
        constraints = [
            ci_unique(
                "order_number",
                name="orders_order_order_number_ci_unique",
                error=InvalidOrderInput,
                message=NUMBER_USED,
                errors={"order_number": "already used"},
                violation_error_message="This number is already used (compared case-insensitively).",
            ),
            models.CheckConstraint(condition=Q(subtotal__gte=0), name="orders_order_subtotal_gte_0"),
            models.CheckConstraint(
                condition=Q(discount_total__gte=0) & Q(discount_total__lte=F("subtotal")),
                name="orders_order_discount_within_subtotal",
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="orders_order_total_gte_0"),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_refunded__lte=F("total")),
                name="orders_order_refund_within_total",
            ),
            models.CheckConstraint(
                condition=Q(shipping_amount__gte=0) & Q(tax_amount__gte=0), name="orders_order_charges_gte_0"
            ),
            models.CheckConstraint(
                condition=(Q(status=OrderStatus.MERGED) & Q(merged_into__isnull=False))
                | (~Q(status=OrderStatus.MERGED) & Q(merged_into__isnull=True)),
                name="orders_order_merged_has_target",
            ),
            models.CheckConstraint(
                condition=~Q(status=OrderStatus.ON_HOLD) | ~Q(held_from_status=""),
                name="orders_order_hold_remembers_status",
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    @property
    def balance(self) -> Decimal:
        """What can still be refunded."""
        return self.total - self.amount_refunded

    # ---- transitions that change the status ------------------------------------------------------------

    @transition(field=status, source=OrderStatus.PENDING, target=OrderStatus.PROCESSING, custom={"admin": True})
    def process(self) -> None:
        """Accepted for fulfilment."""

    @transition(
        field=status,
        source=HOLDABLE,
        target=OrderStatus.ON_HOLD,
        custom={"admin": True, "form": "orders.admin.HoldForm"},
    )
    def hold(self, hold_reason: str) -> None:
        self.held_from_status = self.status
        self.hold_reason = hold_reason

    @transition(field=status, source=OrderStatus.ON_HOLD, target=RETURN_VALUE(*RELEASE_TARGETS), custom={"admin": True})
    def release(self) -> str:
        """Back to the status hold left."""
        target = self.held_from_status or OrderStatus.PENDING
        self.held_from_status = ""
        return target

    @transition(
        field=status,
        source=SHIPPABLE,
        target=RETURN_VALUE(OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED),
        permission="orders.ship_order",
    )
    def ship(self, tracking_number: str = "", carrier: str = "", shipped_at=None, complete: bool = True) -> str:
        """The service has shipped one or more shipments (consuming their units): `shipped` once every unit
        is shipped or cancelled (`complete`), `partially_shipped` before."""
        self.tracking_number = tracking_number or self.tracking_number
        self.carrier = carrier or self.carrier
        self.shipped_at = self.shipped_at or shipped_at or timezone.now()
        return OrderStatus.SHIPPED if complete else OrderStatus.PARTIALLY_SHIPPED

    @transition(
        field=status,
        source=(OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED),
        target=RETURN_VALUE(OrderStatus.PARTIALLY_SHIPPED, OrderStatus.PROCESSING),
        custom={"internal": True},
    )
    def unship(self, anything_shipped: bool = True) -> str:
        """A parcel came back to the sender: its units are shippable again."""
        if not anything_shipped:
            self.shipped_at = None
        return OrderStatus.PARTIALLY_SHIPPED if anything_shipped else OrderStatus.PROCESSING

    @transition(
        field=status,
        source=CANCEL_REMAINING_FROM,
        target=RETURN_VALUE(OrderStatus.SHIPPED, OrderStatus.CANCELLED),
        permission="orders.cancel_order",
    )
    def cancel_remaining(self, cancel_reason: str = "", initiator: str = "", anything_shipped: bool = True) -> str:
        """Short-ship: the service has cancelled every unshipped unit and released its allocations."""
        self.cancel_reason = cancel_reason
        if anything_shipped:
            return OrderStatus.SHIPPED
        self.cancellation_initiator = initiator
        self.cancelled_at = timezone.now()
        return OrderStatus.CANCELLED

    @transition(field=status, source=OrderStatus.SHIPPED, target=OrderStatus.DELIVERED, custom={"admin": True})
    def deliver(self, delivered_at=None) -> None:
        self.delivered_at = delivered_at or timezone.now()

    @transition(field=status, source=CANCELLABLE, target=OrderStatus.CANCELLED, permission="orders.cancel_order")
    def cancel(self, cancel_reason: str = "", initiator: str = "") -> None:
        """The service has released the allocations."""
        self.cancel_reason = cancel_reason
        self.cancellation_initiator = initiator
        self.cancelled_at = timezone.now()
        self.held_from_status = ""

    @transition(
        field=status,
        source=REFUNDABLE,
        target=RETURN_VALUE(OrderStatus.REFUNDED, *REFUNDABLE),
        permission="orders.refund_order",
    )
    def refund(self, amount: Decimal) -> str:
        """Count a refund the service checked against the balance; refunded once nothing is left."""
        self.amount_refunded += amount
        return OrderStatus.REFUNDED if self.amount_refunded >= self.total else self.status

    @transition(field=status, source=RETURNABLE, target=OrderStatus.RETURNED, custom={"action": "return"})
    def mark_returned(self) -> None:
        """Every shipped unit is under a return (the returns app calls orders.services.order_mark_returned)."""

    @transition(
        field=status,
        source=OrderStatus.RETURNED,
        target=RETURN_VALUE(OrderStatus.SHIPPED, OrderStatus.DELIVERED),
        custom={"internal": True},
    )
    def unmark_returned(self) -> str:
        """Units came back off a return (rejected, cancelled): the order is shipped or delivered again."""
        return OrderStatus.DELIVERED if self.delivered_at else OrderStatus.SHIPPED

    @transition(field=status, source=EXCHANGEABLE, target=OrderStatus.EXCHANGED, custom={"action": "exchange"})
    def mark_exchanged(self) -> None:
        """The returns app recorded an exchange (orders.services.order_mark_exchanged)."""

    @transition(
        field=status,
        source=MERGEABLE,
        target=OrderStatus.MERGED,
        permission="orders.merge_order",
        custom={"internal": True},  # a source of `merge`, never called by itself
    )
    def merge_into(self, target: Order) -> None:
        """This order's lines and allocations now live on `target`; it is kept as the record."""
        self.merged_into = target

    # ---- actions that keep the status (declared for the state check and the audit row) --------------------

    @transition(field=status, source=EDITABLE, target=None)
    def update(self) -> None:
        """Header fields changed (the service sets them)."""

    @transition(field=status, source=SHIPMENT_OPEN, target=None, permission="orders.ship_order")
    def add_shipment(self) -> None:
        """A shipment was created, cancelled or deleted on this order (its units reserved or released)."""

    @transition(field=status, source=REALLOCATABLE, target=None, permission="orders.edit_order")
    def reallocate(self) -> None:
        """Unshipped units of a line moved to another location."""

    @transition(field=status, source=EDITABLE, target=None, permission="orders.edit_order")
    def add_item(self) -> None:
        """Lines change what the order charges and what stock it holds: a named permission, like discounts."""

    @transition(field=status, source=EDITABLE, target=None, permission="orders.edit_order")
    def remove_item(self) -> None:
        pass

    @transition(field=status, source=EDITABLE, target=None, permission="orders.discount_order")
    def add_discount(self) -> None:
        pass

    @transition(field=status, source=EDITABLE, target=None, permission="orders.discount_order")
    def remove_discount(self) -> None:
        pass

    @transition(field=status, source=EDITABLE, target=None, permission="orders.discount_order")
    def apply_promotion(self, promotion: Promotion) -> None:
        self.promotion = promotion
        self.promotion_fixed_amount = None

    @transition(field=status, source=EDITABLE, target=None, permission="orders.discount_order")
    def remove_promotion(self) -> None:
        self.promotion = None
        self.promotion_fixed_amount = None

    @transition(field=status, source=EDITABLE, target=None, permission="orders.split_order")
    def split(self) -> None:
        pass

    @transition(field=status, source=MERGEABLE, target=None, permission="orders.merge_order")
    def merge(self) -> None:
        pass

    @transition(field=status, source="*", target=None)
    def tag(self) -> None:
        pass

    @transition(field=status, source="*", target=None)
    def untag(self) -> None:
        pass


class OrderLineItem(TimeStampedModel):
    """One line. `discount_total` is this line's share of every discount (its own, and the order's prorated),
    so that Σ line totals = order subtotal − order discount_total."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="order_line_items")
    item = models.ForeignKey(
        "inventory.InventoryItem", on_delete=models.PROTECT, null=True, blank=True, related_name="order_lines"
    )
    sku = models.CharField(max_length=100, db_index=True)
    product_name = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = money()
    original_price = money(null=True, blank=True, default=None)
    discount_total = money(editable=False)
    total = money(editable=False)
    quantity_shipped = models.PositiveIntegerField(default=0, editable=False)
    quantity_returned = models.PositiveIntegerField(default=0, editable=False)
    # Units short-shipped by cancel_remaining: no longer charged, never shipped (issue #18).
    quantity_cancelled = models.PositiveIntegerField(default=0, editable=False)
    status = models.CharField(max_length=20, choices=LineStatus.choices, default=LineStatus.OPEN, editable=False)
    requires_inventory = models.BooleanField(default=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orders_line_quantity_gt_0"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="orders_line_unit_price_gte_0"),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=F("quantity") - F("quantity_cancelled")),
                name="orders_line_shipped_lte_quantity",
            ),
            models.CheckConstraint(
                condition=Q(quantity_returned__lte=F("quantity_shipped")), name="orders_line_returned_lte_shipped"
            ),
            models.CheckConstraint(
                condition=Q(requires_inventory=False) | Q(item__isnull=False), name="orders_line_stocked_has_item"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def line_subtotal(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def quantity_returnable(self) -> int:
        return self.quantity_shipped - self.quantity_returned

    @property
    def quantity_billed(self) -> int:
        """What the line charges for: its quantity less the units cancelled short."""
        return self.quantity - self.quantity_cancelled

    @property
    def quantity_unshipped(self) -> int:
        """Units neither shipped nor cancelled: what shipments may still take."""
        return self.quantity - self.quantity_cancelled - self.quantity_shipped


class OrderDiscount(TimeStampedModel):
    """A manual discount on the order (or on one line). `amount` is what it takes off, as last computed."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="discounts")
    line = models.ForeignKey(OrderLineItem, on_delete=models.CASCADE, null=True, blank=True, related_name="discounts")
    type = models.CharField(max_length=20, choices=DiscountType.choices)
    value = money()
    description = models.CharField(max_length=255, blank=True)
    amount = money(editable=False)
    created_by = models.CharField(max_length=255, blank=True, editable=False)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=0), name="orders_discount_value_gte_0"),
            models.CheckConstraint(
                condition=~Q(type=DiscountType.PERCENTAGE) | Q(value__lte=100),
                name="orders_discount_percentage_lte_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value}{'%' if self.type == DiscountType.PERCENTAGE else ''} off {self.order}"


class OrderTag(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tags", db_index=False)  # see Meta
    tag_name = models.CharField(max_length=100)
    tag_value = models.CharField(max_length=255, blank=True)
    created_by = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["order", "tag_name"], name="orders_tag_unique_per_order")]
        indexes = [models.Index(fields=["tag_name"])]

    def __str__(self) -> str:
        return f"{self.tag_name}={self.tag_value}" if self.tag_value else self.tag_name


class Refund(models.Model):
    """Money given back on an order, by the order's refund action or by a return (`source_type` "return")."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    amount = money()
    reason = models.TextField(blank=True)
    source_type = models.CharField(max_length=50, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)
    reference = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="orders_refund_amount_gt_0")]

    def __str__(self) -> str:
        return f"{self.amount} on {self.order}"


class Shipment(StatefulModel):
    """One parcel of an order, from one location (issue #18). While pending it reserves its units against
    what its lines hold at that location (so two parcels cannot take the same units); shipping consumes
    exactly those units there. See the transitions below and docs/api/orders.md."""

    number_prefix = "SHP"
    number_field = "number"

    number = models.CharField(max_length=50, null=True, blank=True, unique=True, editable=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments", db_index=False)  # see Meta
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="shipments")
    status = FSMField(default=ShipmentStatus.PENDING, choices=ShipmentStatus.choices, protected=True, db_index=True)
    carrier = models.CharField(max_length=100, blank=True)
    service = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=255, blank=True, db_index=True)
    tracking_url = models.CharField(max_length=500, blank=True)
    weight = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    package_count = models.PositiveIntegerField(default=1)
    notes = models.TextField(blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    actor = models.CharField(max_length=255, blank=True, editable=False)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["order", "status"], name="shipment_order_status")]
        constraints = [
            models.CheckConstraint(condition=Q(package_count__gte=1), name="orders_shipment_packages_gte_1"),
            models.CheckConstraint(
                condition=Q(weight__isnull=True) | Q(weight__gte=0), name="orders_shipment_weight_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    @transition(
        field=status, source=ShipmentStatus.PENDING, target=ShipmentStatus.SHIPPED, permission="orders.ship_order"
    )
    def ship(self, tracking_number: str = "", carrier: str = "", shipped_at=None) -> None:
        """The service has consumed its units at its location."""
        self.tracking_number = tracking_number or self.tracking_number
        self.carrier = carrier or self.carrier
        self.shipped_at = shipped_at or timezone.now()

    @transition(field=status, source=ShipmentStatus.SHIPPED, target=ShipmentStatus.IN_TRANSIT, custom={"admin": True})
    def mark_in_transit(self) -> None:
        pass

    @transition(field=status, source=SHIPMENT_UNDERWAY, target=ShipmentStatus.DELIVERED)
    def deliver(self, delivered_at=None) -> None:
        """The service delivers the order too once every parcel arrived."""
        self.delivered_at = delivered_at or timezone.now()

    @transition(
        field=status, source=ShipmentStatus.PENDING, target=ShipmentStatus.CANCELLED, permission="orders.ship_order"
    )
    def cancel(self) -> None:
        """Its reservation is released (nothing had left the shelf)."""
        self.cancelled_at = timezone.now()

    @transition(
        field=status,
        source=SHIPMENT_UNDERWAY,
        target=ShipmentStatus.RETURNED_TO_SENDER,
        permission="orders.ship_order",
    )
    def return_to_sender(self) -> None:
        """The service has put its units back on hand at its location, allocated to their lines again."""

    @transition(field=status, source=SHIPMENT_UNDERWAY, target=ShipmentStatus.LOST, custom={"admin": True})
    def mark_lost(self) -> None:
        """No stock changes; a refund or a replacement is its own action."""

    @transition(field=status, source=SHIPMENT_EDITABLE, target=None)
    def update(self) -> None:
        """Carrier, service, tracking, weight, packages or notes changed."""

    @transition(
        field=status,
        source=ShipmentStatus.PENDING,
        target=None,
        permission="orders.ship_order",
        custom={"action": "delete"},
    )
    def delete_pending(self) -> None:
        """Deleted before shipping: its reservation released."""


class ShipmentLineItem(models.Model):
    """`quantity` units of one order line in one shipment. `quantity_returned`: how many of them a return
    took back (returns follow parcels)."""

    shipment = models.ForeignKey(  # indexed by the (shipment, line) constraint, which starts with it
        Shipment, on_delete=models.CASCADE, related_name="shipment_line_items", db_index=False
    )
    line = models.ForeignKey(OrderLineItem, on_delete=models.PROTECT, related_name="shipment_lines")
    quantity = models.PositiveIntegerField()
    quantity_returned = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orders_shipment_line_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(quantity_returned__lte=F("quantity")), name="orders_shipment_line_returned_lte_quantity"
            ),
            models.UniqueConstraint(fields=["shipment", "line"], name="orders_shipment_line_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x line {self.line_id}"


class WholesaleOrder(StatefulModel):
    """A B2B order (reference §7 fields): draft → submitted → approved (allocates) → fulfilled (consumes)
    → closed; cancelled from draft, submitted or approved (releases)."""

    number_prefix = "WHO"
    number_field = "order_number"

    order_number = models.CharField(max_length=50, null=True, blank=True)
    name = models.CharField(max_length=255, blank=True)
    status = FSMField(default=WholesaleStatus.DRAFT, choices=WholesaleStatus.choices, protected=True, db_index=True)
    customer = models.ForeignKey(
        "crm.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="wholesale_orders"
    )
    customer_number = models.CharField(max_length=100, blank=True)
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="wholesale_orders")
    payment_terms = models.CharField(max_length=10, choices=PaymentTerms.choices, default=PaymentTerms.NET_30)
    order_financial_status = models.CharField(
        max_length=20, choices=FinancialStatus.choices, default=FinancialStatus.PENDING
    )
    order_fulfillment_status = models.CharField(
        max_length=20, choices=FulfillmentStatus.choices, default=FulfillmentStatus.UNFULFILLED, editable=False
    )
    order_imported_status = models.CharField(max_length=100, blank=True)
    delivery_date = models.DateField(null=True, blank=True)
    delivery_address = models.TextField(blank=True)
    memo = models.TextField(blank=True)
    imported_date = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    subtotal = money(editable=False)
    total = money(editable=False)
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    fulfilled_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancel_reason = models.TextField(blank=True, editable=False)

    class Meta:
        verbose_name = "wholesale order"
        permissions = [
            ("approve_wholesaleorder", "Can approve a wholesale order (allocates its stock)"),
            ("fulfill_wholesaleorder", "Can fulfil a wholesale order (consumes its stock)"),
            ("cancel_wholesaleorder", "Can cancel a wholesale order (releases its stock)"),
        ]
        constraints = [
            ci_unique(
                "order_number",
                name="orders_wholesaleorder_order_number_ci_unique",
                error=InvalidOrderInput,
                message=NUMBER_USED,
                errors={"order_number": "already used"},
                violation_error_message="This number is already used (compared case-insensitively).",
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    @transition(field=status, source=WholesaleStatus.DRAFT, target=WholesaleStatus.SUBMITTED, custom={"admin": True})
    def submit(self) -> None:
        pass

    @transition(
        field=status,
        source=WholesaleStatus.SUBMITTED,
        target=WholesaleStatus.APPROVED,
        permission="orders.approve_wholesaleorder",
    )
    def approve(self) -> None:
        """The service has allocated every line."""
        self.approved_at = timezone.now()
        self.order_fulfillment_status = FulfillmentStatus.ALLOCATED

    @transition(
        field=status,
        source=WholesaleStatus.APPROVED,
        target=WholesaleStatus.FULFILLED,
        permission="orders.fulfill_wholesaleorder",
    )
    def fulfill(self) -> None:
        """The service has consumed the allocations."""
        self.fulfilled_at = timezone.now()
        self.order_fulfillment_status = FulfillmentStatus.FULFILLED

    @transition(field=status, source=WholesaleStatus.FULFILLED, target=WholesaleStatus.CLOSED, custom={"admin": True})
    def close(self) -> None:
        pass

    @transition(
        field=status,
        source=WHOLESALE_CANCELLABLE,
        target=WholesaleStatus.CANCELLED,
        permission="orders.cancel_wholesaleorder",
    )
    def cancel(self, cancel_reason: str = "") -> None:
        """The service has released any allocations."""
        self.cancel_reason = cancel_reason
        self.cancelled_at = timezone.now()
        self.order_fulfillment_status = FulfillmentStatus.CANCELLED

    @transition(field=status, source=WHOLESALE_EDITABLE, target=None)
    def update(self) -> None:
        pass


class WholesaleOrderLineItem(TimeStampedModel):
    wholesale_order = models.ForeignKey(WholesaleOrder, on_delete=models.CASCADE, related_name="order_line_items")
    item = models.ForeignKey("inventory.InventoryItem", on_delete=models.PROTECT, related_name="wholesale_order_lines")
    sku = models.CharField(max_length=100)
    product_name = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = money()
    total = money(editable=False)
    quantity_fulfilled = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["pk"]
        verbose_name = "wholesale order line item"
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orders_wholesale_line_quantity_gt_0"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="orders_wholesale_line_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"
