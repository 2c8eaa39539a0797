"""The orders back office. Staff obey the API's rules: every change goes through `orders.services`.

- Transition buttons (django-fsm-2's FSMAdminMixin) only for hold (a small form asks the reason), release,
  process and deliver: no stock or money moves.
- Ship, cancel and merge are admin actions over the selected orders; split is a small form on the order
  page ("Split a line off"). Each calls its service, which checks the named permission.
- Lines, discounts, tags, refunds and shipments are shown read-only; totals are read-only.
- Orders come from the API (or seed_demo): the admin edits their header fields, it does not add orders.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django_fsm_log.admin import StateLogInline

from orders import services
from orders.models import (
    Order,
    OrderDiscount,
    OrderLineItem,
    OrderTag,
    Promotion,
    Refund,
    Shipment,
    WholesaleOrder,
    WholesaleOrderLineItem,
)
from orders.resources import PromotionResource
from orders.states import EDITABLE, REFUNDABLE, WHOLESALE_EDITABLE
from stateset.actors import Actor
from stateset.admin import (
    ADMIN_ERRORS,
    ImportExportAdminMixin,
    Operation,
    StatefulAdmin,
    ThroughServicesAdmin,
    run_service_action,
)


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
    fields = ("tracking_number", "carrier", "shipped_at", "actor")


class RefundForm(forms.Form):
    """Money back to the customer: `order_refund`, within the order's balance (the API's refund)."""

    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    reason = forms.CharField(max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SplitForm(forms.Form):
    line = forms.ModelChoiceField(queryset=OrderLineItem.objects.none(), label="Line")
    quantity = forms.IntegerField(min_value=1)

    def __init__(self, *args, obj: Order, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = OrderLineItem.objects.filter(order=obj).order_by("pk")


def _split(order: Order, data: dict, by: Actor) -> str:
    line = data["line"]
    result = services.order_split(order=order, by=by, splits=[[(line.pk, data["quantity"])]])
    return f"Split into {', '.join(o.display_number for o in result.orders)}."


def _refund(order: Order, data: dict, by: Actor) -> str:
    order = services.order_refund(order=order, by=by, amount=data["amount"], reason=data["reason"])
    return f"Refunded {data['amount']} on {order.display_number} ({order.amount_refunded} of {order.total} refunded)."


ORDER_OPERATIONS = (
    Operation(
        "split",
        "Split a line off…",
        SplitForm,
        _split,
        permission="orders.split_order",
        available=lambda order: order.status in EDITABLE,
        help="The quantity moves, with its stock allocation and its share of the discounts, to a new order in "
        "the same status (split_from this one), which keeps at least one line.",
    ),
    Operation(
        "refund",
        "Refund…",
        RefundForm,
        _refund,
        permission="orders.refund_order",
        available=lambda order: order.status in REFUNDABLE,
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


@admin.register(Order)
class OrderAdmin(StatefulAdmin):
    list_display = ("order_number", "status", "customer", "customer_email", "location", "total", "created_at")
    list_filter = ("status", "location", "is_replacement_order", "created_at")
    list_select_related = ("customer", "location")
    search_fields = ("order_number", "customer_email", "customer_name", "customer__email", "order_line_items__sku")
    date_hierarchy = "created_at"
    operations = ORDER_OPERATIONS
    fieldsets = [
        (None, {"fields": RECORD}),
        ("Header", {"fields": EDITABLE_IN_ADMIN}),
        ("Totals", {"fields": TOTALS}),
    ]
    inlines = [OrderLineInline, OrderDiscountInline, OrderTagInline, RefundInline, ShipmentInline, StateLogInline]
    actions = ["ship_orders", "cancel_orders", "merge_orders"]
    service_param = "order"
    button_services = {
        "process": services.order_process,
        "hold": services.order_hold,
        "release": services.order_release,
        "deliver": services.order_deliver,
    }

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        locked = RECORD + TOTALS
        if obj is None or obj.status not in EDITABLE:
            locked += EDITABLE_IN_ADMIN
        return locked

    def save_model(self, request, obj, form, change):
        """Header changes through `order_update`, like `PUT /v1/orders/{id}`."""
        fields = {n: form.cleaned_data[n] for n in form.changed_data if n in EDITABLE_IN_ADMIN}
        if not fields:
            return
        try:
            services.order_update(order=obj, by=Actor.admin(request), **fields)
        except ADMIN_ERRORS as exc:
            self.message_user(request, f"Not saved: {exc}", level=messages.ERROR)

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
class PromotionAdmin(ImportExportAdminMixin, ThroughServicesAdmin):
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
        "customer",
        "location",
        "payment_terms",
        "order_financial_status",
        "order_fulfillment_status",
        "total",
        "created_at",
    )
    list_filter = ("status", "payment_terms", "order_financial_status", "location")
    list_select_related = ("customer", "location")
    search_fields = ("order_number", "name", "customer_number", "customer__email")
    date_hierarchy = "created_at"
    inlines = [WholesaleLineInline, StateLogInline]
    actions = ["approve_orders", "fulfill_orders", "cancel_orders"]
    service_param = "wholesale_order"
    button_services = {"submit": services.wholesale_order_submit, "close": services.wholesale_order_close}

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
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

    def save_model(self, request, obj, form, change):
        fields = {n: form.cleaned_data[n] for n in form.changed_data if n in WHOLESALE_EDITABLE_FIELDS}
        if not fields:
            return
        try:
            services.wholesale_order_update(wholesale_order=obj, by=Actor.admin(request), **fields)
        except ADMIN_ERRORS as exc:
            self.message_user(request, f"Not saved: {exc}", level=messages.ERROR)

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
