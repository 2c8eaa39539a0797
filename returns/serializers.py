"""One output serializer per resource (also its create/update input), and one input serializer per action.

Documented keys are kept (reference §3–§6): `rma`, `customerEmail` (and its documented twin
`customer_email`), `enteredBy`, `warrantyNumber`, `warrantyName`, `warrantyType`, `expirationDate`,
`createdDate` (the twin of `created_date`), `order_id`, `customer_id`, `return_id`, `warranty_id`, ...
Input serializers check shape only; the services check the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.models import Customer
from inventory import services as inv
from orders.models import OrderLineItem, Shipment
from returns import services
from returns.models import Return, ReturnLineItem, Warranty, WarrantyLineItem
from returns.states import WARRANTY_STATUS_WORDS, Condition
from stateset.api import ConstantField, InputSerializer, MoneyField, ResourceSerializer, schema_by_direction
from stateset.errors import DomainError

ZERO = Decimal("0")


# ---- fields ------------------------------------------------------------------------------------------------


@schema_by_direction(
    request={"oneOf": [{"type": "integer"}, {"type": "string"}], "description": "The order's id or its order number."},
    response={"type": "integer", "description": "The order's id."},
)
class OrderRefField(serializers.Field):
    """`order_id`: out, the order's id; in, its id or its order number."""

    def to_representation(self, value):
        return value.pk

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            raise serializers.ValidationError("Expected an order id or order number.")
        try:
            return services.order_resolve(data)
        except DomainError as exc:
            raise serializers.ValidationError(exc.message)


@extend_schema_field(OpenApiTypes.STR)
class LocationCodeField(serializers.Field):
    """A location: out as its code; in as its code or id."""

    def to_representation(self, value):
        return value.code

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            raise serializers.ValidationError("Expected a location code or id.")
        try:
            return inv.location_resolve(data)
        except DomainError as exc:
            raise serializers.ValidationError(exc.message)


def _text(max_length: int = 255, **kwargs) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=max_length, **kwargs)


def _money(**kwargs) -> MoneyField:
    kwargs.setdefault("required", False)
    return MoneyField(min_value=ZERO, **kwargs)


class AliasInputMixin:
    """Documented twins of one field (`customer_email` beside `customerEmail`): the input may use either;
    both with different values is a 400. `input_aliases` maps the twin's key to the canonical key."""

    input_aliases: dict[str, str] = {}

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and self.input_aliases:
            data = dict(data)
            for alias, canonical in self.input_aliases.items():
                if alias not in data:
                    continue
                value = data.pop(alias)
                if canonical in data and data[canonical] != value:
                    message = f"'{alias}' and '{canonical}' differ; send one of them."
                    raise serializers.ValidationError({alias: [message]})
                data.setdefault(canonical, value)
        return super().to_internal_value(data)


# ---- return line items -------------------------------------------------------------------------------------


