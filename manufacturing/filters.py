"""List filters: status (comma separated), created and updated ranges (stateset.filters), the foreign keys
and the natural keys: numbers, part SKUs, location codes."""

import django_filters

from manufacturing.models import (
    BillOfMaterials,
    BillOfMaterialsLineItem,
    ManufactureOrder,
    ManufactureOrderLineItem,
    WorkOrder,
    WorkOrderLineItem,
)
from manufacturing.states import BomLineStatus, BomStatus, ManufactureOrderStatus, WorkOrderStatus
from stateset.filters import BooleanFilter, IdFilter, ResourceFilterSet, status_filter


def _text(field_name: str) -> django_filters.CharFilter:
    return django_filters.CharFilter(field_name=field_name, lookup_expr="iexact")


class BillOfMaterialsFilter(ResourceFilterSet):
    status = status_filter(BomStatus.choices)
    part = _text("part__sku")
    number = _text("number")
    name = django_filters.CharFilter(lookup_expr="icontains")
    revision = django_filters.NumberFilter()
    valid = BooleanFilter()

    class Meta:
        model = BillOfMaterials
        fields = ["status", "part", "number", "name", "revision", "valid"]


class BillOfMaterialsLineItemFilter(ResourceFilterSet):
    bill_of_materials = IdFilter(field_name="bill_of_materials_id")
    bill_of_materials_number = _text("bill_of_materials__number")
    part_number = _text("item__sku")
    status = status_filter(BomLineStatus.choices)

    class Meta:
        model = BillOfMaterialsLineItem
        fields = ["bill_of_materials", "bill_of_materials_number", "part_number", "status"]


class WorkOrderFilter(ResourceFilterSet):
    status = status_filter(WorkOrderStatus.choices)
    part = _text("part__sku")
    number = _text("number")
    bill_of_materials = IdFilter(field_name="bill_of_materials_id")
    bill_of_materials_number = _text("bill_of_materials__number")
    manufacture_order = IdFilter(field_name="manufacture_order_id")
    location = _text("location__code")
    priority = _text("priority")
    site = _text("site")

    class Meta:
        model = WorkOrder
        fields = [
            "status",
            "part",
            "number",
            "bill_of_materials",
            "bill_of_materials_number",
            "manufacture_order",
            "location",
            "priority",
            "site",
        ]


class WorkOrderLineItemFilter(ResourceFilterSet):
    work_order = IdFilter(field_name="work_order_id")
    work_order_number = _text("work_order__number")
    part_number = _text("item__sku")

    class Meta:
        model = WorkOrderLineItem
        fields = ["work_order", "work_order_number", "part_number"]


class ManufactureOrderFilter(ResourceFilterSet):
    status = status_filter(ManufactureOrderStatus.choices)
    number = _text("number")
    priority = _text("priority")
    site = _text("site")
    yield_location = _text("yield_location__code")

    class Meta:
        model = ManufactureOrder
        fields = ["status", "number", "priority", "site", "yield_location"]


class ManufactureOrderLineItemFilter(ResourceFilterSet):
    manufacture_order = IdFilter(field_name="manufacture_order_id")
    manufacture_order_number = _text("manufacture_order__number")
    bill_of_materials = IdFilter(field_name="bill_of_materials_id")
    bom_number = _text("bill_of_materials__number")
    part_number = _text("item__sku")
    work_order = IdFilter(field_name="work_order_id")

    class Meta:
        model = ManufactureOrderLineItem
        fields = ["manufacture_order", "manufacture_order_number", "bill_of_materials", "bom_number", "part_number"]
