"""The returns and warranties back office. Staff obey the API's rules: every add, change, delete, button,
operation and action goes through `returns.services`.

- A return is added with its lines (the inline) in one `return_create` call, so the admin cannot return more
  than the order shipped and has not had returned either: the inline shows that rule's message before saving
  (`return_lines_check`), and the service checks it again under the order's lock. Lines are edited inline
  while the return is requested, each change through the line services.
- Buttons (transitions declared `custom={"admin": True}`): approve, reject (asks the reason), cancel, close,
  reopen for returns; deny (asks the reason), complete, reopen for warranties. They move no stock and no
  money, and run through the services (cancel and reopen give units back to the order or take them again).
- Operations (small forms on the document's page, `stateset.admin.Operation`) give the input the API takes:
  a return's "Receive…" (what arrived, line by line: quantity and condition, so damaged goods are not
  restocked), "Refund…" (an amount, or the default, and a reason), "Approve with notes…" and "Cancel with a
  reason…"; a claim's "Approve…" (with or without a replacement order, and notes) and "Cancel with a
  reason…". Each is offered only in the statuses the service allows and to staff holding its named
  permissions.
- Changelist actions: refund returns (the default amount); approve claims (as they ask, or with a
  replacement order) and cancel them (which may cancel a replacement order). There is no bulk receive: a
  receipt records each line's condition, which only the Receive form asks.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin
from django_fsm_log.admin import StateLogInline

from orders.models import Order
from returns import services
from returns.models import Return, ReturnLineItem, Warranty, WarrantyLineItem
from returns.states import (
    RESTOCKABLE_CONDITIONS,
    RETURN_DELETABLE,
    RETURN_FEE_EDITABLE,
    RETURN_LINES_EDITABLE,
    RETURN_LOCATION_EDITABLE,
    WARRANTY_DELETABLE,
    WARRANTY_LINES_EDITABLE,
    Condition,
)
from stateset import workspace
from stateset.actors import Actor
from stateset.admin import (
    LineFormSet,
    LineInline,
    Operation,
    ReasonForm,
    SavedViews,
    StatefulAdmin,
    run_service_action,
)

# ---- returns -------------------------------------------------------------------------------------------------


class ReturnLineFormSet(LineFormSet):
    def check_lines(self) -> None:
        ret = self.instance
        if not ret.order_id:
            return  # the add form's own error (no order) shows instead
        holding = list(ReturnLineItem.objects.filter(parent_return=ret)) if ret.pk else []
        lines = []
        for f in self.kept_forms():
            if f.instance.pk and "order_line_item" in f.changed_data:
                raise forms.ValidationError("A line's order line is fixed: delete the line and add another.")
            line = f.cleaned_data.get("order_line_item")
            quantity = f.cleaned_data.get("quantity")
            if line is None or not quantity:
                raise forms.ValidationError("Each line needs an order line item and a quantity.")
            lines.append({"order_line_item": line, "quantity": quantity})
        if lines:
            services.return_lines_check(order=ret.order, lines=lines, holding=holding)


class ReturnLineInline(LineInline):
    """Editable while the return is requested (each change through the line services); a record after."""

    model = ReturnLineItem
    fk_name = "parent_return"
    formset = ReturnLineFormSet
    editable_statuses = RETURN_LINES_EDITABLE
    fields = (
        "order_line_item",
        "sku",
        "quantity",
        "condition",
        "restock",
        "reason",
        "price",
        "amount",
        "quantity_received",
        "restocked",
        "status",
    )
    readonly_fields = ("sku", "price", "amount", "quantity_received", "restocked", "status")
    raw_id_fields = ("order_line_item",)


class ReturnForm(forms.ModelForm):
    class Meta:
        model = Return
        fields = ("order", "location", "restocking_fee")  # the admin adds the fieldsets' own

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "location" in self.fields:
            self.fields["location"].required = False
            self.fields["location"].help_text = "Where restocked goods go (empty: the order's location)."

    def clean(self):
        data = super().clean()
        if "location" in self.fields and not data.get("location") and data.get("order"):
            data["location"] = data["order"].location
            self.instance.location = data["location"]
        return data


DESCRIPTIVE = (
    "customer_email",
    "entered_by",
    "description",
    "issue",
    "reason_category",
    "reported_condition",
    "condition",
    "action_needed",
    "tracking_number",
    "zendesk_number",
    "serial_number",
    "scanned_serial_number",
    "country",
)
RETURN_RECORD = (
    "rma",
    "status",
    "order",
    "customer",
    "amount",
    "total_refunded",
    "order_refunded",
    "received_by",
    "warehouse_received_date",
    "refunded_date",
    "approval_notes",
    "rejection_reason",
    "cancel_reason",
    "replacement_order",
    "exchange_price_difference",
    "created_at",
    "updated_at",
)


# ---- a return's operations (the API's receive, refund, approve and cancel with their input) -------------------


class ReceiveForm(forms.Form):
    """The API's receive: per line the quantity received (default: the line's quantity) and the condition it
    arrived in (default: as recorded), then who received it and a note. `clean` gives the service's `lines`."""

    received_by = forms.CharField(max_length=255, required=False, help_text="Empty: your username.")
    reason = forms.CharField(label="Note", max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, obj: Return, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = list(ReturnLineItem.objects.filter(parent_return=obj).order_by("pk"))
        for line in self.lines:
            what = f"Line {line.pk} ({line})"
            self.fields[f"line_{line.pk}_quantity_received"] = forms.IntegerField(
                label=f"{what} received", min_value=0, initial=line.quantity
            )
            self.fields[f"line_{line.pk}_condition"] = forms.ChoiceField(
                label=f"{what} condition",
                choices=Condition.choices,
                initial=line.condition,
                help_text=(
                    "Marked restock: back on hand only if received new or like new."
                    if line.restock
                    else "Not marked restock: stays off the shelf in any condition."
                ),
            )
        self.order_fields([*(n for n in self.fields if n.startswith("line_")), "received_by", "reason"])

    def clean(self):
        data = super().clean()
        if not self.errors:
            data["lines"] = [
                {
                    "return_line_item_id": line.pk,
                    "quantity_received": data[f"line_{line.pk}_quantity_received"],
                    "condition": data[f"line_{line.pk}_condition"],
                }
                for line in self.lines
            ]
        return data


def _receive(ret: Return, data: dict, by: Actor) -> str:
    ret = services.return_receive(
        return_=ret, by=by, received_by=data["received_by"], lines=data["lines"], reason=data["reason"]
    )
    lines = list(ReturnLineItem.objects.filter(parent_return=ret).order_by("pk"))
    back = [f"{x.quantity_received} x {x.sku}" for x in lines if x.restocked]
    kept = [
        f"{x.quantity_received} x {x.sku} ({x.condition})" for x in lines if not x.restocked and x.quantity_received
    ]
    done = f"Received {ret}: " + (
        f"restocked {', '.join(back)} at {ret.location.code}" if back else "nothing restocked"
    )
    return done + (f"; not restocked: {', '.join(kept)}." if kept else ".")


def _receive_help(ret: Return) -> str:
    return (
        f"Record what arrived for {ret}, line by line. A line marked restock goes back on hand at "
        f"{ret.location.code} only when received {' or '.join(c.label.lower() for c in RESTOCKABLE_CONDITIONS)}; "
        "used, damaged or unsalvageable units stay off the shelf. A return is received once: the stock moves once."
    )


class ReturnRefundForm(forms.Form):
    """The API's refund: an amount (empty: the default) and a reason."""

    amount = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), required=False, help_text="Empty: the default."
    )
    reason = forms.CharField(max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}))


