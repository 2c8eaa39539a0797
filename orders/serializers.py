"""One output serializer per resource (also its create/update input), and one input serializer per action.

Documented keys are kept (reference §2.2: `order_status`, `created_date`, `warehouse_id`, `import`, ...).
Input serializers check shape only; the services check the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from django.db import models
from django.db.models import ExpressionWrapper, F
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.models import Customer
from inventory import services as inv
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
from orders.states import DiscountType, OrderStatus, ShipmentStatus
from stateset.api import ConstantField, InputSerializer, MoneyField, ResourceSerializer, schema_by_direction
from stateset.compiled import Compiled
from stateset.errors import DomainError
from stateset.ids import MAX_ID, as_id
from stateset.lean import value_of

MONEY = models.DecimalField(max_digits=12, decimal_places=2)

# ---- fields ------------------------------------------------------------------------------------------------


class InlineCustomerInput(InputSerializer):
    email = serializers.EmailField(max_length=254)  # the column's; Django's validator takes up to 320
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=50)


@schema_by_direction(
    request={
        "oneOf": [
            {"type": "integer", "description": "A customer id."},
            {
                "type": "object",
                "description": "Inline: the customer with this email, created if there is none.",
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "first_name": {"type": "string"},
                    "last_name": {"type": "string"},
                    "phone": {"type": "string"},
                },
                "required": ["email"],
                "additionalProperties": False,
            },
        ],
    },
    response={"type": "integer", "description": "The customer's id."},
)
class CustomerRefField(serializers.Field):
    """`customer`: the id out; in, an id or an inline `{email, first_name?, last_name?, phone?}`."""

    lean_pk = True  # stateset.lean: the output is the foreign key's id column

    def to_representation(self, value):
        return value.pk

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            inline = InlineCustomerInput(data=data)
            inline.is_valid(raise_exception=True)
            return dict(inline.validated_data)
        pk = as_id(data)
        if pk is None:
            raise serializers.ValidationError("Expected a customer id or an object with an email.")
        found = _customer_by_pk(pk)
        customer = found[0] if found else None
        if customer is None:
            raise serializers.ValidationError(f"No customer {data}.")
        return customer


# Compiled once (stateset.compiled): every order create names its customer.
_customer_by_pk = Compiled(lambda pk: Customer.objects.filter(pk=pk))


class LocationRefField(serializers.Field):
    """A location: out as its code (`location`) or id (`warehouse_id`); in as either."""

    def __init__(self, *, as_id: bool = False, **kwargs):
        self.as_id = as_id
        # stateset.lean: the output is the foreign key's id column, or the location's `code`.
        self.lean_pk, self.lean_attr = as_id, None if as_id else "code"
        self.schema_by_direction = {
            "request": {"oneOf": [{"type": "string"}, {"type": "integer"}], "description": "A location code or id."},
            "response": {"type": "integer"} if as_id else {"type": "string"},
        }
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value.pk if self.as_id else value.code

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            raise serializers.ValidationError("Expected a location code or id.")
        try:
            return inv.location_resolve(data)
        except DomainError as exc:
            raise serializers.ValidationError(exc.message)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string"},
            {
                "type": "object",
                "properties": {"tag_name": {"type": "string"}, "tag_value": {"type": "string"}},
                "required": ["tag_name"],
            },
        ]
    }
)
class TagEntryField(serializers.Field):
    """A tag: `"vip"` or `{"tag_name": "priority", "tag_value": "high"}`; internally (name, value)."""

    def to_representation(self, value):
        return value

    def to_internal_value(self, data):
        if isinstance(data, str):
            name, value = data, ""
        elif isinstance(data, Mapping) and isinstance(data.get("tag_name"), str):
            extra = set(data) - {"tag_name", "tag_value"}
            if extra:
                raise serializers.ValidationError(f"Unknown tag key(s): {', '.join(sorted(extra))}.")
            name, value = data["tag_name"], data.get("tag_value") or ""
        else:
            raise serializers.ValidationError("A tag is a string or {tag_name, tag_value?}.")
        name, value = name.strip(), str(value)
        if not name or len(name) > 100 or len(value) > 255:
            raise serializers.ValidationError("A tag name has 1 to 100 characters, a value at most 255.")
        return (name, value)


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class TagListField(serializers.Field):
    """`tags`: the tag names out; in (on create), a list of tags as TagEntryField takes them."""

    # The lean read path (stateset.lean) hands this field the order's tag rows, read with `order_tags`'.
    lean_related = "tags"
    lean_columns = ("tag_name",)

    def to_representation(self, value):
        return [tag.tag_name for tag in value.all()]

    def lean_represent(self, rows) -> list[str]:
        if rows and type(rows[0]) is dict:
            return [row["tag_name"] for row in rows]
        return [value_of(row, "tag_name") for row in rows]

    def to_internal_value(self, data):
        if not isinstance(data, list):
            raise serializers.ValidationError("Expected a list of tags.")
        return [TagEntryField().to_internal_value(entry) for entry in data]


# ---- orders --------------------------------------------------------------------------------------------------


class OrderLineItemSerializer(ResourceSerializer):
    object = ConstantField("order_line_item")
    order_id = serializers.IntegerField(read_only=True)
    product_id = serializers.IntegerField(source="item_id", read_only=True, allow_null=True)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    unit_price = MoneyField(min_value=Decimal("0"))
    sale_price = MoneyField(source="unit_price", read_only=True)
    original_price = MoneyField(min_value=Decimal("0"), required=False, allow_null=True)
    location = LocationRefField(
        required=False, write_only=True, help_text="Where to allocate this line (default: the order's location)."
    )
    created_date = serializers.DateTimeField(source="created_at", read_only=True)
    updated_date = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = OrderLineItem
        fields = [
            "location",
            "id",
            "object",
            "order_id",
            "sku",
            "product_name",
            "product_id",
            "quantity",
            "unit_price",
            "sale_price",
            "original_price",
            "discount_total",
            "total",
            "quantity_shipped",
            "quantity_returned",
            "quantity_cancelled",
            "status",
            "requires_inventory",
            "created_at",
            "updated_at",
            "created_date",
            "updated_date",
        ]
        read_only_fields = [
            "discount_total",
            "total",
            "quantity_shipped",
            "quantity_returned",
            "quantity_cancelled",
            "status",
        ]
        extra_kwargs = {"product_name": {"required": False}, "requires_inventory": {"required": False}}


class OrderDiscountSerializer(serializers.ModelSerializer):
    object = ConstantField("order_discount")
    order_item_id = serializers.IntegerField(source="line_id", read_only=True, allow_null=True)
    value = MoneyField(read_only=True)
    amount = MoneyField(read_only=True)

    class Meta:
        model = OrderDiscount
        fields = ["id", "object", "type", "value", "description", "order_item_id", "amount", "created_by", "created_at"]
        read_only_fields = fields


class OrderTagSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderTag
        fields = ["tag_name", "tag_value", "created_by", "created_at"]
        read_only_fields = fields


class RefundSerializer(serializers.ModelSerializer):
    object = ConstantField("refund")
    amount = MoneyField(read_only=True)
    created_by = serializers.CharField(source="actor", read_only=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "object",
            "amount",
            "reason",
            "source_type",
            "source_id",
            "reference",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class OrderShipmentSerializer(serializers.ModelSerializer):
    """A shipment as the order shows it (its own resource, `/v1/shipments/{id}`, has the lines)."""

    object = ConstantField("shipment")
    location_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Shipment
        fields = [
            "id",
            "object",
            "number",
            "status",
            "location_id",
            "tracking_number",
            "carrier",
            "shipped_at",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields


class ShipmentLineItemSerializer(serializers.ModelSerializer):
    object = ConstantField("shipment_line_item")
    order_item_id = serializers.IntegerField(source="line_id", read_only=True)

    class Meta:
        model = ShipmentLineItem
        fields = ["id", "object", "order_item_id", "quantity", "quantity_returned"]
        read_only_fields = fields


class ShipmentLineInput(InputSerializer):
    order_item_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The order line.")
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)


class ShipmentSerializer(ResourceSerializer):
    """A shipment (issue #18): one parcel of one order, from one location. Create names the order, the
    location (default: the order's) and the lines with quantities (default: everything still shippable from
    there); update changes the carrier, service, tracking, weight, packages and notes."""

    object = ConstantField("shipment")
    order_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    order_number = serializers.CharField(source="order.order_number", read_only=True, allow_null=True)
    location = LocationRefField(required=False)
    location_id = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=ShipmentStatus.choices, read_only=True)
    shipment_line_items = ShipmentLineItemSerializer(many=True, read_only=True)
    weight = serializers.DecimalField(
        max_digits=10, decimal_places=3, min_value=Decimal("0"), required=False, allow_null=True
    )
    package_count = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    created_date = serializers.DateTimeField(source="created_at", read_only=True)
    updated_date = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = Shipment
        fields = [
            "id",
            "object",
            "number",
            "order_id",
            "order_number",
            "location",
            "location_id",
            "status",
            "carrier",
            "service",
            "tracking_number",
            "tracking_url",
            "weight",
            "package_count",
            "notes",
            "shipment_line_items",
            "shipped_at",
            "delivered_at",
            "cancelled_at",
            "actor",
            "created_at",
            "updated_at",
            "created_date",
            "updated_date",
        ]
        read_only_fields = ["number", "status", "shipped_at", "delivered_at", "cancelled_at", "actor"]
        extra_kwargs = {
            "carrier": {"required": False},
            "service": {"required": False},
            "tracking_number": {"required": False},
            "tracking_url": {"required": False},
            "notes": {"required": False},
        }


class ShipmentUpdateSerializer(InputSerializer):
    """Update a shipment: its papers only (lines and location stay; delete a pending one instead)."""

    carrier = serializers.CharField(required=False, allow_blank=True, max_length=100)
    service = serializers.CharField(required=False, allow_blank=True, max_length=100)
    tracking_number = serializers.CharField(required=False, allow_blank=True, max_length=255)
    tracking_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    weight = serializers.DecimalField(
        max_digits=10, decimal_places=3, min_value=Decimal("0"), required=False, allow_null=True
    )
    package_count = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class ShipmentCreateSerializer(ShipmentUpdateSerializer):
    """Create a shipment: `shipment_line_items` as `[{order_item_id, quantity}]`, and the papers an update
    takes."""

    order_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    location = LocationRefField(required=False)
    shipment_line_items = ShipmentLineInput(many=True, required=False, allow_empty=False)

    def validate(self, attrs):
        attrs = dict(attrs)
        attrs["order"] = attrs.pop("order_id")
        return attrs


class ShipmentShipInput(InputSerializer):
    tracking_number = serializers.CharField(required=False, allow_blank=True, max_length=255)
    carrier = serializers.CharField(required=False, allow_blank=True, max_length=100)
    shipped_at = serializers.DateTimeField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class CancelRemainingInput(InputSerializer):
    reason = serializers.CharField(max_length=1000, help_text="Why the remaining units are cancelled (required).")


class ReallocateInput(InputSerializer):
    order_item_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    location = LocationRefField(help_text="Where the units go.")
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, allow_null=True)
    from_location = LocationRefField(required=False, allow_null=True)


class ItemInput(InputSerializer):
    """A line in the 2025 docs' create form: `price` in cents."""

    sku = serializers.CharField(max_length=100)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    price = serializers.IntegerField(min_value=0, help_text="Unit price in cents.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    requires_inventory = serializers.BooleanField(required=False, default=True)


class ShippingInput(InputSerializer):
    method = serializers.CharField(required=False, allow_blank=True, max_length=100)
    carrier = serializers.CharField(required=False, allow_blank=True, max_length=100)


class OrderSerializer(ResourceSerializer):
    """An order. Create accepts `order_line_items` (or the 2025 docs' `items` with prices in cents and an
    inline `customer`); totals, status and everything the actions write are the server's."""

    object = ConstantField("order")
    order_status = serializers.CharField(source="status", read_only=True)
    customer = CustomerRefField(required=False, allow_null=True)
    location = LocationRefField(required=False)
    warehouse_id = LocationRefField(source="location", as_id=True, required=False)
    tags = TagListField(required=False)
    order_tags = OrderTagSerializer(source="tags", many=True, read_only=True)
    order_line_items = OrderLineItemSerializer(many=True, required=False)
    items = ItemInput(many=True, required=False, write_only=True)
    shipping = ShippingInput(required=False, write_only=True)
    allocation = serializers.ChoiceField(
        choices=["order_location", "any_location"],
        required=False,
        write_only=True,
        help_text="any_location: what the line's location lacks comes from the other active locations, most "
        "available first (ties by location code). Default order_location: short stock there is a 422.",
    )
    discounts = OrderDiscountSerializer(many=True, read_only=True)
    promotion_id = serializers.IntegerField(read_only=True, allow_null=True)
    promotion_code = serializers.CharField(source="promotion.code", read_only=True, allow_null=True, default=None)
    balance = MoneyField(read_only=True)
    refunds = RefundSerializer(many=True, read_only=True)
    shipments = OrderShipmentSerializer(many=True, read_only=True)
    split_from = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    merged_into = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    exchange_for = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    # Blank when the order is not on hold (a read-only model field loses `allow_blank`, and with it the blank
    # value from its documented enum).
    held_from_status = serializers.ChoiceField(choices=OrderStatus.choices, allow_blank=True, read_only=True)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False, help_text="ISO 4217, default USD.")
    shipping_amount = MoneyField(min_value=Decimal("0"), required=False)
    tax_amount = MoneyField(min_value=Decimal("0"), required=False)
    created_date = serializers.DateTimeField(source="created_at", read_only=True)
    updated_date = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "object",
            "order_number",
            "name",
            "status",
            "order_status",
            "customer",
            "customer_email",
            "customer_name",
            "customer_number",
            "buyer_email",
            "buyer_message",
            "ordered_by",
            "currency",
            "location",
            "warehouse_id",
            "shipping_address",
            "billing_address",
            "delivery_address",
            "delivery_date",
            "delivery_type",
            "fulfillment_type",
            "shipping_method",
            "notes",
            "seller_note",
            "source",
            "imported_status",
            "imported_date",
            "is_cod",
            "cancel_order_sla_time",
            "payment",
            "metadata",
            "tags",
            "order_tags",
            "order_line_items",
            "items",
            "shipping",
            "allocation",
            "discounts",
            "promotion_id",
            "promotion_code",
            "promotion_discount",
            "subtotal",
            "discount_total",
            "shipping_amount",
            "shipping_total",
            "tax_amount",
            "tax_total",
            "total",
            "amount_refunded",
            "balance",
            "refunds",
            "hold_reason",
            "held_from_status",
            "cancel_reason",
            "cancellation_initiator",
            "cancelled_at",
            "tracking_number",
            "carrier",
            "shipped_at",
            "delivered_at",
            "shipments",
            "split_from",
            "merged_into",
            "exchange_for",
            "is_replacement_order",
            "exchange_price_difference",
            "created_at",
            "updated_at",
            "created_date",
            "updated_date",
        ]
        read_only_fields = [
            "status",
            "promotion_discount",
            "subtotal",
            "discount_total",
            "shipping_total",
            "tax_total",
            "total",
            "amount_refunded",
            "hold_reason",
            "held_from_status",
            "cancel_reason",
            "cancellation_initiator",
            "cancelled_at",
            "tracking_number",
            "carrier",
            "shipped_at",
            "delivered_at",
            "is_replacement_order",
            "exchange_price_difference",
        ]
        extra_kwargs = {"order_number": {"validators": []}}
        # The lean list (stateset.lean) reads `.values()` rows: `balance` (Order.balance) computed in SQL.
        lean_expressions = {"balance": ExpressionWrapper(F("total") - F("amount_refunded"), output_field=MONEY)}

    def get_fields(self):
        fields = super().get_fields()
        # `import` is a documented key and a Python keyword.
        fields["import"] = serializers.BooleanField(source="is_import", required=False)
        return fields

    def validate(self, attrs):
        data = self.initial_data if isinstance(self.initial_data, Mapping) else {}
        if "location" in data and "warehouse_id" in data:
            a, b = (LocationRefField().to_internal_value(data[k]) for k in ("location", "warehouse_id"))
            if a.pk != b.pk:
                raise serializers.ValidationError({"warehouse_id": "names another location than 'location'."})
        items = attrs.pop("items", None)
        if items is not None:
            if attrs.get("order_line_items"):
                raise serializers.ValidationError({"items": "send 'order_line_items' or 'items', not both."})
            attrs["order_line_items"] = [
                {
                    "sku": item["sku"],
                    "quantity": item["quantity"],
                    "unit_price": Decimal(item["price"]) / 100,
                    "product_name": item.get("name", ""),
                    "requires_inventory": item.get("requires_inventory", True),
                }
                for item in items
            ]
        shipping = attrs.pop("shipping", None)
        if shipping:
            if shipping.get("method"):
                attrs["shipping_method"] = shipping["method"]
            if shipping.get("carrier"):
                attrs["carrier"] = shipping["carrier"]
        if not self.partial and not attrs.get("order_line_items"):
            raise serializers.ValidationError({"order_line_items": "An order needs at least one line."})
        return attrs


