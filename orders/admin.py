"""The orders back office. Staff obey the API's rules: every change goes through `orders.services`, with
the same named permissions (read from the transitions, checked by the services) and the same messages.

- Transition buttons (django-fsm-2's FSMAdminMixin) only for hold (a small form asks the reason), release,
  process and deliver: no stock or money moves.
- Operations (small forms on the order's page, `stateset.admin.Operation`) for the API's actions that need
  input: ship (tracking number, carrier), add and remove an item, add and remove a discount, apply and
  remove a promotion, tag and untag, split and refund. Each is offered only in the statuses the contract
  allows it from and to staff holding its named permission; a refusal shows the service's message on the
  form and changes nothing.
- Ship, cancel and merge are also admin actions over the selected orders.
- An order is added (a phone order) with its lines inline, in one `order_create` call: a refusal (unknown
  SKU, short stock, ...) shows the service's message on the same form, with everything typed kept.
- Header changes go through `order_update`; a refused one shows the service's message and saves nothing
  (`RefusalsAsMessages`). Lines, discounts, tags, refunds and shipments are shown read-only; totals too.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.db import models
from django.db.models import Q
from django.utils import formats, timezone
from django_fsm_log.admin import StateLogInline

from inventory.models import InventoryItem, StockLevel
from orders import services
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
from orders.resources import PromotionResource
from orders.states import EDITABLE, SHIPPABLE, WHOLESALE_EDITABLE, DiscountType
from stateset import workspace
from stateset.actors import Actor
from stateset.admin import (
    ADMIN_ERRORS,
    ImportExportAdminMixin,
    LineFormSet,
    Operation,
    OptionalReasonForm,
    Paper,
    ReasonForm,
    SavedViews,
    ServiceAdmin,
    StatefulAdmin,
    run_service_action,
)
from stateset.limits import MAX_QUANTITY


class HoldForm(forms.Form):
    """The hold button asks why (the API requires a reason too)."""

    hold_reason = forms.CharField(label="Reason", max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLineItem
    verbose_name = "line"
    verbose_name_plural = "lines"
    fields = (
        "sku",
        "product_name",
        "quantity",
        "unit_price",
        "discount_total",
        "total",
        "quantity_shipped",
        "quantity_returned",
        "status",
        "requires_inventory",
    )


class OrderDiscountInline(ReadOnlyInline):
    model = OrderDiscount
    fk_name = "order"
    fields = ("type", "value", "description", "line", "amount", "created_by")


class OrderTagInline(ReadOnlyInline):
    model = OrderTag
    fields = ("tag_name", "tag_value", "created_by", "created_at")


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("amount", "reason", "reference", "actor", "created_at")


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = ("number", "status", "location", "tracking_number", "carrier", "shipped_at", "delivered_at", "actor")


def _money(**kwargs) -> forms.DecimalField:
    return forms.DecimalField(max_digits=12, decimal_places=2, **kwargs)


def _lines_of(order: Order):
    return OrderLineItem.objects.filter(order=order).order_by("pk")


def _totals(order: Order) -> str:
    return f"subtotal {order.subtotal}, discounts {order.discount_total}, total {order.total}"


class RefundForm(forms.Form):
    """Money back to the customer: `order_refund`, within the order's balance (the API's refund)."""

    amount = _money(min_value=Decimal("0.01"))
    reason = forms.CharField(max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SplitForm(forms.Form):
    line = forms.ModelChoiceField(queryset=OrderLineItem.objects.none(), label="Line")
    quantity = forms.IntegerField(min_value=1)

    def __init__(self, *args, obj: Order, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = _lines_of(obj)


class ShipForm(forms.Form):
    """The API's ship `{tracking_number?, carrier?, shipped_at?}`: what the bulk action cannot ask."""

    tracking_number = forms.CharField(max_length=255, required=False)
    carrier = forms.CharField(max_length=100, required=False, help_text="UPS, FedEx, DHL, ...")
    shipped_at = forms.DateTimeField(required=False, help_text="YYYY-MM-DD HH:MM. Empty: now.")


class AddItemForm(forms.Form):
    """The API's add_item `{sku, quantity, unit_price?, product_name?, requires_inventory?}`; the SKU typed or
    that of an inventory item given by its id (the magnifier looks it up)."""

    sku = forms.CharField(label="SKU", max_length=100, required=False)
    item = forms.ModelChoiceField(
        queryset=InventoryItem.objects.all(),
        required=False,
        label="Or inventory item",
        help_text="Its id (the magnifier lists the items).",
        widget=ForeignKeyRawIdWidget(OrderLineItem._meta.get_field("item").remote_field, admin.site),
    )
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    unit_price = _money(
        min_value=Decimal("0"), required=False, help_text="Empty: the price of this order's line of that SKU."
    )
    product_name = forms.CharField(max_length=255, required=False, help_text="Empty: the item's description.")
    requires_inventory = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Allocates stock at the order's location. Untick for a line without stock (a service, gift wrap).",
    )

    def clean(self):
        data = super().clean()
        item, sku = data.get("item"), (data.get("sku") or "").strip()
        if item is not None and sku and sku != item.sku:
            raise forms.ValidationError(f"The SKU {sku} is not that of the item chosen ({item.sku}): give one.")
        if item is not None:
            sku = item.sku
        if not sku and not self.errors:
            raise forms.ValidationError("Give a SKU or an inventory item.")
        data["sku"] = sku
        return data


