"""One output serializer per resource (also its create input), with the documented keys of reference
§12–§18. Parts are shown and given as SKUs, locations as codes, linked documents as numbers
(`bill_of_materials_number`, `work_order_number`, ...). Lines are nested under the documented keys
(`line_items`, `work_order_line_items`, `manufacture_order_line_items`), writable on create only."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from manufacturing.models import (
    BillOfMaterials,
    BillOfMaterialsLineItem,
    ManufactureOrder,
    ManufactureOrderLineItem,
    WorkOrder,
    WorkOrderLineItem,
)
from manufacturing.states import ManufactureOrderLineStatus, WorkOrderLineStatus
from stateset.api import ConstantField, InputSerializer, ResourceSerializer
from stateset.limits import MAX_QUANTITY


@extend_schema_field(OpenApiTypes.STR)
class SkuField(serializers.Field):
    """An inventory item shown as its SKU; given as a SKU (the service resolves it: unknown is a 400)."""

    def to_representation(self, item):
        return item.sku

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data.strip():
            raise serializers.ValidationError("Give a SKU (a non-empty string).")
        return data.strip()


@extend_schema_field(OpenApiTypes.STR)
class LocationField(serializers.Field):
    """A location shown as its code; given as its code or id (unknown is a 400)."""

    def to_representation(self, location):
        return location.code

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)) or not str(data).strip():
            raise serializers.ValidationError("Give a location code or id.")
        return str(data).strip()


def _link(**kwargs) -> serializers.CharField:
    """A linked document's number: shown from the model, given to pick the document (by number or id)."""
    return serializers.CharField(max_length=50, **kwargs)


# ---- bills of materials ------------------------------------------------------------------------------------


class BillOfMaterialsLineItemSerializer(ResourceSerializer):
    """Reference §13. `bill_of_materials_number` names the BOM (number or id) on create; `part_number` is an
    inventory SKU; `quantity` is per unit of the BOM's part."""

    object = ConstantField("bill_of_materials_line_item")
    bill_of_materials_number = _link()
    part_number = serializers.CharField(max_length=100)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)

    class Meta:
        model = BillOfMaterialsLineItem
        fields = [
            "id",
            "object",
            "bill_of_materials",
            "bill_of_materials_number",
            "line_type",
            "part_number",
            "part_name",
            "purchase_supply_type",
            "quantity",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["bill_of_materials"]


class BillOfMaterialsLineItemUpdateSerializer(BillOfMaterialsLineItemSerializer):
    """A line stays on its BOM."""

    bill_of_materials_number = _link(read_only=True)
    part_number = serializers.CharField(max_length=100, required=False)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, required=False)


class NestedBomLineSerializer(BillOfMaterialsLineItemSerializer):
    """A line inside its BOM: the BOM is the one being created."""

    bill_of_materials_number = _link(read_only=True)


class BillOfMaterialsSerializer(ResourceSerializer):
    """Reference §12 (`number`, `name`, `description`, `groups`, `valid`, `line_items`) plus `part` (the SKU
    one unit of which the BOM makes), `revision`, `revised_from` and `status` (draft, active, obsolete)."""

    object = ConstantField("bill_of_materials")
    part = SkuField(required=False, allow_null=True)
    line_items = NestedBomLineSerializer(many=True, required=False)

    class Meta:
        model = BillOfMaterials
        fields = [
            "id",
            "object",
            "number",
            "name",
            "description",
            "groups",
            "valid",
            "part",
            "revision",
            "revised_from",
            "status",
            "line_items",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "revision", "revised_from"]
        extra_kwargs = {"number": {"validators": [], "required": False}}


class BillOfMaterialsUpdateSerializer(BillOfMaterialsSerializer):
    """The number is chosen once; lines change through /v1/bill_of_materials_line_items."""

    number = serializers.CharField(read_only=True)
    line_items = NestedBomLineSerializer(many=True, read_only=True)


# ---- work orders -------------------------------------------------------------------------------------------