class OrderUpdateSerializer(OrderSerializer):
    """`PUT|PATCH /v1/orders/{id}` and `POST /v1/orders/{id}/update`: header fields only."""

    LOCKED = ("order_line_items", "customer", "location", "warehouse_id", "currency", "tags")

    def __init__(self, *args, **kwargs):
        kwargs["partial"] = True  # every update is partial, as the StateSet docs use PUT
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and set(data) == {"order"} and isinstance(data["order"], Mapping):
            data = data["order"]  # the wrapped form {"order": {...}} on POST .../update
        return super().to_internal_value(data)

    def get_fields(self):
        fields = super().get_fields()
        fields.pop("items")
        fields.pop("shipping")
        fields.pop("allocation")
        for name in self.LOCKED:
            fields[name].read_only = True
            fields[name].required = False
        return fields

    def read_only_message(self, key: str) -> str:
        if key in self.LOCKED:
            hint = {
                "order_line_items": " (use add_item / remove_item)",
                "tags": " (use tag / untag)",
            }.get(key, "")
            return f"'{key}' cannot be changed after the order is created{hint}."
        return super().read_only_message(key)


# ---- action inputs -----------------------------------------------------------------------------------------


class ReasonInput(InputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class HoldInput(InputSerializer):
    reason = serializers.CharField(max_length=1000, help_text="Why the order is held (required).")


class DeliverInput(ReasonInput):
    delivered_at = serializers.DateTimeField(required=False, allow_null=True)


class AddItemInput(InputSerializer):
    sku = serializers.CharField(max_length=100)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    unit_price = MoneyField(min_value=Decimal("0"), required=False, allow_null=True)
    original_price = MoneyField(min_value=Decimal("0"), required=False, allow_null=True)
    product_name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    requires_inventory = serializers.BooleanField(required=False, default=True)


class RemoveItemInput(InputSerializer):
    order_item_id = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class AddDiscountInput(InputSerializer):
    type = serializers.ChoiceField(choices=DiscountType.choices)
    value = MoneyField(min_value=Decimal("0"))
    description = serializers.CharField(required=False, allow_blank=True, max_length=255)
    order_item_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)

    def validate(self, attrs):
        if attrs["type"] == DiscountType.PERCENTAGE and attrs["value"] > 100:
            raise serializers.ValidationError({"value": "A percentage is at most 100."})
        return attrs


