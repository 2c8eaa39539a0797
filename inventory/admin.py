"""The inventory back office. Staff obey the API's rules: every save, delete, transition and stock change goes
through the same services (inventory.services, .purchasing, .counting) with `Actor.admin(request)`.

- items: levels inline (read-only), a low-stock filter, search; counts shown, never edited; stock changes by
  hand through the forms "Adjust stock…" and "Transfer…" on the item's page (the API's adjust and transfer);
- the ledger (StockMovement) and allocations: read-only for everyone, superusers included;
- purchase orders, packing lists, cycle counts: status read-only, history inline, lines inline while the
  document may still change them, buttons for the transitions with no stock effect (a purchase order's
  reject and finance ask their input in a small form), admin actions for the ones that move stock (send,
  receive, complete, cancel, arrive, start, reconcile, ...); a purchase order's partial receipt is the form
  "Receive…" on its page, and a cycle count's line that cannot be counted is skipped (with its explanation)
  on the count's lines, both through the same services as the API.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import F
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django_fsm_log.admin import StateLogInline

from inventory import selectors, services
from inventory.models import (
    Allocation,
    CycleCount,
    CycleCountLineItem,
    InventoryItem,
    Location,
    PackingList,
    PackingListItem,
    PurchaseOrder,
    PurchaseOrderLineItem,
    StockLevel,
    StockMovement,
)
from inventory.resources import InventoryItemResource
from inventory.services import counting, purchasing
from inventory.states import (
    DEFAULT_LOCATION_CODE,
    CountLineStatus,
    CycleCountStatus,
    PackingListStatus,
    PurchaseOrderStatus,
)
from stateset.actors import Actor
from stateset.admin import (
    ImportExportAdminMixin,
    LineInline,
    Operation,
    Paper,
    ServiceAdmin,
    StatefulAdmin,
    run_service_action,
)
from stateset.limits import MAX_QUANTITY


class ReadOnlyAdminMixin:
    """Nobody adds, edits or deletes these rows here: only the services write them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# ---- locations, items, the ledger --------------------------------------------------------------------------


@admin.register(Location)
class LocationAdmin(ServiceAdmin):
    list_display = ("code", "name", "kind", "active", "created_at")
    list_filter = ("kind", "active")
    search_fields = ("code", "name")
    create_service = services.location_create
    update_service = services.location_update
    delete_service = services.location_delete
    service_param = "location"
    service_fields = ("code", "name", "kind", "active")
    number_field = "code"


class LevelInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = StockLevel
    fields = ("location", "on_hand", "allocated", "available", "incoming", "updated_at")
    readonly_fields = fields
    extra = 0
    verbose_name_plural = "Stock levels (change them with stock actions and documents)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("location")


def _location_field(**kwargs) -> forms.ModelChoiceField:
    """A location, by code: every location, as the API accepts any (inactive ones included)."""
    return forms.ModelChoiceField(queryset=Location.objects.order_by("code"), to_field_name="code", **kwargs)


class AdjustForm(forms.Form):
    """`stock_adjust`, like `POST /v1/inventory_items/{id}/adjust` (AdjustInput)."""

    location = _location_field(
        required=False, initial=DEFAULT_LOCATION_CODE, empty_label=None, help_text="Default MAIN."
    )
    quantity = forms.IntegerField(
        min_value=-MAX_QUANTITY,
        max_value=MAX_QUANTITY,
        help_text="Signed change of on hand (5 adds, -2 removes); not 0.",
    )
    reason = forms.CharField(
        max_length=200, required=False, help_text='Free text kept on the movement, e.g. "found" or "damaged".'
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class TransferForm(forms.Form):
    """`stock_transfer`, like `POST /v1/inventory_items/{id}/transfer` (TransferInput)."""

    from_location = _location_field(initial=DEFAULT_LOCATION_CODE)
    to_location = _location_field()
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, help_text="Taken from what is available.")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


def _levels_now(item: InventoryItem) -> str:
    levels = item.levels.select_related("location").order_by("location__code")
    listed = [
        f"{lvl.location.code}: {lvl.on_hand} on hand, {lvl.allocated} allocated ({lvl.available} available)"
        for lvl in levels
        if lvl.on_hand or lvl.allocated or lvl.incoming
    ]
    return "; ".join(listed) if listed else "no stock anywhere"