class WorkOrderLineItemSerializer(ResourceSerializer):
    """Reference §15. `work_order_number` names the work order (number or id) on create; `total_quantity`
    is `unit_quantity` × the work order's quantity; `line_status` follows the work order (Planned,
    Allocated, Consumed, Cancelled)."""

    object = ConstantField("work_order_line_item")
    work_order_number = _link()
    part_number = serializers.CharField(max_length=100)
    unit_quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    line_status = serializers.ChoiceField(choices=WorkOrderLineStatus.choices, read_only=True)

    class Meta:
        model = WorkOrderLineItem
        fields = [
            "id",
            "object",
            "work_order",
            "work_order_number",
            "line_status",
            "line_type",
            "part_number",
            "part_name",
            "unit_quantity",
            "total_quantity",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["work_order", "total_quantity"]


class WorkOrderLineItemUpdateSerializer(WorkOrderLineItemSerializer):
    work_order_number = _link(read_only=True)
    part_number = serializers.CharField(max_length=100, required=False)
    unit_quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, required=False)


class NestedWorkOrderLineSerializer(WorkOrderLineItemSerializer):
    work_order_number = _link(read_only=True)


class WorkOrderSerializer(ResourceSerializer):
    """Reference §14 plus `bill_of_materials` (id; or `bill_of_materials_number`), `quantity` (planned),
    `quantity_completed`, `quantity_scrapped`, `quantity_remaining`. `part` is the SKU made, `location` the
    code of the location components come from and output goes to (MAIN by default)."""

    object = ConstantField("work_order")
    part = SkuField(required=False)
    location = LocationField(required=False)
    bill_of_materials = serializers.PrimaryKeyRelatedField(
        queryset=BillOfMaterials.objects.all(), required=False, allow_null=True
    )
    bill_of_materials_number = _link(required=False, allow_null=True)
    manufacture_order_number = serializers.CharField(read_only=True, allow_null=True)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    quantity_remaining = serializers.IntegerField(read_only=True)
    work_order_line_items = NestedWorkOrderLineSerializer(many=True, required=False)

    class Meta:
        model = WorkOrder
        fields = [
            "id",
            "object",
            "number",
            "site",
            "work_order_type",
            "location",
            "part",
            "order_number",
            "manufacture_order",
            "manufacture_order_number",
            "status",
            "created_by",
            "issue_date",
            "expected_completion_date",
            "priority",
            "memo",
            "bill_of_materials",
            "bill_of_materials_number",
            "quantity",
            "quantity_completed",
            "quantity_scrapped",
            "quantity_remaining",
            "held_from_status",
            "started_at",
            "completed_at",
            "work_order_line_items",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "status",
            "manufacture_order",
            "created_by",
            "quantity_completed",
            "quantity_scrapped",
            "held_from_status",
            "started_at",
            "completed_at",
        ]
        extra_kwargs = {"number": {"validators": [], "required": False}}


class WorkOrderUpdateSerializer(WorkOrderSerializer):
    """What a work order is made from is chosen once; `quantity` and `location` change while planned."""

    number = serializers.CharField(read_only=True)
    part = SkuField(read_only=True)
    bill_of_materials = serializers.PrimaryKeyRelatedField(read_only=True)
    bill_of_materials_number = _link(read_only=True)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, required=False)
    work_order_line_items = NestedWorkOrderLineSerializer(many=True, read_only=True)


# ---- manufacture orders ------------------------------------------------------------------------------------


class ManufactureOrderLineItemSerializer(ResourceSerializer):
    """Reference §18. The line names an active BOM by `bill_of_materials` (id) or `bom_number`, or a part
    (`part_number`) whose active BOM is taken. `work_order_number` is set by submit; `line_status` follows
    that work order (Draft, Planned, In Progress, Completed, Cancelled)."""

    object = ConstantField("manufacture_order_line_item")
    manufacture_order_number = _link()
    bill_of_materials = serializers.PrimaryKeyRelatedField(
        queryset=BillOfMaterials.objects.all(), required=False, allow_null=True
    )
    bom_number = _link(required=False, allow_null=True)
    bom_name = serializers.CharField(read_only=True)
    part_number = serializers.CharField(max_length=100, required=False, allow_null=True)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    yield_location = LocationField(required=False, allow_null=True)
    line_status = serializers.ChoiceField(choices=ManufactureOrderLineStatus.choices, read_only=True)
    work_order_number = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = ManufactureOrderLineItem
        fields = [
            "id",
            "object",
            "manufacture_order",
            "manufacture_order_number",
            "bill_of_materials",
            "bom_number",
            "bom_name",
            "part_number",
            "part_name",
            "quantity",
            "expected_date",
            "line_status",
            "line_type",
            "output_type",
            "priority",
            "site",
            "yield_location",
            "work_order",
            "work_order_number",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["manufacture_order", "work_order"]


class ManufactureOrderLineItemUpdateSerializer(ManufactureOrderLineItemSerializer):
    manufacture_order_number = _link(read_only=True)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, required=False)


