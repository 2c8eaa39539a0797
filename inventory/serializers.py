"""The inventory resources' one output shape each (also their create/update input), and the action inputs.

Documented names are kept (reference §8–§11, §16): `warehouse` (on hand), `arrivalDate`, `deliveryDate`,
`createdat`, `lastupdated`, `purchase_order_number`, `purchase_order_status`, `cycle_count_number`, ...
Stock counts, totals, statuses and receipt quantities are the server's: writing them is a 400
`read_only_field`. Lines are nested under their documented key and written on create (and while draft).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from inventory.errors import UnknownLocation
from inventory.models import (
    CycleCount,
    InventoryItem,
    Location,
    PackingList,
    PackingListItem,
    PurchaseOrder,
    StockLevel,
    StockMovement,
)
from inventory.services import location_resolve
from stateset.api import ConstantField, InputSerializer, MoneyField, ResourceSerializer
from stateset.limits import MAX_QUANTITY

# ---- shared fields -----------------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class LocationCodeField(serializers.Field):
    """A location by its code (or id) in, its code out."""

    default_error_messages = {"invalid": "Expected a location code."}

    def to_representation(self, value: Location) -> str:
        return value.code

    def to_internal_value(self, data) -> Location:
        if not isinstance(data, (str, int)) or isinstance(data, bool) or data == "":
            self.fail("invalid")
        try:
            return location_resolve(data)
        except UnknownLocation as exc:
            raise serializers.ValidationError(exc.message)


@extend_schema_field(OpenApiTypes.STR)
class PurchaseOrderNumberField(serializers.Field):
    """A packing list's purchase order by its number in (resolved by the service), its number out."""

    def to_representation(self, value: PurchaseOrder) -> str | None:
        return value.purchase_order_number

    def to_internal_value(self, data) -> str:
        if not isinstance(data, (str, int)) or isinstance(data, bool):
            raise serializers.ValidationError("Expected a purchase order number.")
        return str(data)


def _text(max_length: int | None = None, **kwargs) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=max_length, **kwargs)