def _adjust(item: InventoryItem, data: dict, by: Actor) -> str:
    location = data["location"] or services.default_location()
    movement = services.stock_adjust(
        inventory_item=item,
        by=by,
        quantity=data["quantity"],
        location=location,
        reason=data["reason"],
        note=data["note"],
    )
    return f"Adjusted {item.sku} at {location.code} by {movement.quantity:+d}: {movement.on_hand_after} on hand."


def _transfer(item: InventoryItem, data: dict, by: Actor) -> str:
    source, target = data["from_location"], data["to_location"]
    services.stock_transfer(
        inventory_item=item,
        by=by,
        from_location=source,
        to_location=target,
        quantity=data["quantity"],
        note=data["note"],
    )
    return f"Transferred {data['quantity']} × {item.sku} from {source.code} to {target.code}."


ITEM_OPERATIONS = (
    Operation(
        "adjust",
        "Adjust stock…",
        AdjustForm,
        _adjust,
        permission="inventory.adjust_inventoryitem",
        help=lambda item: (
            f"Changes {item.sku}'s on hand at one location by a signed quantity: one ledger adjustment movement. "
            f"A result below zero or below what is allocated is refused and nothing moves. Now: {_levels_now(item)}."
        ),
    ),
    Operation(
        "transfer",
        "Transfer…",
        TransferForm,
        _transfer,
        permission="inventory.transfer_inventoryitem",
        help=lambda item: (
            f"Moves available {item.sku} from one location to another: two ledger transfer movements, or nothing "
            f"when the source has too little available. Now: {_levels_now(item)}."
        ),
    ),
)


class LowStockFilter(admin.SimpleListFilter):
    title = "view: stock"
    parameter_name = "low_stock"

    def lookups(self, request, model_admin):
        return [("yes", "Low (available at or below the reorder point)"), ("no", "Above the reorder point")]

    def queryset(self, request, queryset):
        low = {"available_total__lte": F("reorder_point")}
        if self.value() == "yes":
            return queryset.filter(**low)
        if self.value() == "no":
            return queryset.exclude(**low)
        return queryset