class NestedManufactureOrderLineSerializer(ManufactureOrderLineItemSerializer):
    manufacture_order_number = _link(read_only=True)


class ManufactureOrderSerializer(ResourceSerializer):
    """Reference §17 plus `status` (draft, submitted, in_production, on_hold, completed, cancelled).
    `yield_location` is a location code: where its work orders run, unless a line names its own."""

    object = ConstantField("manufacture_order")
    yield_location = LocationField(required=False, allow_null=True)
    manufacture_order_line_items = NestedManufactureOrderLineSerializer(many=True, required=False)

    class Meta:
        model = ManufactureOrder
        fields = [
            "id",
            "object",
            "number",
            "memo",
            "priority",
            "site",
            "yield_location",
            "created_on",
            "expected_completion_date",
            "issued_on",
            "status",
            "held_from_status",
            "manufacture_order_line_items",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "held_from_status"]
        extra_kwargs = {"number": {"validators": [], "required": False}, "created_on": {"required": False}}


class ManufactureOrderUpdateSerializer(ManufactureOrderSerializer):
    number = serializers.CharField(read_only=True)
    manufacture_order_line_items = NestedManufactureOrderLineSerializer(many=True, read_only=True)


# ---- action inputs and derived views -----------------------------------------------------------------------


class ReasonInput(InputSerializer):
    """An action's optional reason, kept on its history row."""

    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class ActivateInput(ReasonInput):
    supersede = serializers.BooleanField(
        required=False, default=False, help_text="Obsolete the part's current active BOM in the same step."
    )


class BuildToStockInput(ReasonInput):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, required=False, default=1)
    location = LocationField(required=False, allow_null=True)


class CompleteInput(ReasonInput):
    quantity_completed = serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY)
    quantity_scrapped = serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY, required=False, default=0)


class ExplodeQuery(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, required=False, default=1)
    location = serializers.CharField(required=False, allow_blank=True)


class CostQuery(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, required=False, default=1)


class ExplosionComponentSerializer(serializers.Serializer):
    part_number = serializers.CharField()
    part_name = serializers.CharField()
    quantity = serializers.IntegerField()
    available = serializers.IntegerField()
    shortage = serializers.IntegerField()


class ExplosionRowSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    part_number = serializers.CharField()
    part_name = serializers.CharField()
    quantity_per = serializers.IntegerField()
    quantity = serializers.IntegerField()
    bill_of_materials_number = serializers.CharField(allow_null=True)
    available = serializers.IntegerField()
    shortage = serializers.IntegerField(allow_null=True)


class ExplosionSerializer(serializers.Serializer):
    object = serializers.CharField()
    bill_of_materials = serializers.IntegerField()
    number = serializers.CharField(allow_null=True)
    part = serializers.CharField(allow_null=True)
    revision = serializers.IntegerField()
    status = serializers.CharField()
    quantity = serializers.IntegerField()
    location = serializers.CharField(allow_null=True)
    components = ExplosionComponentSerializer(many=True)
    has_shortage = serializers.BooleanField()
    tree = ExplosionRowSerializer(many=True)


class ExplosionEnvelope(serializers.Serializer):
    explosion = ExplosionSerializer()


class CostLineSerializer(serializers.Serializer):
    part_number = serializers.CharField()
    part_name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_cost = serializers.CharField()
    extended_cost = serializers.CharField()
    cost_source = serializers.ChoiceField(choices=["bill_of_materials", "unit_cost"])
    bill_of_materials_number = serializers.CharField(allow_null=True)


class CostSerializer(serializers.Serializer):
    object = serializers.CharField()
    bill_of_materials = serializers.IntegerField()
    number = serializers.CharField(allow_null=True)
    part = serializers.CharField(allow_null=True)
    revision = serializers.IntegerField()
    quantity = serializers.IntegerField()
    unit_cost = serializers.CharField()
    total_cost = serializers.CharField()
    lines = CostLineSerializer(many=True)


class CostEnvelope(serializers.Serializer):
    cost = CostSerializer()


class BuildMovementSerializer(serializers.Serializer):
    part_number = serializers.CharField()
    quantity = serializers.IntegerField()


class BuildSerializer(serializers.Serializer):
    part = serializers.CharField()
    quantity = serializers.IntegerField()
    location = serializers.CharField()
    consumed = BuildMovementSerializer(many=True)