class ReturnLineItemSerializer(AliasInputMixin, ResourceSerializer):
    """A return line (reference §4 plus `quantity`, `order_line_item`, `condition`, `restock`, `status`).
    `order_line_item` (or the official client's `order_item_id`) names the order line it returns; without
    it, `sku` finds the order's one line with that SKU. `price` defaults to what was paid per unit, `amount`
    to what was paid for the units (the amounts of one order line's returns add up to its total), or
    price × quantity when a price is given."""

    input_aliases = {"order_item_id": "order_line_item"}

    object = ConstantField("return_line_item")
    return_id = serializers.PrimaryKeyRelatedField(source="parent_return", queryset=Return.objects.all())
    order_line_item = serializers.PrimaryKeyRelatedField(
        queryset=OrderLineItem.objects.all(), required=False, allow_null=True, help_text="The order line's id."
    )
    shipment = serializers.PrimaryKeyRelatedField(
        queryset=Shipment.objects.all(),
        required=False,
        allow_null=True,
        help_text="The shipment the units come back from (optional): at most what it shipped and has not had returned.",
    )
    sku = _text(100)
    name = _text()
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    price = _money(allow_null=True, help_text="Unit price paid; default: the order line's total / quantity.")
    amount = _money(
        allow_null=True,
        help_text="What the line refunds; default: what was paid for these units (price × quantity given a price).",
    )
    condition = serializers.ChoiceField(choices=Condition.choices, required=False)
    restock = serializers.BooleanField(required=False, help_text="Back on hand at receipt if new or like new.")
    reason = _text(1000)
    serial_number = _text()
    tax_refunded = _money()
    flat_rate_shipping = _money()

    class Meta:
        model = ReturnLineItem
        fields = [
            "id",
            "object",
            "return_id",
            "order_line_item",
            "shipment",
            "sku",
            "name",
            "price",
            "amount",
            "quantity",
            "quantity_received",
            "condition",
            "restock",
            "restocked",
            "status",
            "reason",
            "serial_number",
            "tax_refunded",
            "flat_rate_shipping",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["quantity_received", "restocked", "status"]


class NestedReturnLineSerializer(ReturnLineItemSerializer):
    """A line inside `return_line_items` of a return (its return is the one being created)."""

    return_id = serializers.IntegerField(source="parent_return_id", read_only=True)


class ReturnLineItemUpdateSerializer(ReturnLineItemSerializer):
    """The order line (and so the SKU) of a line is fixed: delete the line and add another."""

    return_id = serializers.IntegerField(source="parent_return_id", read_only=True)
    order_line_item = serializers.PrimaryKeyRelatedField(read_only=True)
    shipment = serializers.PrimaryKeyRelatedField(read_only=True)
    sku = serializers.CharField(read_only=True)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)

    def read_only_message(self, key: str) -> str:
        if key in ("return_id", "order_line_item", "shipment", "sku"):
            return f"'{key}' cannot change on a line; delete the line and add another."
        return super().read_only_message(key)


# ---- returns ------------------------------------------------------------------------------------------------


class ReturnSerializer(AliasInputMixin, ResourceSerializer):
    """A return (reference §3). Create takes the order (`order_id`: id or order number) and optionally
    `return_line_items` (the official client's README sends them as `items`) and a `shipping_address`
    object, kept as given; the server owns the status, `amount` (Σ line amounts), refunds, receipt and the
    exchange links."""

    input_aliases = {"customer_email": "customerEmail", "items": "return_line_items"}

    object = ConstantField("return")
    order_id = OrderRefField(source="order")
    order_number = serializers.CharField(source="order.order_number", read_only=True)
    customer_id = serializers.PrimaryKeyRelatedField(
        source="customer", queryset=Customer.objects.all(), required=False, allow_null=True
    )
    location = LocationCodeField(required=False, help_text="Where restocked goods go (default: the order's).")
    customerEmail = serializers.CharField(source="customer_email", required=False, allow_blank=True, max_length=254)
    customer_email = serializers.CharField(read_only=True, help_text="The same as customerEmail.")
    customer_email_normalized = serializers.SerializerMethodField()
    enteredBy = serializers.CharField(source="entered_by", required=False, allow_blank=True, max_length=255)
    return_line_items = NestedReturnLineSerializer(many=True, required=False)
    shipping_address = serializers.DictField(required=False, help_text="An address object, kept as given.")
    restocking_fee = _money()
    flat_rate_shipping = _money()
    tax_refunded = _money()
    replacement_order = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Return
        fields = [
            "id",
            "object",
            "rma",
            "status",
            "order_id",
            "order_number",
            "customer_id",
            "customerEmail",
            "customer_email",
            "customer_email_normalized",
            "location",
            "enteredBy",
            "description",
            "issue",
            "reason_category",
            "reported_condition",
            "condition",
            "action_needed",
            "tracking_number",
            "zendesk_number",
            "fedex_status",
            "serial_number",
            "scanned_serial_number",
            "match",
            "country",
            "shipping_address",
            "sso_id",
            "workflow_id",
            "amount",
            "restocking_fee",
            "flat_rate_shipping",
            "tax_refunded",
            "total_refunded",
            "order_refunded",
            "created_date",
            "order_date",
            "shipped_date",
            "requested_date",
            "warehouse_received_date",
            "warehouse_condition_date",
            "refunded_date",
            "received_by",
            "approval_notes",
            "rejection_reason",
            "cancel_reason",
            "replacement_order",
            "exchange_price_difference",
            "return_line_items",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "status",
            "amount",
            "total_refunded",
            "order_refunded",
            "warehouse_received_date",
            "refunded_date",
            "received_by",
            "approval_notes",
            "rejection_reason",
            "cancel_reason",
            "exchange_price_difference",
        ]
        extra_kwargs = {"rma": {"validators": [], "required": False}}

    def get_customer_email_normalized(self, obj) -> str:
        return (obj.customer_email or "").strip().lower()


