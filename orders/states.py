"""The orders vocabulary: order, line, discount, promotion and wholesale statuses, and the named groups that
transitions, services, filters and queries share (contract §3)."""

from django.db import models


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    ON_HOLD = "on_hold", "On hold"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    RETURNED = "returned", "Returned"
    REFUNDED = "refunded", "Refunded"
    EXCHANGED = "exchanged", "Exchanged"
    MERGED = "merged", "Merged"


# Lines, discounts, promotion and header fields may change; the order holds its allocations.
EDITABLE = (OrderStatus.PENDING, OrderStatus.PROCESSING, OrderStatus.ON_HOLD)
# Not yet shipped and not held: can be held, shipped, merged.
OPEN = (OrderStatus.PENDING, OrderStatus.PROCESSING)
HOLDABLE = OPEN
MERGEABLE = OPEN
CANCELLABLE = EDITABLE
# Where release may go back to: the status hold remembered.
RELEASE_TARGETS = OPEN
# Shipments can be created and shipped (issue #18): open orders, and those with some parcels gone already.
SHIPMENT_OPEN = (OrderStatus.PENDING, OrderStatus.PROCESSING, OrderStatus.PARTIALLY_SHIPPED)
# Units can be moved between locations or cancelled short: what has not shipped yet may still change.
REALLOCATABLE = (OrderStatus.PENDING, OrderStatus.PROCESSING, OrderStatus.ON_HOLD, OrderStatus.PARTIALLY_SHIPPED)
SHIPPABLE = SHIPMENT_OPEN
CANCEL_REMAINING_FROM = (OrderStatus.PENDING, OrderStatus.PROCESSING, OrderStatus.PARTIALLY_SHIPPED)
# Some parcels left: a parcel coming back to the sender can take a shipped order back here or further.
SOME_SHIPPED = (OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
# The goods left the warehouse: they can be delivered (from shipped), returned or exchanged.
FULFILLED = (OrderStatus.SHIPPED, OrderStatus.DELIVERED)
RETURNABLE = FULFILLED
EXCHANGEABLE = FULFILLED
# Money can go back to the customer from these; a refund reaching the total moves the order to refunded.
REFUNDABLE = (
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.RETURNED,
    OrderStatus.CANCELLED,
)
# No transition leaves these (tags aside).
TERMINAL = (OrderStatus.REFUNDED, OrderStatus.EXCHANGED, OrderStatus.MERGED)


class LineStatus(models.TextChoices):
    OPEN = "open", "Open"  # allocated (or needing no stock), not shipped yet
    SHIPPED = "shipped", "Shipped"
    RETURNED = "returned", "Returned"  # every shipped unit is under a return
    CANCELLED = "cancelled", "Cancelled"
    MERGED = "merged", "Merged"  # copied onto the order it was merged into; kept here as the record


class ShipmentStatus(models.TextChoices):
    """One parcel (issue #18): pending (its units reserved) → shipped → in_transit → delivered; cancelled
    before shipping; returned_to_sender or lost after."""

    PENDING = "pending", "Pending"
    SHIPPED = "shipped", "Shipped"
    IN_TRANSIT = "in_transit", "In transit"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    RETURNED_TO_SENDER = "returned_to_sender", "Returned to sender"
    LOST = "lost", "Lost"


# On its way: the carrier has it.
SHIPMENT_UNDERWAY = (ShipmentStatus.SHIPPED, ShipmentStatus.IN_TRANSIT)
# Its units left the warehouse and did not come back to it (counted in the line's quantity_shipped).
SHIPMENT_OUT = (ShipmentStatus.SHIPPED, ShipmentStatus.IN_TRANSIT, ShipmentStatus.DELIVERED, ShipmentStatus.LOST)
# Every field but the status may still change (a shipped parcel's tracking number is often known late).
SHIPMENT_EDITABLE = (
    ShipmentStatus.PENDING,
    ShipmentStatus.SHIPPED,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.DELIVERED,
)


class DiscountType(models.TextChoices):
    FIXED = "fixed", "Fixed amount"
    PERCENTAGE = "percentage", "Percentage"


class PromotionType(models.TextChoices):
    PERCENTAGE = "percentage", "Percentage"
    FIXED = "fixed", "Fixed amount"
    FREE_SHIPPING = "free_shipping", "Free shipping"


class WholesaleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    FULFILLED = "fulfilled", "Fulfilled"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


# Header fields and lines may still change; nothing is allocated yet.
WHOLESALE_EDITABLE = (WholesaleStatus.DRAFT, WholesaleStatus.SUBMITTED)
WHOLESALE_CANCELLABLE = (WholesaleStatus.DRAFT, WholesaleStatus.SUBMITTED, WholesaleStatus.APPROVED)


class PaymentTerms(models.TextChoices):
    PREPAID = "prepaid", "Prepaid"
    NET_15 = "net_15", "Net 15"
    NET_30 = "net_30", "Net 30"
    NET_60 = "net_60", "Net 60"


class FinancialStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    AUTHORIZED = "authorized", "Authorized"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    REFUNDED = "refunded", "Refunded"
    VOIDED = "voided", "Voided"


class FulfillmentStatus(models.TextChoices):
    """Written by the wholesale transitions: what the warehouse has done."""

    UNFULFILLED = "unfulfilled", "Unfulfilled"
    ALLOCATED = "allocated", "Allocated"
    FULFILLED = "fulfilled", "Fulfilled"
    CANCELLED = "cancelled", "Cancelled"