class RemoveItemForm(forms.Form):
    """The API's remove_item `{order_item_id, quantity?}`."""

    line = forms.ModelChoiceField(queryset=OrderLineItem.objects.none())
    quantity = forms.IntegerField(
        min_value=1, max_value=MAX_QUANTITY, required=False, help_text="Empty: the whole line."
    )

    def __init__(self, *args, obj: Order, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = _lines_of(obj)
        self.fields["line"].label_from_instance = lambda line: f"{line} at {line.unit_price} (line {line.pk})"


class AddDiscountForm(forms.Form):
    """The API's add_discount `{type, value, description?, order_item_id?}`."""

    type = forms.ChoiceField(choices=DiscountType.choices)
    value = _money(min_value=Decimal("0"), help_text="An amount, or a percentage (0 to 100).")
    description = forms.CharField(max_length=255, required=False)
    line = forms.ModelChoiceField(
        queryset=OrderLineItem.objects.none(), required=False, empty_label="The whole order", label="On"
    )

    def __init__(self, *args, obj: Order, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = _lines_of(obj)
        self.fields["line"].label_from_instance = lambda line: f"Line {line.pk}: {line} at {line.unit_price}"


def _describe_discount(discount: OrderDiscount) -> str:
    value = f"{discount.value}%" if discount.type == DiscountType.PERCENTAGE else str(discount.value)
    target = f" on line {discount.line_id}" if discount.line_id else ""
    text = f" ({discount.description})" if discount.description else ""
    return f"Discount {discount.pk}: {value}{target}{text}, takes {discount.amount}"


class RemoveDiscountForm(forms.Form):
    """The API's remove_discount `{discount_id}`."""

    discount = forms.ModelChoiceField(queryset=OrderDiscount.objects.none())

    def __init__(self, *args, obj: Order, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["discount"].queryset = OrderDiscount.objects.filter(order=obj).order_by("pk")
        self.fields["discount"].label_from_instance = _describe_discount


class ApplyPromotionForm(forms.Form):
    """The API's apply_promotion `{code}`."""

    code = forms.CharField(max_length=100)


class ConfirmForm(forms.Form):
    """An operation that needs no input: its page is the confirmation."""


class TagForm(forms.Form):
    """The API's tag, in its documented single form `{tag_name, tag_value?}`."""

    tag_name = forms.CharField(max_length=100)
    tag_value = forms.CharField(max_length=255, required=False)


class UntagForm(forms.Form):
    """The API's untag `{tags: [...]}`: the order's tags to take off."""

    tags = forms.MultipleChoiceField(choices=(), widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, obj: Order, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tags"].choices = [(t.tag_name, str(t)) for t in OrderTag.objects.filter(order=obj)]


class CancelForm(forms.Form):
    """The API's cancel `{reason?}`: the form is the confirmation."""

    reason = forms.CharField(label="Reason", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))


def _cancel(order: Order, data: dict, by: Actor) -> str:
    order = services.order_cancel(order=order, by=by, reason=data["reason"])
    return f"Cancelled {order.display_number}: its stock allocations are released."


def _split(order: Order, data: dict, by: Actor) -> str:
    line = data["line"]
    result = services.order_split(order=order, by=by, splits=[[(line.pk, data["quantity"])]])
    return f"Split into {', '.join(o.display_number for o in result.orders)}."


def _refund(order: Order, data: dict, by: Actor) -> str:
    order = services.order_refund(order=order, by=by, amount=data["amount"], reason=data["reason"])
    return f"Refunded {data['amount']} on {order.display_number} ({order.amount_refunded} of {order.total} refunded)."


def _ship(order: Order, data: dict, by: Actor) -> str:
    order = services.order_ship(
        order=order,
        by=by,
        tracking_number=data["tracking_number"],
        carrier=data["carrier"],
        shipped_at=data["shipped_at"],
    )
    shipment = f" {order.carrier} {order.tracking_number}".rstrip()
    return f"Shipped {order.display_number}{shipment}: its stock is consumed."


class ShipSomeForm(forms.Form):
    """A parcel of some units (issue #18): a quantity per open line (0 leaves it), the location it leaves
    from, its carrier and tracking; shipped at once, or left pending (its units reserved) to pack later."""

    location = forms.ModelChoiceField(queryset=None, required=False, help_text="Empty: the order's location.")
    carrier = forms.CharField(max_length=100, required=False)
    tracking_number = forms.CharField(max_length=255, required=False)
    ship_now = forms.BooleanField(required=False, initial=True, help_text="Unticked: a pending parcel to pack.")

    def __init__(self, *args, obj: Order, **kwargs):
        from inventory.models import Location

        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = Location.objects.filter(active=True).order_by("code")
        self.line_fields = {}
        for line in _lines_of(obj):
            if line.quantity_unshipped:
                name = f"line_{line.pk}"
                self.fields[name] = forms.IntegerField(
                    min_value=0,
                    max_value=line.quantity_unshipped,
                    initial=0,
                    label=f"{line.sku} (line {line.pk}, {line.quantity_unshipped} unshipped)",
                )
                self.line_fields[name] = line.pk

    def clean(self):
        data = super().clean()
        data["shipment_line_items"] = [
            {"order_item_id": pk, "quantity": data[name]} for name, pk in self.line_fields.items() if data.get(name)
        ]
        if not data["shipment_line_items"]:
            raise forms.ValidationError("Give at least one line a quantity.")
        return data


def _ship_some(order: Order, data: dict, by: Actor) -> str:
    shipment = services.shipment_create(
        by=by,
        order=order,
        location=data["location"],
        shipment_line_items=data["shipment_line_items"],
        carrier=data["carrier"],
        tracking_number=data["tracking_number"],
    )
    if not data["ship_now"]:
        return f"{shipment.number} is pending: its units are reserved for it."
    services.shipment_ship(shipment=shipment, by=by)
    return f"Shipped {shipment.number} from {shipment.location.code}: its units are consumed."


def _add_item(order: Order, data: dict, by: Actor) -> str:
    order = services.order_add_item(
        order=order,
        by=by,
        sku=data["sku"],
        quantity=data["quantity"],
        unit_price=data["unit_price"],
        product_name=data["product_name"],
        requires_inventory=data["requires_inventory"],
    )
    return f"Added {data['quantity']} x {data['sku']} to {order.display_number}: {_totals(order)}."


def _remove_item(order: Order, data: dict, by: Actor) -> str:
    line = data["line"]
    taken = data["quantity"] or line.quantity
    order = services.order_remove_item(order=order, by=by, order_item_id=line.pk, quantity=data["quantity"])
    return f"Removed {taken} x {line.sku} from {order.display_number}: {_totals(order)}."


def _add_discount(order: Order, data: dict, by: Actor) -> str:
    line = data["line"]
    order = services.order_add_discount(
        order=order,
        by=by,
        type=data["type"],
        value=data["value"],
        description=data["description"],
        order_item_id=line.pk if line else None,
    )
    return f"Added a discount to {order.display_number}: {_totals(order)}."


def _remove_discount(order: Order, data: dict, by: Actor) -> str:
    discount = data["discount"]
    order = services.order_remove_discount(order=order, by=by, discount_id=discount.pk)
    return f"Removed discount {discount.pk} from {order.display_number}: {_totals(order)}."


def _apply_promotion(order: Order, data: dict, by: Actor) -> str:
    order = services.order_apply_promotion(order=order, by=by, code=data["code"])
    return f"Applied {order.promotion.code} to {order.display_number}: {_totals(order)}."


def _remove_promotion(order: Order, data: dict, by: Actor) -> str:
    order = services.order_remove_promotion(order=order, by=by)
    return f"Removed the promotion from {order.display_number}: {_totals(order)}."


def _tag(order: Order, data: dict, by: Actor) -> str:
    services.order_tag(order=order, by=by, tag_name=data["tag_name"], tag_value=data["tag_value"])
    tag = data["tag_name"].strip() + (f"={data['tag_value']}" if data["tag_value"] else "")
    return f"Tagged {order.display_number}: {tag}."


def _untag(order: Order, data: dict, by: Actor) -> str:
    services.order_untag(order=order, by=by, tags=data["tags"])
    return f"Untagged {order.display_number}: {', '.join(data['tags'])}."


def _promotion_help(order: Order) -> str:
    if order.promotion_id is None:
        return f"{order} has no promotion."
    return (
        f"Takes {order.promotion.code} off {order} (it takes {order.promotion_discount} now) and gives its use back, "
        "unless a split or a merge shared it."
    )


ORDER_OPERATIONS = (
    Operation(
        "ship",
        "Ship…",
        ShipForm,
        _ship,
        transition="ship",
        tone="danger",
        help="Ships everything that remains: the pending parcels, and the rest as one shipment per location "
        "(consuming the allocations: the ledger's shipment, on hand and allocated fall), with this tracking "
        "number and carrier where a parcel has none.",
    ),
    Operation(
        "cancel_remaining",
        "Cancel remaining…",
        ReasonForm,
        lambda order, data, by: (
            f"{services.order_cancel_remaining(order=order, by=by, reason=data['reason']).display_number}: the "
            "unshipped units are cancelled and their stock released; the totals follow."
        ),
        transition="cancel_remaining",
        tone="danger",
        help="Short-ship: cancels every unit not shipped yet (and the pending parcels), releases its stock and "
        "recomputes the totals. The order becomes shipped, or cancelled when nothing had shipped.",
    ),
    Operation(
        "ship_some",
        "Ship some…",
        ShipSomeForm,
        _ship_some,
        transition="add_shipment",
        help="One parcel of the quantities given, from one location: reserved now, and shipped at once unless "
        "left pending to pack. Asking more than the location holds for a line is refused, nothing written.",
    ),
    Operation(
        "cancel",
        "Cancel order…",
        CancelForm,
        _cancel,
        transition="cancel",
        tone="danger",
        help=lambda order: (
            f"Cancels {order}: every line's stock allocation at {order.location.code} is released. A cancelled "
            "order cannot be reopened; a refund may follow."
        ),
    ),
    Operation(
        "add_item",
        "Add item…",
        AddItemForm,
        _add_item,
        transition="add_item",
        help=lambda order: (
            f"Adds a line to {order} and allocates its stock at {order.location.code}, or nothing when the stock "
            "is short or the SKU unknown. A line of the same SKU and price grows instead. The totals follow."
        ),
    ),
    Operation(
        "remove_item",
        "Remove item…",
        RemoveItemForm,
        _remove_item,
        transition="remove_item",
        help="Takes the quantity off the line and releases its stock. The last line stays: cancel the order.",
    ),
    Operation(
        "add_discount",
        "Add discount…",
        AddDiscountForm,
        _add_discount,
        transition="add_discount",
        help="A fixed amount or a percentage, off the whole order or one line. The discounts never take more "
        "than the subtotal: the amount is capped at what is left.",
    ),
    Operation(
        "remove_discount",
        "Remove discount…",
        RemoveDiscountForm,
        _remove_discount,
        transition="remove_discount",
        help="Takes a manual discount off; the totals follow.",
    ),
    Operation(
        "apply_promotion",
        "Apply promotion…",
        ApplyPromotionForm,
        _apply_promotion,
        transition="apply_promotion",
        help="One promotion per order. It must be active, within its dates, under its usage limit and the "
        "order's subtotal at least its minimum; applying it counts one use.",
    ),
    Operation(
        "remove_promotion",
        "Remove promotion",
        ConfirmForm,
        _remove_promotion,
        transition="remove_promotion",
        help=_promotion_help,
    ),
    Operation(
        "tag",
        "Tag…",
        TagForm,
        _tag,
        transition="tag",
        help="Tagging a name the order already carries sets its value.",
    ),
    Operation(
        "untag",
        "Untag…",
        UntagForm,
        _untag,
        transition="untag",
        help="Takes the ticked tags off the order; the others stay.",
    ),
    Operation(
        "split",
        "Split a line off…",
        SplitForm,
        _split,
        transition="split",
        help="The quantity moves, with its stock allocation and its share of the discounts, to a new order in "
        "the same status (split_from this one), which keeps at least one line.",
    ),
    Operation(
        "refund",
        "Refund…",
        RefundForm,
        _refund,
        transition="refund",
        tone="danger",
        help=lambda order: (
            f"Records a refund on {order}: {order.amount_refunded} of {order.total} refunded so "
            "far. A refund above what is left is refused; once the refunds reach the total the order is refunded."
        ),
    ),
)


EDITABLE_IN_ADMIN = (
    "name",
    "customer_email",
    "customer_name",
    "ordered_by",
    "shipping_address",
    "billing_address",
    "delivery_address",
    "delivery_date",
    "delivery_type",
    "fulfillment_type",
    "shipping_method",
    "notes",
    "seller_note",
    "shipping_amount",
    "tax_amount",
)
TOTALS = (
    "subtotal",
    "discount_total",
    "promotion",
    "promotion_discount",
    "shipping_total",
    "tax_total",
    "total",
    "amount_refunded",
)
RECORD = (
    "status",
    "order_number",
    "customer",
    "location",
    "currency",
    "hold_reason",
    "cancel_reason",
    "cancellation_initiator",
    "tracking_number",
    "carrier",
    "shipped_at",
    "delivered_at",
    "split_from",
    "merged_into",
    "exchange_for",
    "is_replacement_order",
    "created_at",
    "updated_at",
)


# ---- paperwork: the packing slip and the pick list (stateset.admin.Paper) -----------------------------------


def _ship_to(order: Order) -> list[str]:
    customer = order.customer
    full = f"{customer.first_name} {customer.last_name}".strip() if customer is not None else ""
    name = order.customer_name or full or order.customer_email
    address = order.delivery_address.splitlines() if order.delivery_address else []
    if not address and isinstance(order.shipping_address, dict):
        address = [str(v) for v in order.shipping_address.values() if v not in (None, "")]
    return [line for line in (name, *address) if line]


def _packing_slip(order: Order) -> dict:
    lines = []
    for line in _lines_of(order).exclude(status__in=("cancelled", "merged")):
        packed = line.quantity_shipped if order.status not in EDITABLE else line.quantity
        lines.append({"sku": line.sku, "product_name": line.product_name, "quantity": line.quantity, "packed": packed})
    return {"obj": order, "number": order.display_number, "ship_to": _ship_to(order), "lines": lines}


def _pick_list(order: Order) -> dict:
    levels = {
        level.item_id: level.on_hand
        for level in StockLevel.objects.filter(location_id=order.location_id, item__order_lines__order=order)
    }
    lines = [
        {
            "sku": line.sku,
            "product_name": line.product_name,
            "to_pick": line.quantity - line.quantity_shipped,
            "on_hand": levels.get(line.item_id),
        }
        for line in _lines_of(order).filter(requires_inventory=True).exclude(status__in=("cancelled", "merged"))
        if line.quantity > line.quantity_shipped
    ]
    return {"obj": order, "number": order.display_number, "lines": sorted(lines, key=lambda line: line["sku"])}


ORDER_PAPERS = (
    Paper("packing_slip", "Packing slip", "paperwork/packing_slip.html", _packing_slip),
    Paper("pick_list", "Pick list", "paperwork/pick_list.html", _pick_list),
)


# ---- adding an order (a phone order): the header and its lines in one order_create call -----------------------

NEW_ORDER_FIELDS = ("customer", "location", "currency", "order_number")


class NewOrderForm(forms.ModelForm):
    """The add page's header: what `POST /v1/orders` takes besides the lines."""

    class Meta:
        model = Order
        fields = (*NEW_ORDER_FIELDS, *EDITABLE_IN_ADMIN)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        helps = {
            "customer": "Or give only the customer's email below: the customer is found, or created.",
            "location": "Where the lines' stock is allocated. Empty: MAIN.",
            "order_number": "Empty: ORD-… is given.",
        }
        for name, text in helps.items():
            if name in self.fields:
                self.fields[name].help_text = text
        if "location" in self.fields:
            self.fields["location"].required = False


class NewOrderLineForm(forms.ModelForm):
    """A line of the order being added (the API's `order_line_items` entry). The price is typed, never a
    default: an order taken by phone charges what the customer was told."""

    unit_price = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))

    class Meta:
        model = OrderLineItem
        fields = ("sku", "product_name", "quantity", "unit_price", "requires_inventory")


class NewOrderLineInline(admin.TabularInline):
    """The lines of an order being added: `order_create` saves them with the order (OrderAdmin.save_related),
    the formset never does. Whoever may add orders may give their lines, as in the API."""

    model = OrderLineItem
    form = NewOrderLineForm
    formset = LineFormSet
    fields = ("sku", "product_name", "quantity", "unit_price", "requires_inventory")
    extra = 3
    can_delete = False
    verbose_name = "line"
    verbose_name_plural = "lines"

    def has_add_permission(self, request, obj=None):
        return obj is None and request.user.has_perm("orders.add_order")

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def has_view_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


class CreateRefused(Exception):
    """`order_create` refused the order being added: carries its message out of Django's transaction, which
    rolls the add back whole (OrderAdmin.changeform_view then shows the form again)."""


class OrderViews(SavedViews):
    views = {
        "to_ship": ("To ship (pending or processing)", {"status__in": SHIPPABLE}),
        "to_ship_today": (
            "To ship today (due by today)",
            lambda qs: qs.filter(status__in=SHIPPABLE).filter(
                Q(delivery_date__isnull=True) | Q(delivery_date__lte=timezone.localdate())
            ),
        ),
        "on_hold": ("On hold", {"status": "on_hold"}),
        "returned": ("Returned", {"status": "returned"}),
    }


@admin.register(Order)
class OrderAdmin(StatefulAdmin):
    # Fits 1366 px: the customer by name (or email), not its "Name <email>" label next to the email again.
    list_display = ("order_number", "status", "customer_label", "total", "location", "created_at")
    list_filter = (OrderViews, "status", "location", "is_replacement_order", "created_at")
    list_select_related = ("customer", "location")
    search_fields = (
        "order_number",
        "customer_email",
        "customer_name",
        "customer__email",
        "order_line_items__sku",
        "tracking_number",
    )
    autocomplete_fields = ("customer", "location")
    date_hierarchy = "created_at"
    operations = ORDER_OPERATIONS
    papers = ORDER_PAPERS
    formfield_overrides = {
        models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 60})},
        models.JSONField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 60})},
    }
    fieldsets = [
        ("Customer and delivery", {"fields": EDITABLE_IN_ADMIN}),
        ("Record", {"fields": RECORD, "classes": ("collapse",)}),
        ("Totals", {"fields": TOTALS, "classes": ("collapse",)}),
    ]
    inlines = [OrderLineInline, OrderDiscountInline, OrderTagInline, RefundInline, ShipmentInline, StateLogInline]
    # The page as a workspace (stateset.workspace): the card, every action, the lines and shipments first.
    workspace_layout = (
        "card",
        "actions",
        "lines",
        "shipments",
        "refunds",
        "discounts",
        "tags",
        "details",
        "related",
        "timeline",
    )
    inline_sections = {
        "OrderLineInline": "lines",
        "ShipmentInline": "shipments",
        "RefundInline": "refunds",
        "OrderDiscountInline": "discounts",
        "OrderTagInline": "tags",
    }
    card_fields = (
        "card_customer",
        "location",
        "created_at",
        "total",
        "amount_refunded",
        "card_balance",
        "card_hold",
        "card_cancel",
        "card_shipment",
    )
    actions = ["ship_orders", "cancel_orders", "merge_orders"]
    service_param = "order"
    create_service = services.order_create
    create_lines_param = "order_line_items"
    line_model = OrderLineItem
    line_fields = NewOrderLineForm.Meta.fields
    update_service = services.order_update
    service_fields = EDITABLE_IN_ADMIN
    button_services = {
        "process": services.order_process,
        "hold": services.order_hold,
        "release": services.order_release,
        "deliver": services.order_deliver,
    }

    @admin.display(description="Customer", ordering="customer_name")
    def customer_label(self, order: Order) -> str:
        if order.customer_id and (order.customer.first_name or order.customer.last_name):
            return f"{order.customer.first_name} {order.customer.last_name}".strip()
        return order.customer_name or order.customer_email or "—"

    # ---- the workspace: the header card and the related documents ----------------------------------------

    @admin.display(description="Customer")
    def card_customer(self, order: Order) -> str:
        who = order.customer_name or order.customer_email
        if order.customer_id:
            return workspace.link(order.customer, who or str(order.customer))
        return who

    @admin.display(description="Balance")
    def card_balance(self, order: Order) -> str:
        return workspace.money(order.balance, order.currency)

    @admin.display(description="On hold because")
    def card_hold(self, order: Order) -> str:
        return order.hold_reason if order.status == "on_hold" else ""

    @admin.display(description="Cancelled because")
    def card_cancel(self, order: Order) -> str:
        return order.cancel_reason if order.status == "cancelled" else ""

    @admin.display(description="Shipped")
    def card_shipment(self, order: Order) -> str:
        if not order.shipped_at:
            return ""
        parcel = " ".join(p for p in (order.carrier, order.tracking_number) if p)
        when = formats.date_format(timezone.localtime(order.shipped_at), "j M Y")
        return f"{when}" + (f" · {parcel}" if parcel else "")

    def related_documents(self, order: Order):
        related = [("Split from", order.split_from), ("Merged into", order.merged_into)]
        related.append(("Replacement for", order.exchange_for))
        related += [("Split off", o) for o in order.split_orders.order_by("pk")]
        related += [("Merged in", o) for o in order.merged_orders.order_by("pk")]
        related += [("Replacement", o) for o in order.replacement_orders.order_by("pk")]
        related += [("Return", r) for r in order.returns.order_by("pk")]
        related += [("Warranty", w) for w in order.warranties.order_by("pk")]
        return related

    # ---- the add page: header and lines, one order_create -------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": NEW_ORDER_FIELDS}), ("Header", {"fields": EDITABLE_IN_ADMIN})]
        if obj.status not in EDITABLE:  # read-only now: folded, the card says what matters
            return [(name, {**opts, "classes": ("collapse",)}) for name, opts in super().get_fieldsets(request, obj)]
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request, obj):
        return [NewOrderLineInline] if obj is None else super().get_inlines(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        form = super().get_form(request, obj, change=change, **{**kwargs, "form": NewOrderForm})
        refusal = getattr(request, "order_create_refusal", None)
        if refusal is None:
            return form

        class RefusedOrderForm(form):
            def clean(self):
                super().clean()
                raise forms.ValidationError(refusal)

        return RefusedOrderForm

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        locked = RECORD + TOTALS
        if obj.status not in EDITABLE:
            locked += EDITABLE_IN_ADMIN
        return locked

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except CreateRefused as refused:
            # Django has rolled the add back whole (no order, customer, allocation or log entry): the same form
            # again, everything typed kept, with the service's message at its top.
            request.order_create_refusal = str(refused)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def create_kwargs(self, form):
        data = form.cleaned_data
        given = {n: data[n] for n in ("order_number", *EDITABLE_IN_ADMIN) if data.get(n) not in (None, "")}
        return {
            "customer": data.get("customer"),
            "location": data.get("location"),
            "currency": data.get("currency") or "USD",
            **given,
        }

    def save_related(self, request, form, formsets, change):
        """An add makes the order and its lines in one `order_create` call (ServiceAdmin); its refusal goes
        out as CreateRefused, to show on the same form."""
        try:
            super().save_related(request, form, formsets, change)
        except ADMIN_ERRORS as exc:
            if change:
                raise
            raise CreateRefused(str(exc)) from exc

    def _apply_fsm_transition(self, *, obj, transition_name, request, kwargs=None) -> bool:
        kwargs = dict(kwargs or {})
        if "hold_reason" in kwargs:
            kwargs["reason"] = kwargs.pop("hold_reason")  # order_hold keeps it as hold_reason and in the history
        return super()._apply_fsm_transition(obj=obj, transition_name=transition_name, request=request, kwargs=kwargs)

    # ---- service-backed operations ---------------------------------------------------------------------

    @admin.action(description="Ship the selected orders (consumes their stock)", permissions=["change"])
    def ship_orders(self, request, queryset):
        run_service_action(self, request, queryset, services.order_ship, param="order", verb="Shipped")

    @admin.action(description="Cancel the selected orders (releases their stock)", permissions=["change"])
    def cancel_orders(self, request, queryset):
        run_service_action(
            self, request, queryset, services.order_cancel, param="order", verb="Cancelled", reason="in the admin"
        )

    @admin.action(description="Merge the selected orders into the first (lowest id)", permissions=["change"])
    def merge_orders(self, request, queryset):
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        if len(ids) < 2:
            self.message_user(request, "Select at least two orders to merge.", level=messages.WARNING)
            return
        try:
            target = services.order_merge_many(by=Actor.admin(request), order_ids=ids)
        except ADMIN_ERRORS as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return
        self.message_user(request, f"Merged {len(ids) - 1} order(s) into {target.display_number}.", messages.SUCCESS)


@admin.register(Promotion)
class PromotionAdmin(ImportExportAdminMixin, ServiceAdmin):
    """Saves and deletes through the promotion services: a refused one (a used promotion's terms, its
    deletion) shows the service's message and saves nothing."""

    list_display = ("code", "type", "value", "active", "times_used", "usage_limit", "starts_at", "ends_at")
    list_filter = ("active", "type")
    search_fields = ("code", "name")
    readonly_fields = ("times_used", "created_at", "updated_at")
    resource_classes = [PromotionResource]
    create_service = services.promotion_create
    update_service = services.promotion_update
    delete_service = services.promotion_delete
    service_param = "promotion"
    service_fields = tuple(services.PROMOTION_FIELDS)


class WholesaleLineInline(ReadOnlyInline):
    model = WholesaleOrderLineItem
    fields = ("sku", "product_name", "quantity", "unit_price", "total", "quantity_fulfilled")


WHOLESALE_EDITABLE_FIELDS = (
    "name",
    "customer_number",
    "payment_terms",
    "order_financial_status",
    "delivery_date",
    "delivery_address",
    "memo",
)


@admin.register(WholesaleOrder)
class WholesaleOrderAdmin(StatefulAdmin):
    list_display = (
        "order_number",
        "status",
        "customer_label",
        "total",
        "order_financial_status",
        "location",
        "created_at",
    )  # fits 1366 px; payment terms and fulfilment are filters and on the page
    list_filter = ("status", "payment_terms", "order_financial_status", "location")
    list_select_related = ("customer", "location")
    search_fields = ("order_number", "name", "customer_number", "customer__email")
    date_hierarchy = "created_at"
    inlines = [WholesaleLineInline, StateLogInline]
    actions = ["approve_orders", "fulfill_orders", "cancel_orders"]

    @admin.display(description="Customer", ordering="customer__last_name")
    def customer_label(self, order) -> str:
        return workspace.person(order.customer)

    service_param = "wholesale_order"
    # Looked up when called, as the actions below look theirs up (not bound once, when the class is made).
    update_service = staticmethod(lambda **kwargs: services.wholesale_order_update(**kwargs))
    service_fields = WHOLESALE_EDITABLE_FIELDS
    button_services = {"submit": services.wholesale_order_submit, "close": services.wholesale_order_close}

    def has_add_permission(self, request):
        return False

    def get_fields(self, request, obj=None):
        return (
            "status",
            "order_number",
            "customer",
            "location",
            "currency",
            *WHOLESALE_EDITABLE_FIELDS,
            "order_fulfillment_status",
            "subtotal",
            "total",
            "approved_at",
            "fulfilled_at",
            "cancelled_at",
            "cancel_reason",
        )

    def get_readonly_fields(self, request, obj=None):
        fields = self.get_fields(request, obj)
        if obj is not None and obj.status in WHOLESALE_EDITABLE:
            return tuple(f for f in fields if f not in WHOLESALE_EDITABLE_FIELDS)
        return fields

    @admin.action(description="Approve the selected orders (allocates their stock)", permissions=["change"])
    def approve_orders(self, request, queryset):
        run_service_action(
            self, request, queryset, services.wholesale_order_approve, param="wholesale_order", verb="Approved"
        )

    @admin.action(description="Fulfil the selected orders (consumes their stock)", permissions=["change"])
    def fulfill_orders(self, request, queryset):
        run_service_action(
            self, request, queryset, services.wholesale_order_fulfill, param="wholesale_order", verb="Fulfilled"
        )

    @admin.action(description="Cancel the selected orders (releases their stock)", permissions=["change"])
    def cancel_orders(self, request, queryset):
        run_service_action(
            self,
            request,
            queryset,
            services.wholesale_order_cancel,
            param="wholesale_order",
            verb="Cancelled",
            reason="in the admin",
        )


# ---- shipments (issue #18) ---------------------------------------------------------------------------------


class ShipmentLineInline(ReadOnlyInline):
    model = ShipmentLineItem
    fields = ("line", "quantity", "quantity_returned")


class ToPackFilter(admin.SimpleListFilter):
    """The parcels to pack today: pending ones created before tomorrow (the oldest first)."""

    title, parameter_name = "packing", "to_pack"

    def lookups(self, request, model_admin):
        return [("today", "To pack today")]

    def queryset(self, request, queryset):
        if self.value() == "today":
            from django.utils import timezone

            tomorrow = timezone.localdate() + timezone.timedelta(days=1)
            return queryset.filter(status="pending", created_at__date__lt=tomorrow).order_by("created_at", "pk")
        return queryset


def _shipment_ship(shipment: Shipment, data: dict, by: Actor) -> str:
    shipment = services.shipment_ship(
        shipment=shipment, by=by, tracking_number=data["tracking_number"], carrier=data["carrier"]
    )
    return f"Shipped {shipment.number}: its units are consumed at {shipment.location.code}."


SHIPMENT_OPERATIONS = (
    Operation(
        "ship",
        "Ship…",
        ShipForm,
        _shipment_ship,
        transition="ship",
        help="Consumes exactly this parcel's units at its location; the order becomes partially shipped, or "
        "shipped once every unit is shipped or cancelled.",
    ),
    Operation(
        "cancel",
        "Cancel…",
        OptionalReasonForm,
        lambda shipment, data, by: (
            f"{services.shipment_cancel(shipment=shipment, by=by, reason=data.get('reason', '')).number} is "
            "cancelled: its units are free to ship again."
        ),
        transition="cancel",
    ),
    Operation(
        "deliver",
        "Delivered",
        OptionalReasonForm,
        lambda shipment, data, by: (
            f"{services.shipment_deliver(shipment=shipment, by=by, reason=data.get('reason', '')).number} is delivered."
        ),
        transition="deliver",
        help="The order becomes delivered once it is shipped and every parcel has arrived.",
    ),
    Operation(
        "return_to_sender",
        "Returned to sender…",
        OptionalReasonForm,
        lambda shipment, data, by: (
            f"{services.shipment_return_to_sender(shipment=shipment, by=by, reason=data.get('reason', '')).number}"
            " came back: its units are on hand again, held for their lines."
        ),
        transition="return_to_sender",
        help="Puts its units back on hand at its location (a ledger row) and holds them for their lines again. "
        "No money moves.",
    ),
)


@admin.register(Shipment)
class ShipmentAdmin(StatefulAdmin):
    """Shipments: a parcel's page with its buttons (in transit, lost) and operations (ship, cancel, deliver,
    returned to sender); the changelist filters the parcels to pack today. Shipments are created from the
    order's page ("Ship some…") or the API; a pending one is deleted through its service."""

    list_display = ("number", "order", "status", "location", "carrier", "tracking_number", "shipped_at", "created_at")
    list_filter = (ToPackFilter, "status", "location", "carrier", "shipped_at")
    list_select_related = ("order", "location")
    search_fields = ("number", "tracking_number", "order__order_number")
    date_hierarchy = "created_at"
    operations = SHIPMENT_OPERATIONS
    fields = (
        "number",
        "order",
        "location",
        "status",
        "carrier",
        "service",
        "tracking_number",
        "tracking_url",
        "weight",
        "package_count",
        "notes",
        "shipped_at",
        "delivered_at",
        "cancelled_at",
        "actor",
    )
    readonly_fields = ("number", "order", "location", "status", "shipped_at", "delivered_at", "cancelled_at", "actor")
    inlines = [ShipmentLineInline, StateLogInline]
    service_param = "shipment"
    update_service = services.shipment_update
    delete_service = services.shipment_delete
    deletable_statuses = ("pending",)
    service_fields = ("carrier", "service", "tracking_number", "tracking_url", "weight", "package_count", "notes")
    button_services = {
        "mark_in_transit": services.shipment_mark_in_transit,
        "mark_lost": services.shipment_mark_lost,
    }

    def has_add_permission(self, request):
        return False  # from the order's page ("Ship some…") or the API: a parcel needs its order's lines