class RemoveDiscountInput(InputSerializer):
    discount_id = serializers.IntegerField(min_value=1)


class ApplyPromotionInput(InputSerializer):
    promotion_id = serializers.IntegerField(min_value=1, required=False)
    code = serializers.CharField(required=False, max_length=100)

    def validate(self, attrs):
        if ("promotion_id" in attrs) == ("code" in attrs):
            raise serializers.ValidationError({"promotion_id": "Send 'promotion_id' or 'code' (one of them)."})
        return attrs


class TagInput(InputSerializer):
    tags = serializers.ListField(child=TagEntryField(), required=False, allow_empty=False)
    tag_name = serializers.CharField(required=False, max_length=100)
    tag_value = serializers.CharField(required=False, allow_blank=True, max_length=255)

    def validate(self, attrs):
        if not attrs.get("tags") and not attrs.get("tag_name"):
            raise serializers.ValidationError({"tags": "Send 'tags' or 'tag_name'."})
        return attrs


class UntagInput(InputSerializer):
    tags = serializers.ListField(child=TagEntryField(), required=False, allow_empty=False)
    tag_name = serializers.CharField(required=False, max_length=100)

    def validate(self, attrs):
        if not attrs.get("tags") and not attrs.get("tag_name"):
            raise serializers.ValidationError({"tags": "Send 'tags' or 'tag_name'."})
        return attrs