def _refund(ret: Return, data: dict, by: Actor) -> str:
    ret = services.return_refund(return_=ret, by=by, amount=data["amount"], reason=data["reason"])
    order = Order.objects.get(pk=ret.order_id)  # fresh: the refund is on it now
    return (
        f"Refunded {ret.total_refunded} for {ret} on {order.display_number} "
        f"({order.amount_refunded} of {order.total} refunded)."
    )


def _refund_help(ret: Return) -> str:
    order = ret.order
    return (
        f"Records a refund for {ret} on {order.display_number}. The default is what was received less the "
        f"restocking fee: {services.return_default_refund(ret)}. The order's balance is {order.balance} "
        f"({order.amount_refunded} of {order.total} refunded); a refund above it is refused."
    )


class ApproveNotesForm(forms.Form):
    """The API's approve `{notes}` (the approve button approves without them)."""

    notes = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


def _approve(ret: Return, data: dict, by: Actor) -> str:
    ret = services.return_approve(return_=ret, by=by, notes=data["notes"])
    return f"Approved {ret}."


def _cancel(ret: Return, data: dict, by: Actor) -> str:
    ret = services.return_cancel(return_=ret, by=by, reason=data["reason"])
    return f"Cancelled {ret}: its units go back to {ret.order.display_number}."


