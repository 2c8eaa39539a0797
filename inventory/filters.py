"""List filters for the inventory resources (contract §1.5 and §2). A bad value is a 400, never an empty list."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, F, OuterRef

from inventory.models import (
    CycleCount,
    CycleCountLineItem,
    InventoryItem,
    Location,
    PackingList,
    PackingListItem,
    PurchaseOrder,
    PurchaseOrderLineItem,
    StockLevel,
)
from inventory.states import CycleCountStatus, LocationKind, PackingListStatus, PurchaseOrderStatus
from stateset.filters import BooleanFilter, IdFilter, ResourceFilterSet, status_filter


class CommaSeparatedFilter(django_filters.Filter):
    """`?sku=A,B`: any of the values (exact)."""

    def filter(self, qs, value):
        values = [v.strip() for v in (value or "").split(",") if v.strip()]
        return qs.filter(**{f"{self.field_name}__in": values}) if values else qs


class InventoryItemFilter(ResourceFilterSet):
    sku = CommaSeparatedFilter(field_name="sku", label="SKU (several, comma separated)")
    upc = django_filters.CharFilter()
    location = django_filters.CharFilter(method="at_location", label="Location code: items with a level there")
    low_stock = BooleanFilter(method="filter_low_stock", label="true: available at or below the reorder point")
    active = BooleanFilter()

    class Meta:
        model = InventoryItem
        fields = ["upc"]

    def at_location(self, queryset, name, value):
        return queryset.filter(Exists(StockLevel.objects.filter(item=OuterRef("pk"), location__code=value)))

    def filter_low_stock(self, queryset, name, value):
        # `available_total` is the selector's annotation (inventory.selectors.item_list).
        low = {"available_total__lte": F("reorder_point")}
        return queryset.filter(**low) if value else queryset.exclude(**low)


class LocationFilter(ResourceFilterSet):
    code = CommaSeparatedFilter(field_name="code")
    kind = django_filters.ChoiceFilter(choices=LocationKind.choices)
    active = BooleanFilter()

    class Meta:
        model = Location
        fields: list[str] = []


class PurchaseOrderFilter(ResourceFilterSet):
    status = status_filter(PurchaseOrderStatus.choices)
    number = django_filters.CharFilter(field_name="purchase_order_number", lookup_expr="iexact")
    purchase_order_number = django_filters.CharFilter(lookup_expr="iexact")
    vendor = django_filters.CharFilter(lookup_expr="iexact")
    location = django_filters.CharFilter(field_name="location__code")
    sku = django_filters.CharFilter(method="with_sku", label="Orders with a line for this SKU")
    financed = BooleanFilter()

    class Meta:
        model = PurchaseOrder
        fields: list[str] = []

    def with_sku(self, queryset, name, value):
        return queryset.filter(
            Exists(PurchaseOrderLineItem.objects.filter(purchase_order=OuterRef("pk"), item__sku=value))
        )


class PackingListFilter(ResourceFilterSet):
    status = status_filter(PackingListStatus.choices)
    number = django_filters.CharFilter(lookup_expr="iexact")
    purchase_order_number = django_filters.CharFilter(
        field_name="purchase_order__purchase_order_number", lookup_expr="iexact"
    )
    tracking_number = django_filters.CharFilter()
    location = django_filters.CharFilter(field_name="location__code")
    sku = django_filters.CharFilter(method="with_sku", label="Lists with an item of this SKU")

    class Meta:
        model = PackingList
        fields: list[str] = []

    def with_sku(self, queryset, name, value):
        return queryset.filter(Exists(PackingListItem.objects.filter(packing_list=OuterRef("pk"), item__sku=value)))


class PackingListItemFilter(ResourceFilterSet):
    packing_list = IdFilter(field_name="packing_list_id")
    sku = django_filters.CharFilter(field_name="item__sku")
    arrived = BooleanFilter()

    class Meta:
        model = PackingListItem
        fields: list[str] = []


class CycleCountFilter(ResourceFilterSet):
    status = status_filter(CycleCountStatus.choices)
    number = django_filters.CharFilter(field_name="cycle_count_number", lookup_expr="iexact")
    cycle_count_number = django_filters.CharFilter(lookup_expr="iexact")
    location = django_filters.CharFilter(field_name="location__code")
    part = django_filters.CharFilter(method="with_part", label="Counts with a line for this SKU")

    class Meta:
        model = CycleCount
        fields: list[str] = []

    def with_part(self, queryset, name, value):
        return queryset.filter(Exists(CycleCountLineItem.objects.filter(cycle_count=OuterRef("pk"), item__sku=value)))