class ReturnUpdateSerializer(ReturnSerializer):
    """`PUT|PATCH /v1/returns/{id}`: header fields (the order, customer, number and lines are fixed)."""

    LOCKED = ("order_id", "customer_id", "rma", "return_line_items")

    def __init__(self, *args, **kwargs):
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)

    def get_fields(self):
        fields = super().get_fields()
        for name in self.LOCKED:
            fields[name].read_only = True
            fields[name].required = False
        return fields

    def read_only_message(self, key: str) -> str:
        if key in self.LOCKED:
            hint = " (use /v1/return_line_items)" if key == "return_line_items" else ""
            return f"'{key}' cannot be changed after the return is created{hint}."
        return super().read_only_message(key)


# ---- warranties ---------------------------------------------------------------------------------------------


class WarrantyLineItemSerializer(ResourceSerializer):
    """A claim's item (reference §6), plus `quantity` (1 by default) for a replacement."""

    object = ConstantField("warranty_line_item")
    warranty_id = serializers.PrimaryKeyRelatedField(source="warranty", queryset=Warranty.objects.all())
    sku = _text(100)
    name = _text()
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)
    price = _money()
    amount = _money()
    flat_rate_shipping = _money()
    tax_refunded = _money()
    condition = _text(100)
    serial_number = _text()
    image_1 = _text(1000)
    image_2 = _text(1000)
    image_3 = _text(1000)

    class Meta:
        model = WarrantyLineItem
        fields = [
            "id",
            "object",
            "warranty_id",
            "sku",
            "name",
            "price",
            "quantity",
            "condition",
            "serial_number",
            "amount",
            "flat_rate_shipping",
            "tax_refunded",
            "image_1",
            "image_2",
            "image_3",
            "match",
            "created_at",
            "updated_at",
        ]


class NestedWarrantyLineSerializer(WarrantyLineItemSerializer):
    warranty_id = serializers.IntegerField(read_only=True)


class WarrantyLineItemUpdateSerializer(WarrantyLineItemSerializer):
    warranty_id = serializers.IntegerField(read_only=True)

    def read_only_message(self, key: str) -> str:
        if key == "warranty_id":
            return "'warranty_id' cannot change on a line; delete the line and add another."
        return super().read_only_message(key)


class WarrantySerializer(AliasInputMixin, ResourceSerializer):
    """A warranty claim (reference §5). The server owns the status, the replacement order link and
    `replacement_order_created`."""

    input_aliases = {"customer_email": "customerEmail", "createdDate": "created_date"}

    object = ConstantField("warranty")
    warrantyNumber = serializers.CharField(
        source="warranty_number", required=False, allow_null=True, allow_blank=True, max_length=50, validators=[]
    )
    order_id = OrderRefField(source="order", required=False, allow_null=True)
    customer_id = serializers.PrimaryKeyRelatedField(
        source="customer", queryset=Customer.objects.all(), required=False, allow_null=True
    )
    customerEmail = serializers.CharField(source="customer_email", required=False, allow_blank=True, max_length=254)
    customer_email = serializers.CharField(read_only=True, help_text="The same as customerEmail.")
    enteredBy = serializers.CharField(source="entered_by", required=False, allow_blank=True, max_length=255)
    warrantyName = serializers.CharField(source="warranty_name", required=False, allow_blank=True, max_length=255)
    warrantyType = serializers.CharField(source="warranty_type", required=False, allow_blank=True, max_length=100)
    expirationDate = serializers.DateField(source="expiration_date", required=False, allow_null=True)
    createdDate = serializers.DateTimeField(
        source="created_date", read_only=True, help_text="The same as created_date."
    )
    amount = _money()
    tax_refunded = _money()
    total_refunded = _money()
    replacement_order = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    warranty_line_items = NestedWarrantyLineSerializer(many=True, required=False)

    class Meta:
        model = Warranty
        fields = [
            "id",
            "object",
            "warrantyNumber",
            "status",
            "order_id",
            "customer_id",
            "customerEmail",
            "customer_email",
            "enteredBy",
            "warrantyName",
            "warrantyType",
            "expirationDate",
            "description",
            "issue",
            "reason_category",
            "reported_condition",
            "condition",
            "condition_date",
            "action_needed",
            "advanced_replacement",
            "amount",
            "country",
            "match",
            "rma",
            "serial_number",
            "scanned_serial_number",
            "replacement_color",
            "shipstation_order_id",
            "sso_id",
            "stripe_invoice_id",
            "tax_refunded",
            "total_refunded",
            "tracking_number",
            "zendesk_number",
            "created_date",
            "createdDate",
            "order_date",
            "requested_date",
            "shipped_date",
            "warehouse_received_date",
            "replacement_order",
            "replacement_order_created",
            "approval_notes",
            "denial_reason",
            "cancel_reason",
            "approved_at",
            "completed_at",
            "warranty_line_items",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "status",
            "replacement_order_created",
            "approval_notes",
            "denial_reason",
            "cancel_reason",
            "approved_at",
            "completed_at",
        ]