class SplitItemInput(InputSerializer):
    order_item_id = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1)


class SplitPartInput(InputSerializer):
    items = SplitItemInput(many=True, allow_empty=False)


class SplitInput(InputSerializer):
    """`{splits: [{items: [{order_item_id, quantity}]}]}`; `{items: [...]}` is one split."""

    splits = SplitPartInput(many=True, required=False, allow_empty=False)
    items = SplitItemInput(many=True, required=False, allow_empty=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)

    def validate(self, attrs):
        splits = attrs.pop("splits", None)
        items = attrs.pop("items", None)
        if (splits is None) == (items is None):
            raise serializers.ValidationError({"splits": "Send 'splits' (or 'items' for a single split)."})
        parts = splits if splits is not None else [{"items": items}]
        attrs["splits"] = [[(i["order_item_id"], i["quantity"]) for i in part["items"]] for part in parts]
        return attrs


class MergeInput(InputSerializer):
    # Bounded: a list past a BIGINT reached the IN (...) of the lock query (SQLite: OverflowError, a 500).
    order_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), allow_empty=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class ShipInput(ReasonInput):
    tracking_number = serializers.CharField(required=False, allow_blank=True, max_length=255)
    carrier = serializers.CharField(required=False, allow_blank=True, max_length=100)
    shipped_at = serializers.DateTimeField(required=False, allow_null=True)


