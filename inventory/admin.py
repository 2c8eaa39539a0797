"""The inventory back office. Staff obey the API's rules: every save, delete, transition and stock change goes
through the same services (inventory.services, .purchasing, .counting) with `Actor.admin(request)`.

- items: levels inline (read-only), a low-stock filter, search; counts shown, never edited;
- the ledger (StockMovement) and allocations: read-only for everyone, superusers included;
- purchase orders, packing lists, cycle counts: status read-only, history inline, lines inline while the
  document may still change them, buttons for the transitions with no stock effect (a purchase order's
  reject and finance ask their input in a small form), admin actions for the ones that move stock (send,
  receive, complete, cancel, arrive, start, reconcile, ...).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import F
from django_fsm_log.admin import StateLogInline

from inventory import counting, purchasing, selectors, services
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
from inventory.states import CycleCountStatus, PackingListStatus, PurchaseOrderStatus
from stateset.actors import Actor
from stateset.admin import ImportExportAdminMixin, StatefulAdmin, ThroughServicesAdmin, run_service_action


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
class LocationAdmin(ThroughServicesAdmin):
    list_display = ("code", "name", "kind", "active", "created_at")
    list_filter = ("kind", "active")
    search_fields = ("code", "name")
    create_service = services.location_create
    update_service = services.location_update
    delete_service = services.location_delete
    service_param = "location"
    service_fields = ("code", "name", "kind", "active")

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()


class LevelInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = StockLevel
    fields = ("location", "on_hand", "allocated", "available", "incoming", "updated_at")
    readonly_fields = fields
    extra = 0
    verbose_name_plural = "Stock levels (change them with stock actions and documents)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("location")


class LowStockFilter(admin.SimpleListFilter):
    title = "stock"
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
class InventoryItemAdmin(ImportExportAdminMixin, ThroughServicesAdmin):
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

    def get_queryset(self, request):
        return selectors.item_list()

    @admin.display(description="Warehouse (on hand)", ordering="warehouse_total")
    def warehouse(self, obj):
        return obj.warehouse_total

    @admin.display(ordering="available_total")
    def available(self, obj):
        return obj.available_total

    @admin.display(ordering="allocated_total")
    def allocated(self, obj):
        return obj.allocated_total

    @admin.display(ordering="incoming_total")
    def incoming(self, obj):
        return obj.incoming_total


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


class DocumentAdmin(ThroughServicesAdmin, StatefulAdmin):
    """A stateful document with lines. `line_model` rows are written through `save_lines` (the service's
    rules decide, e.g. lines only while draft), never by the inline formset itself."""

    line_model = None
    number_field = ""

    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj), "created_at", "updated_at"]
        if obj is not None:
            fields.append(self.number_field)  # chosen once: given at creation, or generated
        return tuple(dict.fromkeys(fields))

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            if formset.model is self.line_model and formset.has_changed():
                self.save_lines(request, form.instance, formset)
            # Nothing is saved by the formsets themselves (the history inline is read-only); the admin's
            # change message reads what they would have saved.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def kept_forms(self, formset) -> list:
        return [
            f
            for f in formset.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and (f.instance.pk or f.has_changed())
        ]

    def save_lines(self, request, document, formset) -> None:
        raise NotImplementedError


class LineInline(admin.TabularInline):
    """Lines editable only while `editable_status` says so; otherwise shown read-only."""

    extra = 0
    editable_status: tuple[str, ...] = ()

    def editable(self, obj) -> bool:
        return obj is None or obj.status in self.editable_status

    def has_add_permission(self, request, obj=None):
        return self.editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self.editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.editable(obj) and super().has_delete_permission(request, obj)


class PurchaseOrderLineInline(LineInline):
    model = PurchaseOrderLineItem
    fields = ("item", "description", "quantity_ordered", "unit_cost", "quantity_received")
    readonly_fields = ("quantity_received",)
    autocomplete_fields = ("item",)
    editable_status = (PurchaseOrderStatus.DRAFT,)


class FinanceForm(forms.Form):
    """The finance button asks who finances the order (the API requires `financer` too)."""

    financer = forms.CharField(label="Financer", max_length=255)


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(DocumentAdmin):
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
    readonly_fields = ("subtotal", "total", "financer", "financed", "rejection_reason", "cancel_reason")
    actions = ["send_orders", "receive_outstanding", "complete_orders", "cancel_orders"]
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
            for f in self.kept_forms(formset)
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
    editable_status = (PackingListStatus.DRAFT,)


@admin.register(PackingList)
class PackingListAdmin(DocumentAdmin):
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
    readonly_fields = ("incoming_added",)
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
            for f in self.kept_forms(formset)
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


class CycleCountLineInline(LineInline):
    """Parts and locations while the count is open; counts while it is in progress; read-only after."""

    model = CycleCountLineItem
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
    editable_status = (CycleCountStatus.OPEN, CycleCountStatus.IN_PROGRESS)

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
class CycleCountAdmin(DocumentAdmin):
    list_display = ("cycle_count_number", "status", "location", "assigned_user", "accuracy_rate", "completed_date")
    list_filter = ("status", "location", "created_at")
    search_fields = ("cycle_count_number", "assigned_user", "site", "lines__item__sku")
    list_select_related = ("location",)
    autocomplete_fields = ("location",)
    date_hierarchy = "created_at"
    inlines = [CycleCountLineInline, StateLogInline]
    readonly_fields = ("completed_date", "accuracy_rate")
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
        kept = self.kept_forms(formset)
        if document.status == CycleCountStatus.IN_PROGRESS:
            counts = [
                {
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
