"""Named reads for returns and warranties: the list querysets with everything their serializers touch, in a
fixed number of queries whatever the page size."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from returns.models import Return, ReturnLineItem, Warranty, WarrantyLineItem


def return_list() -> QuerySet[Return]:
    """Returns with their order, customer, location and replacement joined, and their lines prefetched."""
    return Return.objects.select_related("order", "customer", "location", "replacement_order").prefetch_related(
        Prefetch("return_line_items", queryset=ReturnLineItem.objects.order_by("pk"))
    )


def return_line_item_list() -> QuerySet[ReturnLineItem]:
    return ReturnLineItem.objects.select_related("parent_return")


def warranty_list() -> QuerySet[Warranty]:
    """Warranties with their order, customer and replacement joined, and their lines prefetched."""
    return Warranty.objects.select_related("order", "customer", "replacement_order").prefetch_related(
        Prefetch("warranty_line_items", queryset=WarrantyLineItem.objects.order_by("pk"))
    )


def warranty_line_item_list() -> QuerySet[WarrantyLineItem]:
    return WarrantyLineItem.objects.select_related("warranty")