def _count(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(read_only=True, **kwargs)


def _stamp() -> serializers.DateTimeField:
    return serializers.DateTimeField(read_only=True)


class LineSerializer(InputSerializer):
    """A document line: read nested in its document, written on the document's create (and while draft)."""


# ---- locations and items -----------------------------------------------------------------------------------


class LocationSerializer(ResourceSerializer):
    object = ConstantField("location")

    class Meta:
        model = Location
        fields = ["id", "object", "code", "name", "kind", "active", "created_at", "updated_at"]
        extra_kwargs = {"code": {"validators": []}}  # unique: a rule of the service, backed by the database


class LocationUpdateSerializer(LocationSerializer):
    """A location keeps its code: movements and documents name it."""

    code = serializers.CharField(read_only=True)


class StockLevelSerializer(serializers.ModelSerializer):
    location = serializers.CharField(source="location.code", read_only=True)
    available = serializers.IntegerField(read_only=True)

    class Meta:
        model = StockLevel
        fields = ["location", "on_hand", "allocated", "available", "incoming"]
        read_only_fields = fields


class InventoryItemSerializer(ResourceSerializer):
    """Reference §8's item. `warehouse` (on hand), `available` (on hand − allocated), `allocated` and
    `incoming` are totals over every location, `levels` the same per location; all change only through the
    stock actions and documents."""

    object = ConstantField("inventory_item")
    warehouse = _count(source="warehouse_total", help_text="On hand, over every location.")
    available = _count(source="available_total", help_text="On hand minus allocated.")
    allocated = _count(source="allocated_total")
    incoming = _count(source="incoming_total", help_text="Expected from sent purchase orders and packing lists.")
    levels = StockLevelSerializer(many=True, read_only=True)
    arrivalDate = serializers.DateField(source="arrival_date", required=False, allow_null=True)
    deliveryDate = serializers.DateField(source="delivery_date", required=False, allow_null=True)

    class Meta:
        model = InventoryItem
        fields = [
            "id",
            "object",
            "sku",
            "upc",
            "description",
            "size",
            "color",
            "unit_cost",
            "reorder_point",
            "active",
            "warehouse",
            "available",
            "allocated",
            "incoming",
            "levels",
            "arriving",
            "arrivalDate",
            "deliveryDate",
            "purchase_order_id",
            "restock_date",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"sku": {"validators": []}}  # unique: a rule of the service, backed by the database


class StockMovementSerializer(serializers.ModelSerializer):
    """One ledger row."""

    object = ConstantField("stock_movement")
    sku = serializers.CharField(source="item.sku", read_only=True)
    location = serializers.CharField(source="location.code", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = StockMovement
        fields = [
            "id",
            "object",
            "sku",
            "location",
            "quantity",
            "on_hand_after",
            "reason",
            "reason_text",
            "source_type",
            "source_id",
            "source_number",
            "note",
            "metadata",
            "actor",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class AdjustInput(InputSerializer):
    """The official Python client sends `{quantity, reason, metadata}`; `reason` is free text kept on the
    movement, whose kind is `adjustment`."""

    quantity = serializers.IntegerField(
        min_value=-MAX_QUANTITY, max_value=MAX_QUANTITY, help_text="Signed change of on hand; not 0."
    )
    reason = _text(200)
    location = LocationCodeField(required=False, help_text="Location code (default MAIN).")
    note = _text()
    metadata = serializers.DictField(required=False)

    def validate_quantity(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("'quantity' must not be 0.")
        return value


class TransferInput(InputSerializer):
    from_location = LocationCodeField()
    to_location = LocationCodeField()
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    note = _text()


class ReasonInput(InputSerializer):
    """An action's optional reason, kept on its history row."""

    reason = _text(500)


# ---- purchase orders ---------------------------------------------------------------------------------------


class PurchaseOrderLineSerializer(LineSerializer):
    id = serializers.IntegerField(read_only=True)
    object = ConstantField("purchase_order_line_item")
    purchase_order = serializers.IntegerField(source="purchase_order_id", read_only=True)
    sku = serializers.CharField(max_length=100)
    description = _text(500)
    quantity_ordered = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    quantity_received = serializers.IntegerField(read_only=True)
    quantity_outstanding = serializers.IntegerField(source="outstanding", read_only=True)
    unit_cost = MoneyField(required=False, allow_null=True, min_value=0, help_text="Default: the item's unit cost.")
    line_total = MoneyField(read_only=True)
    created_at = _stamp()
    updated_at = _stamp()


class PurchaseOrderSerializer(ResourceSerializer):
    """Reference §11's purchase order: `purchase_order_status` and `status` are the same status,
    `createdat`/`lastupdated` the same instants as `created_at`/`updated_at`; `subtotal` and `total` are
    computed from the lines; `financer` and `financed` are set by the finance action."""

    object = ConstantField("purchase_order")
    purchase_order_status = serializers.CharField(source="status", read_only=True)
    createdat = serializers.DateTimeField(source="created_at", read_only=True)
    lastupdated = serializers.DateTimeField(source="updated_at", read_only=True)
    location = LocationCodeField(required=False, help_text="Where the goods arrive (default MAIN).")
    purchase_order_line_items = PurchaseOrderLineSerializer(many=True, required=False, source="lines")

    class Meta:
        model = PurchaseOrder
        fields = [
            "id",
            "object",
            "purchase_order_number",
            "purchase_order_name",
            "purchase_order_status",
            "status",
            "description",
            "vendor",
            "purchaser",
            "fulfiller",
            "financer",
            "financed",
            "location",
            "purchase_date",
            "delivery_date",
            "external_id",
            "purchase_order_hash",
            "transaction_id",
            "subtotal",
            "total",
            "rejection_reason",
            "cancel_reason",
            "purchase_order_line_items",
            "createdat",
            "lastupdated",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "subtotal", "total", "financer", "financed", "rejection_reason", "cancel_reason"]
        extra_kwargs = {"purchase_order_number": {"validators": [], "required": False, "allow_null": True}}


class PurchaseOrderUpdateSerializer(PurchaseOrderSerializer):
    """A purchase order's number is chosen once, at creation."""

    purchase_order_number = serializers.CharField(read_only=True)


class RejectInput(InputSerializer):
    reason = serializers.CharField(max_length=500)


class ReceiveLineInput(InputSerializer):
    line_id = serializers.IntegerField(required=False)
    sku = serializers.CharField(required=False, max_length=100)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)

    def validate(self, attrs):
        if attrs.get("line_id") is None and not attrs.get("sku"):
            raise serializers.ValidationError({"line_id": "Give 'line_id' or 'sku'."})
        return attrs


class ReceiveInput(InputSerializer):
    lines = ReceiveLineInput(
        many=True, required=False, allow_empty=False, help_text="Leave out to receive everything outstanding."
    )
    location = LocationCodeField(required=False, help_text="Where the goods go on hand (default: the order's).")
    reason = _text(500)


class FinanceInput(InputSerializer):
    financer = serializers.CharField(max_length=255)


# ---- packing lists -----------------------------------------------------------------------------------------


class PackingListLineSerializer(LineSerializer):
    """A packing list item as nested in its list (the same shape as `/v1/packing_list_items`)."""

    id = serializers.IntegerField(read_only=True)
    object = ConstantField("packing_list_item")
    packing_list = serializers.IntegerField(source="packing_list_id", read_only=True)
    sku = serializers.CharField(max_length=100)
    description = _text(500)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    arrived = serializers.BooleanField(read_only=True)
    arrived_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = _stamp()
    updated_at = _stamp()


class PackingListSerializer(ResourceSerializer):
    """Reference §9's packing list (`deliveryDate`, `arrivalDate`, ...), optionally for a purchase order
    named by `purchase_order_number`; `location` is where its goods arrive (the order's, for a linked list)."""

    object = ConstantField("packing_list")
    purchase_order_number = PurchaseOrderNumberField(source="purchase_order", required=False, allow_null=True)
    purchase_order = serializers.IntegerField(source="purchase_order_id", read_only=True, allow_null=True)
    location = LocationCodeField(required=False)
    deliveryDate = serializers.DateField(source="delivery_date", required=False, allow_null=True)
    arrivalDate = serializers.DateField(source="arrival_date", required=False, allow_null=True)
    packing_list_items = PackingListLineSerializer(many=True, required=False, source="items")

    class Meta:
        model = PackingList
        fields = [
            "id",
            "object",
            "number",
            "status",
            "purchase_order_number",
            "purchase_order",
            "location",
            "deliveryDate",
            "arrivalDate",
            "invoice_number",
            "ship_per",
            "tracking_number",
            "packing_list_items",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status"]
        extra_kwargs = {"number": {"validators": [], "required": False, "allow_null": True}}


class PackingListUpdateSerializer(PackingListSerializer):
    number = serializers.CharField(read_only=True)


class PackingListItemSerializer(ResourceSerializer):
    """Reference §10's item: `sku`, `description`, `quantity`, `packing_list` (its list's id), `arrived`.
    `PATCH {"arrived": true}` books the arrival, once."""

    object = ConstantField("packing_list_item")
    packing_list = serializers.PrimaryKeyRelatedField(queryset=PackingList.objects.all())
    sku = serializers.CharField(max_length=100)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    arrived = serializers.BooleanField(read_only=True)

    class Meta:
        model = PackingListItem
        fields = [
            "id",
            "object",
            "packing_list",
            "sku",
            "description",
            "quantity",
            "arrived",
            "arrived_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["arrived_at"]


class PackingListItemUpdateSerializer(PackingListItemSerializer):
    packing_list = serializers.IntegerField(source="packing_list_id", read_only=True)
    sku = serializers.CharField(max_length=100, required=False)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, required=False)
    arrived = serializers.BooleanField(required=False, help_text="true books the arrival (once).")


# ---- cycle counts ------------------------------------------------------------------------------------------


class CycleCountLineSerializer(LineSerializer):
    id = serializers.IntegerField(read_only=True)
    object = ConstantField("cycle_count_line_item")
    cycle_count = serializers.IntegerField(source="cycle_count_id", read_only=True)
    part = serializers.CharField(max_length=100, help_text="The SKU counted.")
    location = LocationCodeField(required=False, help_text="Default: the count's location.")
    bin = _text(100)
    lot = _text(100)
    quantity_expected = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=MAX_QUANTITY,
        help_text="Replaced by the on-hand snapshot at start.",
    )
    quantity_counted = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_QUANTITY)
    variance_quantity = serializers.IntegerField(read_only=True, allow_null=True)
    variance_cost = MoneyField(read_only=True, allow_null=True)
    explanation = _text()
    status = serializers.CharField(read_only=True)
    created_at = _stamp()
    updated_at = _stamp()


class CycleCountSerializer(ResourceSerializer):
    """Reference §16's cycle count. The documented single-part form (`part`, `quantity_expected`,
    `quantity_counted` on the header) is a one-line count; for several lines `part` is null and the
    quantities are sums over the lines."""

    object = ConstantField("cycle_count")
    location = LocationCodeField(required=False)
    part = serializers.CharField(required=False, allow_null=True, max_length=100)
    quantity_expected = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_QUANTITY)
    quantity_counted = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_QUANTITY)
    variance_quantity = serializers.IntegerField(read_only=True, allow_null=True)
    variance_cost = MoneyField(read_only=True, allow_null=True)
    accuracy_rate = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="% of counted lines with no variance (null until the count completes).",
    )
    cycle_count_line_items = CycleCountLineSerializer(many=True, required=False, source="lines")

    class Meta:
        model = CycleCount
        fields = [
            "id",
            "object",
            "cycle_count_number",
            "status",
            "part",
            "standard_tracking",
            "serialized_tracking",
            "quantity_expected",
            "quantity_counted",
            "variance_quantity",
            "variance_cost",
            "accuracy_rate",
            "explanation",
            "site",
            "location",
            "bin",
            "lot",
            "scheduled_start_date",
            "scheduled_end_date",
            "completed_date",
            "assigned_user",
            "method",
            "cycle_count_line_items",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "completed_date"]
        extra_kwargs = {"cycle_count_number": {"validators": [], "required": False, "allow_null": True}}


class CycleCountUpdateSerializer(CycleCountSerializer):
    cycle_count_number = serializers.CharField(read_only=True)


class CountLineInput(InputSerializer):
    line_id = serializers.IntegerField(required=False)
    sku = serializers.CharField(required=False, max_length=100)
    quantity_counted = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_QUANTITY)
    explanation = serializers.CharField(required=False, allow_blank=True)
    skip = serializers.BooleanField(required=False, help_text="true: not counted (needs an explanation).")

    def validate(self, attrs):
        if attrs.get("line_id") is None and not attrs.get("sku"):
            raise serializers.ValidationError({"line_id": "Give 'line_id' or 'sku'."})
        if not attrs.get("skip") and attrs.get("quantity_counted") is None:
            raise serializers.ValidationError({"quantity_counted": "Required unless the line is skipped."})
        return attrs


class CountInput(InputSerializer):
    lines = CountLineInput(many=True, allow_empty=False)
    reason = _text(500)