class WarrantyUpdateSerializer(WarrantySerializer):
    LOCKED = ("order_id", "customer_id", "warranty_line_items")

    def __init__(self, *args, **kwargs):
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)

    def get_fields(self):
        fields = super().get_fields()
        for name in self.LOCKED:
            fields[name].read_only = True
            fields[name].required = False
        return fields

    def read_only_message(self, key: str) -> str:
        if key in self.LOCKED:
            hint = " (use /v1/warranty_line_items)" if key == "warranty_line_items" else ""
            return f"'{key}' cannot be changed after the claim is created{hint}."
        return super().read_only_message(key)


# ---- action inputs -------------------------------------------------------------------------------------------


class ReasonInput(InputSerializer):
    reason = _text(1000)


class RequiredReasonInput(InputSerializer):
    reason = serializers.CharField(max_length=1000, help_text="Why (required).")


class ApproveInput(ReasonInput):
    notes = _text(2000)


class ReceiveLineInput(InputSerializer):
    return_line_item_id = serializers.IntegerField(min_value=1)
    quantity_received = serializers.IntegerField(min_value=0, required=False, help_text="Default: the quantity.")
    condition = serializers.ChoiceField(choices=Condition.choices, required=False)


class ReceiveInput(ReasonInput):
    received_by = _text()
    lines = ReceiveLineInput(many=True, required=False, help_text="Default: every line, in full, as it is.")


class ReturnRefundInput(ReasonInput):
    amount = MoneyField(
        min_value=Decimal("0.01"),
        required=False,
        help_text="Default: Σ line amounts (of what was received) − restocking_fee.",
    )


class OrderReturnItemInput(InputSerializer):
    order_item_id = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    reason = _text(1000)


class OrderReturnInput(ReasonInput):
    """`{items: [{order_item_id, quantity, reason?}]}` or `{return_all: true}`."""

    items = OrderReturnItemInput(many=True, required=False, allow_empty=False)
    return_all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if bool(attrs.get("items")) == bool(attrs.get("return_all")):
            raise serializers.ValidationError({"items": "Send 'items' or 'return_all': true (one of them)."})
        return attrs


class ExchangeNewItemInput(InputSerializer):
    sku = serializers.CharField(max_length=100)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    unit_price = MoneyField(min_value=ZERO, required=False, help_text="Default: the original order's price.")


class OrderExchangeInput(ReasonInput):
    return_items = OrderReturnItemInput(many=True, allow_empty=False)
    new_items = ExchangeNewItemInput(many=True, allow_empty=False)


class WarrantyApproveInput(ApproveInput):
    create_replacement = serializers.BooleanField(
        required=False, help_text="Default: the claim's advanced_replacement."
    )


class WarrantyStatusInput(ReasonInput):
    status = serializers.CharField(
        max_length=50, help_text=f"One of: {', '.join(WARRANTY_STATUS_WORDS)} (case-insensitive)."
    )

    def validate_status(self, value: str) -> str:
        if value.strip().lower() not in WARRANTY_STATUS_WORDS:
            raise serializers.ValidationError(
                f"Unknown status '{value}'; use one of: {', '.join(WARRANTY_STATUS_WORDS)}."
            )
        return value.strip().lower()
