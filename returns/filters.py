"""List filters (contract §1.5): status (comma separated), the order (`order_id` or `order`, an id or order
number), the customer (`customer` or `customer_id`), created and updated ranges, and the natural keys."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from orders.filters import either_email
from orders.models import Order
from returns.models import Return, ReturnLineItem, Warranty, WarrantyLineItem
from returns.states import Condition, ReturnLineStatus, ReturnStatus, WarrantyStatus
from stateset.filters import BooleanFilter, IdFilter, ResourceFilterSet, status_filter
from stateset.ids import as_id


def _order(queryset, name, value):
    """An order by id or by number."""
    # The order's id in a subquery, not an OR across the join: an index serves each side (issue #16).
    query = Q(order_number__iexact=value)
    if (pk := as_id(value)) is not None:
        query |= Q(pk=pk)
    return queryset.filter(order_id__in=Order.objects.filter(query).values("pk"))


def _email(queryset, name, value):
    return either_email(queryset, value)


class ReturnFilter(ResourceFilterSet):
    status = status_filter(ReturnStatus.choices)
    order_id = django_filters.CharFilter(method=_order, label="order id or number")
    order = django_filters.CharFilter(method=_order, label="order id or number")
    customer = IdFilter(field_name="customer_id")
    customer_id = IdFilter(field_name="customer_id")
    customer_email = django_filters.CharFilter(method=_email, label="customer email (case-insensitive)")
    location = django_filters.CharFilter(field_name="location__code", lookup_expr="iexact", label="location code")
    rma = django_filters.CharFilter(lookup_expr="iexact")
    number = django_filters.CharFilter(field_name="rma", lookup_expr="iexact")
    tracking_number = django_filters.CharFilter(lookup_expr="iexact")
    serial_number = django_filters.CharFilter(lookup_expr="iexact")
    replacement_order = IdFilter(field_name="replacement_order_id")

    class Meta:
        model = Return
        fields = []


class ReturnLineItemFilter(ResourceFilterSet):
    status = status_filter(ReturnLineStatus.choices)
    return_id = IdFilter(field_name="parent_return_id")
    order_line_item = IdFilter(field_name="order_line_item_id")
    sku = django_filters.CharFilter(lookup_expr="iexact")
    condition = status_filter(Condition.choices, field_name="condition")
    restocked = BooleanFilter()

    class Meta:
        model = ReturnLineItem
        fields = []


class WarrantyFilter(ResourceFilterSet):
    status = status_filter(WarrantyStatus.choices)
    order_id = django_filters.CharFilter(method=_order, label="order id or number")
    order = django_filters.CharFilter(method=_order, label="order id or number")
    customer = IdFilter(field_name="customer_id")
    customer_id = IdFilter(field_name="customer_id")
    customer_email = django_filters.CharFilter(method=_email, label="customer email (case-insensitive)")
    number = django_filters.CharFilter(field_name="warranty_number", lookup_expr="iexact")
    warrantyNumber = django_filters.CharFilter(field_name="warranty_number", lookup_expr="iexact")
    serial_number = django_filters.CharFilter(lookup_expr="iexact")
    rma = django_filters.CharFilter(lookup_expr="iexact")
    advanced_replacement = BooleanFilter()
    replacement_order_created = BooleanFilter()

    class Meta:
        model = Warranty
        fields = []


class WarrantyLineItemFilter(ResourceFilterSet):
    warranty_id = IdFilter(field_name="warranty_id")
    sku = django_filters.CharFilter(lookup_expr="iexact")
    serial_number = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = WarrantyLineItem
        fields = []