RETURN_OPERATIONS = (
    Operation(
        "receive",
        "Receive…",
        ReceiveForm,
        _receive,
        transition="receive",
        help=_receive_help,
    ),
    Operation(
        "refund",
        "Refund…",
        ReturnRefundForm,
        _refund,
        transition="refund",
        permission="orders.refund_order",  # the refund is booked on the order, under its permission too
        help=_refund_help,
    ),
    Operation(
        "approve",
        "Approve with notes…",
        ApproveNotesForm,
        _approve,
        transition="approve",
        help="Approves the return and records the notes on it (the approve button approves without notes).",
    ),
    Operation(
        "cancel",
        "Cancel with a reason…",
        ReasonForm,
        _cancel,
        transition="cancel",
        help="Cancels the return and records why; its units go back to the order (they can be returned again).",
    ),
)


class ReturnViews(SavedViews):
    views = {
        "to_approve": ("To approve (requested)", {"status": "requested"}),
        "to_receive": ("To receive (approved)", {"status": "approved"}),
        "to_refund": ("To refund (received)", {"status": "received"}),
    }


@admin.register(Return)
class ReturnAdmin(StatefulAdmin):
    form = ReturnForm
    danger_transitions = ("reject", "cancel")  # confirmed in the browser before they post
    card_fields = (
        "order",
        "customer",
        "location",
        "amount",
        "total_refunded",
        "warehouse_received_date",
        "received_by",
    )
    card_fields += ("rejection_reason", "cancel_reason")
    section_titles = {**StatefulAdmin.section_titles, "lines": "Lines to receive"}

    def related_documents(self, ret):
        return [("Order", ret.order), ("Replacement order", ret.replacement_order)]

    list_display = ("rma", "status", "order", "customer", "location", "amount", "total_refunded", "created_at")
    list_filter = (ReturnViews, "status", "location", "created_at")
    list_select_related = ("order", "customer", "location")
    search_fields = ("rma", "tracking_number", "customer_email", "customer__email", "order__order_number")
    autocomplete_fields = ("order", "location")
    date_hierarchy = "created_at"
    inlines = [ReturnLineInline, StateLogInline]
    actions = ["refund_returns"]
    operations = RETURN_OPERATIONS

    service_param = "return_"
    create_service = services.return_create
    create_lines_param = "return_line_items"
    update_service = services.return_update
    service_fields = (*DESCRIPTIVE, "location", "restocking_fee")
    delete_service = services.return_delete
    deletable_statuses = RETURN_DELETABLE
    line_model = ReturnLineItem
    line_param = "return_line_item"
    line_parent_param = "parent_return"
    line_fields = ("order_line_item", "quantity", "condition", "restock", "reason")
    line_fixed = ("order_line_item",)
    button_services = {
        "approve": services.return_approve,
        "reject": services.return_reject,
        "cancel": services.return_cancel,
        "close": services.return_close,
        "reopen": services.return_reopen,
    }
    line_services = {
        "create": services.return_line_item_create,
        "update": services.return_line_item_update,
        "delete": services.return_line_item_delete,
    }

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ("order", "location", "restocking_fee")}), ("Report", {"fields": DESCRIPTIVE})]
        return [
            (None, {"fields": (*RETURN_RECORD[:4], "location", "restocking_fee", *RETURN_RECORD[4:])}),
            ("Report", {"fields": DESCRIPTIVE}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("status",)
        fields = list(RETURN_RECORD)
        if obj.status not in RETURN_LOCATION_EDITABLE:
            fields.append("location")
        if obj.status not in RETURN_FEE_EDITABLE:
            fields.append("restocking_fee")
        return tuple(fields)

    def create_kwargs(self, form):
        data = form.cleaned_data
        return {
            **{n: data[n] for n in DESCRIPTIVE if n in data},
            "order": data["order"],
            "location": data.get("location"),
            "restocking_fee": data.get("restocking_fee") or 0,
            "reason": "in the admin",
        }

    @admin.action(description="Refund the selected returns (the default amount)", permissions=["change"])
    def refund_returns(self, request, queryset):
        run_service_action(self, request, queryset, services.return_refund, param="return_", verb="Refunded")


# ---- warranties ----------------------------------------------------------------------------------------------


class WarrantyLineInline(LineInline):
    model = WarrantyLineItem
    editable_statuses = WARRANTY_LINES_EDITABLE
    fields = ("sku", "name", "quantity", "serial_number", "condition", "price", "amount")


WARRANTY_DESCRIPTIVE = (
    "customer_email",
    "entered_by",
    "warranty_name",
    "warranty_type",
    "expiration_date",
    "description",
    "issue",
    "reason_category",
    "reported_condition",
    "condition",
    "serial_number",
    "advanced_replacement",
    "tracking_number",
    "zendesk_number",
    "rma",
)
WARRANTY_RECORD = (
    "warranty_number",
    "status",
    "order",
    "customer",
    "replacement_order",
    "replacement_order_created",
    "approved_at",
    "completed_at",
    "approval_notes",
    "denial_reason",
    "cancel_reason",
    "created_at",
    "updated_at",
)


# ---- a claim's operations (the API's approve and cancel with their input) ------------------------------------


class WarrantyApproveForm(forms.Form):
    """The API's approve `{create_replacement?, notes?}`: with or without a replacement order, whatever the
    claim asked."""

    create_replacement = forms.ChoiceField(label="Replacement order", required=False)
    notes = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, obj: Warranty, **kwargs):
        super().__init__(*args, **kwargs)
        asked = "asks for one" if obj.advanced_replacement else "does not ask for one"
        self.fields["create_replacement"].choices = [
            ("", f"As the claim asks (it {asked})"),
            ("yes", "Create a replacement order"),
            ("no", "No replacement order"),
        ]

    def clean_create_replacement(self) -> bool | None:
        return {"": None, "yes": True, "no": False}[self.cleaned_data["create_replacement"]]


def _approve_claim(claim: Warranty, data: dict, by: Actor) -> str:
    claim = services.warranty_approve(
        warranty=claim, by=by, create_replacement=data["create_replacement"], notes=data["notes"]
    )
    made = f" Created the replacement order {claim.replacement_order}." if claim.replacement_order_created else ""
    return f"Approved {claim}.{made}"


def _cancel_claim(claim: Warranty, data: dict, by: Actor) -> str:
    claim = services.warranty_cancel(warranty=claim, by=by, reason=data["reason"])
    replacement = claim.replacement_order
    return f"Cancelled {claim}." + (f" Its replacement order {replacement} is cancelled." if replacement else "")


WARRANTY_OPERATIONS = (
    Operation(
        "approve",
        "Approve…",
        WarrantyApproveForm,
        _approve_claim,
        transition="approve",
        help="Approves the claim. A replacement order is a zero-price order for the claim's lines, allocated at "
        "the original order's location now: refused (and nothing approved) without the stock.",
    ),
    Operation(
        "cancel",
        "Cancel with a reason…",
        ReasonForm,
        _cancel_claim,
        transition="cancel",
        help="Cancels the claim and records why. A replacement order not yet shipped is cancelled too (that needs "
        "orders.cancel_order); one that has shipped makes this refused: complete the claim instead.",
    ),
)


@admin.register(Warranty)
class WarrantyAdmin(StatefulAdmin):
    list_display = (
        "warranty_number",
        "status",
        "order",
        "customer_label",
        "serial_number",
        "replacement_order",
        "created_at",
    )  # fits 1366 px; advanced replacement is a filter
    list_filter = ("status", "advanced_replacement", "replacement_order_created", "created_at")
    list_select_related = ("order", "customer", "replacement_order")
    search_fields = ("warranty_number", "serial_number", "customer_email", "customer__email", "order__order_number")
    autocomplete_fields = ("order", "customer")
    date_hierarchy = "created_at"
    inlines = [WarrantyLineInline, StateLogInline]
    actions = ["approve_claims", "approve_with_replacement", "cancel_claims"]
    operations = WARRANTY_OPERATIONS

    service_param = "warranty"
    create_service = services.warranty_create
    create_lines_param = "warranty_line_items"
    update_service = services.warranty_update
    service_fields = WARRANTY_DESCRIPTIVE
    delete_service = services.warranty_delete
    deletable_statuses = WARRANTY_DELETABLE
    line_model = WarrantyLineItem
    line_param = "warranty_line_item"
    line_parent_param = "warranty"
    line_fields = ("sku", "name", "quantity", "serial_number", "condition", "price", "amount")
    button_services = {
        "deny": services.warranty_deny,
        "complete": services.warranty_complete,
        "reopen": services.warranty_reopen,
    }
    line_services = {
        "create": services.warranty_line_item_create,
        "update": services.warranty_line_item_update,
        "delete": services.warranty_line_item_delete,
    }

    @admin.display(description="Customer", ordering="customer__last_name")
    def customer_label(self, warranty) -> str:
        return workspace.person(warranty.customer, warranty.customer_email)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ("order", "customer")}), ("Claim", {"fields": WARRANTY_DESCRIPTIVE})]
        return [(None, {"fields": WARRANTY_RECORD}), ("Claim", {"fields": WARRANTY_DESCRIPTIVE})]

    def get_readonly_fields(self, request, obj=None):
        return ("status",) if obj is None else WARRANTY_RECORD

    def create_kwargs(self, form):
        data = form.cleaned_data
        return {**super().create_kwargs(form), "order": data.get("order"), "customer": data.get("customer")}

    @admin.action(description="Approve the selected claims (a replacement where they ask one)", permissions=["change"])
    def approve_claims(self, request, queryset):
        run_service_action(self, request, queryset, services.warranty_approve, param="warranty", verb="Approved")

    @admin.action(description="Approve the selected claims with a replacement order", permissions=["change"])
    def approve_with_replacement(self, request, queryset):
        run_service_action(
            self,
            request,
            queryset,
            services.warranty_approve,
            param="warranty",
            verb="Approved with a replacement",
            create_replacement=True,
        )

    @admin.action(description="Cancel the selected claims (and replacements not shipped)", permissions=["change"])
    def cancel_claims(self, request, queryset):
        run_service_action(
            self,
            request,
            queryset,
            services.warranty_cancel,
            param="warranty",
            verb="Cancelled",
            reason="in the admin",
        )
