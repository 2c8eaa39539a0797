"""List filters (contract §1.5): status (comma separated), customer, customer_email, tag, location, number,
SKU, created range (also `start_date` / `end_date` as dates, as the 2024 docs name them)."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q

from inventory.models import Location
from orders.models import Order, OrderLineItem, OrderTag, Promotion, Shipment, WholesaleOrder
from orders.states import OrderStatus, PromotionType, ShipmentStatus, WholesaleStatus
from stateset.filters import BooleanFilter, DateTimeFilter, IdFilter, ResourceFilterSet, status_filter
from stateset.ids import as_id


def _location(queryset, name, value):
    # The location's ids in a subquery, not an OR across the join: an index serves each side (issue #16).
    query = Q(code__iexact=value)
    if (pk := as_id(value)) is not None:
        query |= Q(pk=pk)
    return queryset.filter(location_id__in=Location.objects.filter(query).values("pk"))


def either_email(queryset, value):
    """Rows whose own customer_email or whose customer's email is `value` (case-insensitive): the union of two
    indexed lookups (`pk IN (... UNION ...)`), where an OR across the customer join could only scan."""
    model = queryset.model._base_manager
    own = model.filter(customer_email__iexact=value).order_by().values("pk")
    theirs = model.filter(customer__email__iexact=value).order_by().values("pk")
    return queryset.filter(pk__in=own.union(theirs))


class OrderFilter(ResourceFilterSet):
    status = status_filter(OrderStatus.choices)
    customer = IdFilter(field_name="customer_id")
    customer_email = django_filters.CharFilter(method="filter_customer_email")
    tag = django_filters.CharFilter(method="filter_tag", label="tag name")
    location = django_filters.CharFilter(method="filter_location", label="location code or id")
    number = django_filters.CharFilter(field_name="order_number", lookup_expr="iexact")
    order_number = django_filters.CharFilter(field_name="order_number", lookup_expr="iexact")
    sku = django_filters.CharFilter(method="filter_sku", label="Orders with a line for this SKU (exact)")
    start_date = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    end_date = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")
    is_replacement_order = BooleanFilter()
    split_from = IdFilter(field_name="split_from_id")
    merged_into = IdFilter(field_name="merged_into_id")
    exchange_for = IdFilter(field_name="exchange_for_id")

    class Meta:
        model = Order
        fields = []

    def filter_customer_email(self, queryset, name, value):
        return either_email(queryset, value)

    def filter_sku(self, queryset, name, value):
        # The lines' ids by the SKU index, then their orders: a semi-join the planner runs from the few lines.
        return queryset.filter(pk__in=OrderLineItem.objects.filter(sku=value).values("order_id"))

    def filter_tag(self, queryset, name, value):
        return queryset.filter(Exists(OrderTag.objects.filter(order=OuterRef("pk"), tag_name=value)))

    def filter_location(self, queryset, name, value):
        return _location(queryset, name, value)


class PromotionFilter(ResourceFilterSet):
    code = django_filters.CharFilter(lookup_expr="iexact")
    type = django_filters.ChoiceFilter(choices=PromotionType.choices)
    active = BooleanFilter()

    class Meta:
        model = Promotion
        fields = []


class WholesaleOrderFilter(ResourceFilterSet):
    status = status_filter(WholesaleStatus.choices)
    customer = IdFilter(field_name="customer_id")
    location = django_filters.CharFilter(method="filter_location", label="location code or id")
    number = django_filters.CharFilter(field_name="order_number", lookup_expr="iexact")
    payment_terms = django_filters.CharFilter()

    class Meta:
        model = WholesaleOrder
        fields = []

    def filter_location(self, queryset, name, value):
        return _location(queryset, name, value)


class ShipmentFilter(ResourceFilterSet):
    """Shipments: order, status (comma separated), carrier, location, tracking number, shipped and delivered
    ranges (`?pack_today=true`: pending ones created today or before, the packing list of the day)."""

    order = IdFilter(field_name="order_id")
    order_id = IdFilter(field_name="order_id")
    status = status_filter(ShipmentStatus.choices)
    carrier = django_filters.CharFilter(field_name="carrier", lookup_expr="iexact")
    tracking_number = django_filters.CharFilter(field_name="tracking_number", lookup_expr="iexact")
    location = django_filters.CharFilter(method="filter_location", label="location code or id")
    number = django_filters.CharFilter(field_name="number", lookup_expr="iexact")
    shipped_after = DateTimeFilter(field_name="shipped_at", lookup_expr="gte")
    shipped_before = DateTimeFilter(field_name="shipped_at", lookup_expr="lte")
    delivered_after = DateTimeFilter(field_name="delivered_at", lookup_expr="gte")
    delivered_before = DateTimeFilter(field_name="delivered_at", lookup_expr="lte")

    class Meta:
        model = Shipment
        fields = []

    def filter_location(self, queryset, name, value):
        return _location(queryset, name, value)