@admin.register(InventoryItem)
class InventoryItemAdmin(ImportExportAdminMixin, ServiceAdmin):
    list_display = ("sku", "description", "warehouse", "available", "allocated", "incoming", "reorder_point", "active")
    list_filter = (LowStockFilter, "active", "created_at")
    search_fields = ("sku", "upc", "description")
    readonly_fields = ("created_at", "updated_at")
    inlines = [LevelInline]
    resource_classes = [InventoryItemResource]
    create_service = services.item_create
    update_service = services.item_update
    delete_service = services.item_delete
    service_param = "inventory_item"
    service_fields = tuple(sorted(services.ITEM_FIELDS))
    operations = ITEM_OPERATIONS

    def get_queryset(self, request):
        return selectors.item_list()

    def delete_refusal(self, item) -> str:
        """The service's rule (item_delete), named: an item that moved or is allocated stays."""
        uses = [
            (item.movements.count(), "stock movement", "stock movements"),
            (Allocation.objects.filter(level__item=item).count(), "allocation", "allocations"),
        ]
        in_use = [f"{n} {one if n == 1 else many}" for n, one, many in uses if n]
        if not in_use:
            return ""
        return f"{item.sku} cannot be deleted: it is in use by {' and '.join(in_use)}. Untick Active to retire it."

    @admin.display(description="Warehouse (on hand)", ordering="warehouse_total")
    def warehouse(self, obj):
        return obj.warehouse_total

    @admin.display(ordering="available_total")
    def available(self, obj):
        if obj.active and obj.available_total <= obj.reorder_point:  # low: highlighted
            return format_html(
                '<strong class="low-stock" style="color:#b91c1c" title="At or below the reorder point ({})">'
                "{} low</strong>",
                obj.reorder_point,
                obj.available_total,
            )
        return obj.available_total

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "recent_movements") if obj is not None else fields

    @admin.display(description="Recent movements")
    def recent_movements(self, item) -> str:
        """The item's last 15 ledger rows, newest first: when, where, how many, why, by whom."""
        rows = item.movements.select_related("location").order_by("-created_at", "-pk")[:15]
        if not rows:
            return "None yet."
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td class='num'>{}</td><td class='num'>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    formats.date_format(timezone.localtime(m.created_at), "j M Y, H:i"),
                    m.location.code,
                    f"{m.quantity:+d}",
                    m.on_hand_after,
                    m.get_reason_display() + (f": {m.reason_text}" if m.reason_text else ""),
                    m.source_number or m.actor,
                )
                for m in rows
            ),
        )
        return format_html(
            '<table class="recent-movements"><thead><tr><th>When</th><th>Where</th><th>Quantity</th>'
            "<th>On hand after</th><th>Why</th><th>Source</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(ordering="allocated_total")
    def allocated(self, obj):
        return obj.allocated_total

    @admin.display(ordering="incoming_total")
    def incoming(self, obj):
        return obj.incoming_total


class LowStockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return (("low", "At or below the reorder point"), ("out", "Nothing available"))

    def queryset(self, request, queryset):
        available = F("on_hand") - F("allocated")
        if self.value() == "low":
            return (
                queryset.filter(item__reorder_point__gt=0)
                .alias(left=available)
                .filter(left__lte=F("item__reorder_point"))
            )
        if self.value() == "out":
            return queryset.alias(left=available).filter(left__lte=0)
        return queryset


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Stock by location (issue #19): every item's level at every location, to look at; stock changes through
    the item's stock actions and the documents, never here."""

    list_display = ("item", "location", "on_hand", "allocated", "available_units", "incoming", "reorder_point")
    list_filter = ("location", LowStockFilter)
    search_fields = ("item__sku", "item__description")
    list_select_related = ("item", "location")
    ordering = ("location__code", "item__sku")

    @admin.display(description="Available")
    def available_units(self, obj):
        return obj.available

    @admin.display(description="Reorder point")
    def reorder_point(self, obj):
        return obj.item.reorder_point


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The append-only ledger: to look at, never to change (the database refuses it too)."""

    list_display = ("created_at", "item", "location", "quantity", "on_hand_after", "reason", "source", "actor")
    list_filter = ("reason", "location", "source_type")
    search_fields = ("item__sku", "source_number", "reason_text", "note", "actor")
    list_select_related = ("item", "location")
    date_hierarchy = "created_at"

    @admin.display(description="Source")
    def source(self, obj):
        return obj.source_number or (f"{obj.source_type} {obj.source_id}" if obj.source_id else obj.source_type)


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("level", "document_type", "document_id", "line_id", "quantity", "status", "created_at")
    list_filter = ("status", "document_type")
    search_fields = ("level__item__sku", "document_type")
    list_select_related = ("level__item", "level__location")

    @admin.display(description="Level")
    def level(self, obj):
        return f"{obj.level.item.sku}@{obj.level.location.code}"


# ---- documents ---------------------------------------------------------------------------------------------


class PurchaseOrderLineInline(LineInline):
    model = PurchaseOrderLineItem
    fields = ("item", "description", "quantity_ordered", "unit_cost", "quantity_received")
    readonly_fields = ("quantity_received",)
    autocomplete_fields = ("item",)
    editable_statuses = (PurchaseOrderStatus.DRAFT,)


class FinanceForm(forms.Form):
    """The finance button asks who finances the order (the API requires `financer` too)."""

    financer = forms.CharField(label="Financer", max_length=255)


class ReceiveForm(forms.Form):
    """`purchase_order_receive` with `lines`, like `POST /v1/purchase_orders/{id}/receive` (ReceiveInput): a
    quantity per outstanding line (blank or 0: nothing of it), and where the goods go on hand."""

    location = _location_field(required=False, help_text="Where the goods go on hand.")
    reason = forms.CharField(
        label="Note", max_length=500, required=False, help_text="Kept on the order's history with the receipt."
    )

    def __init__(self, *args, obj: PurchaseOrder, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].empty_label = f"The order's location ({obj.location.code})"
        posted = self.data or {}
        names = []
        for line in obj.lines.select_related("item").order_by("pk"):
            name = f"line_{line.pk}"
            # A line received in full since the form was shown keeps its posted quantity: the service refuses
            # it (over-receipt) rather than the form dropping it.
            if line.outstanding or name in posted:
                self.fields[name] = forms.IntegerField(
                    label=line.item.sku,
                    min_value=0,
                    max_value=MAX_QUANTITY,
                    required=False,
                    help_text=f"ordered {line.quantity_ordered}, received {line.quantity_received}, "
                    f"outstanding {line.outstanding}",
                )
                names.append(name)
        self.order_fields([*names, "location", "reason"])


def _receipt_lines(data: dict) -> list[dict]:
    """`[{line_id, quantity}]` for the lines given a quantity above 0 (never None: that would receive all)."""
    return [
        {"line_id": int(name.removeprefix("line_")), "quantity": quantity}
        for name, quantity in data.items()
        if name.startswith("line_") and quantity
    ]


def _receive(po: PurchaseOrder, data: dict, by: Actor) -> str:
    lines = _receipt_lines(data)
    po = purchasing.purchase_order_receive(
        purchase_order=po, by=by, lines=lines, location=data["location"], reason=data["reason"]
    )
    skus = dict(po.lines.values_list("pk", "item__sku"))
    received = ", ".join(f"{skus[line['line_id']]} × {line['quantity']}" for line in lines)
    where = data["location"] or po.location
    return f"Received {received} on {po.display_number} at {where.code}; it is now {po.get_status_display().lower()}."


PURCHASE_ORDER_OPERATIONS = (
    Operation(
        "receive",
        "Receive…",
        ReceiveForm,
        _receive,
        transition="receive",
        help=lambda po: (
            f"Books a receipt on {po.display_number}: each quantity leaves incoming and goes on hand (ledger "
            "receipt); the order becomes partially received, or received once nothing is outstanding. Leave a line "
            "blank or 0 to receive none of it. More than a line's outstanding quantity is refused and nothing moves."
        ),
    ),
)


def _purchase_order_paper(po: PurchaseOrder) -> dict:
    lines = [
        {
            "sku": line.item.sku,
            "description": line.description or line.item.description,
            "quantity": line.quantity_ordered,
            "unit_cost": line.unit_cost,
            "amount": line.unit_cost * line.quantity_ordered,
        }
        for line in po.lines.select_related("item").order_by("pk")
    ]
    return {"obj": po, "number": po.display_number, "lines": lines}


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(StatefulAdmin):
    papers = (
        Paper(
            "purchase_order", "Purchase order for the supplier", "paperwork/purchase_order.html", _purchase_order_paper
        ),
    )
    card_fields = ("vendor", "location", "purchase_date", "delivery_date", "total", "rejection_reason", "cancel_reason")

    def related_documents(self, po):
        return [("Packing list", p) for p in po.packing_lists.order_by("pk")]

    list_display = ("purchase_order_number", "vendor", "status", "location", "total", "financed", "created_at")
    list_filter = ("status", "financed", "location", "created_at")
    search_fields = ("purchase_order_number", "purchase_order_name", "vendor", "lines__item__sku")
    list_select_related = ("location",)
    autocomplete_fields = ("location",)
    date_hierarchy = "created_at"
    inlines = [PurchaseOrderLineInline, StateLogInline]
    fields = (
        "purchase_order_number",
        "purchase_order_name",
        "status",
        "vendor",
        "location",
        "description",
        "purchaser",
        "fulfiller",
        "purchase_date",
        "delivery_date",
        "external_id",
        "purchase_order_hash",
        "transaction_id",
        "subtotal",
        "total",
        "financer",
        "financed",
        "rejection_reason",
        "cancel_reason",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "subtotal",
        "total",
        "financer",
        "financed",
        "rejection_reason",
        "cancel_reason",
        "created_at",
        "updated_at",
    )
    actions = ["send_orders", "receive_outstanding", "complete_orders", "cancel_orders"]
    operations = PURCHASE_ORDER_OPERATIONS
    line_model = PurchaseOrderLineItem
    number_field = "purchase_order_number"
    create_service = purchasing.purchase_order_create
    update_service = purchasing.purchase_order_update
    delete_service = purchasing.purchase_order_delete
    service_param = "purchase_order"
    button_services = {
        "submit": purchasing.purchase_order_submit,
        "approve": purchasing.purchase_order_approve,
        "reject": purchasing.purchase_order_reject,  # its form asks the reason
        "finance": purchasing.purchase_order_finance,  # its form asks who finances; the status stays
    }
    service_fields = (*sorted(purchasing.PO_FIELDS), "purchase_order_number")

    def save_lines(self, request, document, formset):
        lines = [
            {
                "sku": f.cleaned_data["item"].sku,
                "description": f.cleaned_data.get("description") or "",
                "quantity_ordered": f.cleaned_data["quantity_ordered"],
                "unit_cost": f.cleaned_data.get("unit_cost"),
            }
            for f in formset.kept_forms()
        ]
        purchasing.purchase_order_update(purchase_order=document, lines=lines, by=Actor.admin(request))

    @admin.action(description="Send to the supplier (quantities become incoming)", permissions=["change"])
    def send_orders(self, request, queryset):
        run_service_action(self, request, queryset, purchasing.purchase_order_send, param="purchase_order", verb="Sent")

    @admin.action(description="Receive everything outstanding", permissions=["change"])
    def receive_outstanding(self, request, queryset):
        run_service_action(
            self, request, queryset, purchasing.purchase_order_receive, param="purchase_order", verb="Received"
        )

    @admin.action(description="Complete (close short: outstanding leaves incoming)", permissions=["change"])
    def complete_orders(self, request, queryset):
        run_service_action(
            self, request, queryset, purchasing.purchase_order_complete, param="purchase_order", verb="Completed"
        )

    @admin.action(description="Cancel", permissions=["change"])
    def cancel_orders(self, request, queryset):
        run_service_action(
            self, request, queryset, purchasing.purchase_order_cancel, param="purchase_order", verb="Cancelled"
        )


class PackingListItemInline(LineInline):
    model = PackingListItem
    fields = ("item", "description", "quantity", "arrived", "arrived_at")
    readonly_fields = ("arrived", "arrived_at")
    autocomplete_fields = ("item",)
    editable_statuses = (PackingListStatus.DRAFT,)


@admin.register(PackingList)
class PackingListAdmin(StatefulAdmin):
    list_display = ("number", "status", "purchase_order", "location", "tracking_number", "delivery_date", "created_at")
    list_filter = ("status", "location", "created_at")
    search_fields = ("number", "invoice_number", "tracking_number", "purchase_order__purchase_order_number")
    list_select_related = ("purchase_order", "location")
    autocomplete_fields = ("purchase_order", "location")
    date_hierarchy = "created_at"
    inlines = [PackingListItemInline, StateLogInline]
    fields = (
        "number",
        "status",
        "purchase_order",
        "location",
        "delivery_date",
        "arrival_date",
        "invoice_number",
        "ship_per",
        "tracking_number",
        "incoming_added",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("incoming_added", "created_at", "updated_at")
    actions = ["submit_lists", "receive_lists", "cancel_lists"]
    line_model = PackingListItem
    number_field = "number"
    create_service = purchasing.packing_list_create
    update_service = purchasing.packing_list_update
    delete_service = purchasing.packing_list_delete
    service_param = "packing_list"
    button_services = {"ship": purchasing.packing_list_ship}
    service_fields = (*sorted(purchasing.PL_FIELDS), "number", "purchase_order", "location")

    def save_lines(self, request, document, formset):
        items = [
            {
                "sku": f.cleaned_data["item"].sku,
                "description": f.cleaned_data.get("description") or "",
                "quantity": f.cleaned_data["quantity"],
            }
            for f in formset.kept_forms()
        ]
        purchasing.packing_list_update(packing_list=document, items=items, by=Actor.admin(request))

    @admin.action(
        description="Submit (items become incoming unless their purchase order counts them)", permissions=["change"]
    )
    def submit_lists(self, request, queryset):
        run_service_action(
            self, request, queryset, purchasing.packing_list_submit, param="packing_list", verb="Submitted"
        )

    @admin.action(description="Receive: every remaining item arrives", permissions=["change"])
    def receive_lists(self, request, queryset):
        run_service_action(
            self, request, queryset, purchasing.packing_list_receive, param="packing_list", verb="Received"
        )

    @admin.action(description="Cancel", permissions=["change"])
    def cancel_lists(self, request, queryset):
        run_service_action(
            self, request, queryset, purchasing.packing_list_cancel, param="packing_list", verb="Cancelled"
        )


@admin.register(PackingListItem)
class PackingListItemAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Items are edited on their packing list; here they arrive (the action), each exactly once."""

    list_display = ("packing_list", "item", "quantity", "arrived", "arrived_at")
    list_filter = ("arrived", "packing_list__status")
    search_fields = ("item__sku", "packing_list__number")
    list_select_related = ("packing_list", "item")
    actions = ["arrive_items"]

    @admin.action(description="Arrive (incoming → on hand, once)", permissions=["arrive"])
    def arrive_items(self, request, queryset):
        run_service_action(
            self, request, queryset, purchasing.packing_list_item_arrive, param="packing_list_item", verb="Arrived"
        )

    def has_arrive_permission(self, request) -> bool:
        # The rows are read-only here; arriving is the service's, with its own permission.
        return request.user.has_perm("inventory.receive_packinglist")


class CycleCountLineForm(forms.ModelForm):
    """A count line; while the count is in progress, `skip` marks a line that cannot be counted (the API's
    `{line_id, skip: true, explanation}`): the explanation is then required, by the count service."""

    skip = forms.BooleanField(
        required=False, help_text="Cannot be counted: say why in the explanation (a count entered is ignored)."
    )

    class Meta:
        model = CycleCountLineItem
        fields = ("item", "location", "bin", "lot", "quantity_counted", "explanation")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("skip", self.instance.status == CountLineStatus.SKIPPED)


class CycleCountLineInline(LineInline):
    """Parts and locations while the count is open; counts (or skips) while it is in progress; read-only after."""

    model = CycleCountLineItem
    form = CycleCountLineForm
    fields = (
        "item",
        "location",
        "bin",
        "lot",
        "quantity_expected",
        "quantity_counted",
        "variance_quantity",
        "variance_cost",
        "explanation",
        "status",
    )
    autocomplete_fields = ("item", "location")
    editable_statuses = (CycleCountStatus.OPEN, CycleCountStatus.IN_PROGRESS)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and obj.status == CycleCountStatus.IN_PROGRESS and self.has_change_permission(request, obj):
            at = fields.index("quantity_counted") + 1
            return (*fields[:at], "skip", *fields[at:])
        return fields

    def get_readonly_fields(self, request, obj=None):
        computed = ("quantity_expected", "variance_quantity", "variance_cost", "status")
        if obj is not None and obj.status == CycleCountStatus.IN_PROGRESS:
            return (*computed, "item", "location", "bin", "lot")
        return (*computed, "quantity_counted") if obj is None or obj.status == CycleCountStatus.OPEN else self.fields

    def has_add_permission(self, request, obj=None):
        return (obj is None or obj.status == CycleCountStatus.OPEN) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return (obj is None or obj.status == CycleCountStatus.OPEN) and super().has_delete_permission(request, obj)


@admin.register(CycleCount)
class CycleCountAdmin(StatefulAdmin):
    list_display = ("cycle_count_number", "status", "location", "assigned_user", "accuracy_rate", "completed_date")
    list_filter = ("status", "location", "created_at")
    search_fields = ("cycle_count_number", "assigned_user", "site", "lines__item__sku")
    list_select_related = ("location",)
    autocomplete_fields = ("location",)
    date_hierarchy = "created_at"
    inlines = [CycleCountLineInline, StateLogInline]
    readonly_fields = ("completed_date", "accuracy_rate", "created_at", "updated_at")
    actions = ["start_counts", "complete_counts", "reconcile_counts"]
    line_model = CycleCountLineItem
    number_field = "cycle_count_number"
    create_service = counting.cycle_count_create
    update_service = counting.cycle_count_update
    delete_service = counting.cycle_count_delete
    service_param = "cycle_count"
    button_services = {"cancel": counting.cycle_count_cancel}
    service_fields = (*sorted(counting.CC_FIELDS), "cycle_count_number", "location")

    def save_lines(self, request, document, formset):
        by = Actor.admin(request)
        kept = formset.kept_forms()
        if document.status == CycleCountStatus.IN_PROGRESS:
            counts = [
                {"line_id": f.instance.pk, "skip": True, "explanation": f.cleaned_data.get("explanation") or ""}
                if f.cleaned_data.get("skip")
                else {
                    "line_id": f.instance.pk,
                    "quantity_counted": f.cleaned_data.get("quantity_counted"),
                    "explanation": f.cleaned_data.get("explanation") or "",
                }
                for f in kept
                if f.has_changed()
            ]
            if counts:
                counting.cycle_count_count(cycle_count=document, lines=counts, by=by)
            return
        lines = [
            {
                "part": f.cleaned_data["item"].sku,
                "location": f.cleaned_data.get("location"),
                "bin": f.cleaned_data.get("bin") or "",
                "lot": f.cleaned_data.get("lot") or "",
                "explanation": f.cleaned_data.get("explanation") or "",
            }
            for f in kept
        ]
        counting.cycle_count_update(cycle_count=document, lines=lines, by=by)

    @admin.action(description="Start (snapshot the expected quantities)", permissions=["change"])
    def start_counts(self, request, queryset):
        run_service_action(self, request, queryset, counting.cycle_count_start, param="cycle_count", verb="Started")

    @admin.action(description="Complete (compute the variances)", permissions=["change"])
    def complete_counts(self, request, queryset):
        run_service_action(
            self, request, queryset, counting.cycle_count_complete, param="cycle_count", verb="Completed"
        )

    @admin.action(description="Reconcile (post the variances to stock, once)", permissions=["change"])
    def reconcile_counts(self, request, queryset):
        run_service_action(
            self, request, queryset, counting.cycle_count_reconcile, param="cycle_count", verb="Reconciled"
        )