class RefundInput(InputSerializer):
    amount = MoneyField(min_value=Decimal("0.01"))
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


# ---- promotions ----------------------------------------------------------------------------------------------


class PromotionSerializer(ResourceSerializer):
    object = ConstantField("promotion")
    value = MoneyField(min_value=Decimal("0"), required=False)
    min_order_amount = MoneyField(min_value=Decimal("0"), required=False, allow_null=True)

    class Meta:
        model = Promotion
        fields = [
            "id",
            "object",
            "code",
            "name",
            "description",
            "type",
            "value",
            "active",
            "starts_at",
            "ends_at",
            "usage_limit",
            "times_used",
            "min_order_amount",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["times_used"]


# ---- wholesale orders --------------------------------------------------------------------------------------


class WholesaleOrderLineItemSerializer(ResourceSerializer):
    object = ConstantField("wholesale_order_line_item")
    wholesale_order_id = serializers.IntegerField(read_only=True)
    product_id = serializers.IntegerField(source="item_id", read_only=True)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    unit_price = MoneyField(min_value=Decimal("0"))
    created_date = serializers.DateTimeField(source="created_at", read_only=True)
    updated_date = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = WholesaleOrderLineItem
        fields = [
            "id",
            "object",
            "wholesale_order_id",
            "sku",
            "product_name",
            "product_id",
            "quantity",
            "unit_price",
            "total",
            "quantity_fulfilled",
            "created_at",
            "updated_at",
            "created_date",
            "updated_date",
        ]
        read_only_fields = ["total", "quantity_fulfilled"]
        extra_kwargs = {"product_name": {"required": False}}


class WholesaleOrderSerializer(ResourceSerializer):
    object = ConstantField("wholesale_order")
    customer = CustomerRefField(required=False, allow_null=True)
    location = LocationRefField(required=False)
    order_line_items = WholesaleOrderLineItemSerializer(many=True, required=False)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False)
    created_date = serializers.DateTimeField(source="created_at", read_only=True)
    updated_date = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = WholesaleOrder
        fields = [
            "id",
            "object",
            "order_number",
            "name",
            "status",
            "customer",
            "customer_number",
            "location",
            "payment_terms",
            "order_financial_status",
            "order_fulfillment_status",
            "order_imported_status",
            "delivery_date",
            "delivery_address",
            "memo",
            "imported_date",
            "currency",
            "subtotal",
            "total",
            "order_line_items",
            "approved_at",
            "fulfilled_at",
            "cancelled_at",
            "cancel_reason",
            "created_at",
            "updated_at",
            "created_date",
            "updated_date",
        ]
        read_only_fields = [
            "status",
            "order_fulfillment_status",
            "subtotal",
            "total",
            "approved_at",
            "fulfilled_at",
            "cancelled_at",
            "cancel_reason",
        ]
        extra_kwargs = {"order_number": {"validators": []}}

    def validate(self, attrs):
        if not self.partial and not attrs.get("order_line_items"):
            raise serializers.ValidationError({"order_line_items": "A wholesale order needs at least one line."})
        return attrs


class WholesaleOrderUpdateSerializer(WholesaleOrderSerializer):
    LOCKED = ("order_line_items", "customer", "location", "currency")

    def get_fields(self):
        fields = super().get_fields()
        for name in self.LOCKED:
            fields[name].read_only = True
            fields[name].required = False
        return fields
