"""Named reads for orders: the list querysets with everything their serializers touch, in a fixed number of
queries whatever the page size."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from orders.models import (
    Order,
    OrderDiscount,
    OrderLineItem,
    OrderTag,
    Promotion,
    Refund,
    Shipment,
    ShipmentLineItem,
    WholesaleOrder,
    WholesaleOrderLineItem,
)


def order_list() -> QuerySet[Order]:
    """Orders with customer, location and promotion joined, and lines, discounts, tags, refunds and
    shipments prefetched (one query each)."""
    return Order.objects.select_related("customer", "location", "promotion").prefetch_related(
        Prefetch("order_line_items", queryset=OrderLineItem.objects.order_by("pk")),
        Prefetch("discounts", queryset=OrderDiscount.objects.order_by("pk")),
        Prefetch("tags", queryset=OrderTag.objects.order_by("pk")),
        Prefetch("refunds", queryset=Refund.objects.order_by("pk")),
        Prefetch("shipments", queryset=Shipment.objects.order_by("pk")),
    )


def shipment_list() -> QuerySet[Shipment]:
    """Shipments with their order and location joined and their lines prefetched (one query)."""
    return Shipment.objects.select_related("order", "location").prefetch_related(
        Prefetch("shipment_line_items", queryset=ShipmentLineItem.objects.order_by("pk"))
    )


def order_get(pk: int) -> Order | None:
    return order_list().filter(pk=pk).first()


def orders_of_customer(customer_id: int) -> QuerySet[Order]:
    return order_list().filter(customer_id=customer_id)


def promotion_list() -> QuerySet[Promotion]:
    return Promotion.objects.all()


def promotion_by_code(code: str) -> Promotion | None:
    return Promotion.objects.filter(code__iexact=code.strip()).first()


def wholesale_order_list() -> QuerySet[WholesaleOrder]:
    return WholesaleOrder.objects.select_related("customer", "location").prefetch_related(
        Prefetch("order_line_items", queryset=WholesaleOrderLineItem.objects.order_by("pk"))
    )
