"""The manufacturing back office. Every save, delete, button, action and operation goes through
manufacturing.services, so staff obey the rules the API obeys (draft-only lines, cycles, one active BOM, stock
all or nothing, the named permissions) and see the same messages.

- Buttons: the transitions the models mark for the admin (no stock effect). Those whose API input matters
  ask for it in a small form first (`fsm_forms`): a BOM's activate (`supersede`, `reason`) and the hold of
  a work order or a manufacture order (`reason`, kept on the history row); resume, obsolete and revise run
  at once.
- Operations (a form on the document's page, stateset.admin.Operation) for the stock-moving actions whose
  input matters: a work order's complete (`quantity_completed`, `quantity_scrapped`, partial counts add up)
  and cancel (`reason`), and a manufacture order's cancel (`reason`).
- Admin actions over the selected rows: release, start, complete the remainder, cancel, build to stock,
  submit; each shows the service's message for every row it refuses.

The BOM page shows its explosion as an indented table."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django_fsm_log.admin import StateLogInline

from inventory.models import Location
from manufacturing import selectors, services
from manufacturing.models import (
    BillOfMaterials,
    BillOfMaterialsLineItem,
    ManufactureOrder,
    ManufactureOrderLineItem,
    WorkOrder,
    WorkOrderLineItem,
)
from manufacturing.states import BomStatus, ManufactureOrderStatus, WorkOrderStatus
from stateset.actors import Actor
from stateset.admin import (
    LineFormSet,
    LineInline,
    Operation,
    OptionalReasonForm,
    StatefulAdmin,
    run_service_action,
)
from stateset.errors import DomainError
from stateset.limits import MAX_QUANTITY

# ---- bills of materials ------------------------------------------------------------------------------------


class BomLineFormSet(LineFormSet):
    def check_line(self, form):
        item = form.cleaned_data.get("item")
        if item is not None:
            services.bom_line_check(bill_of_materials=self.instance, item=item)


class BomLineInline(LineInline):
    """Editable while the BOM is a draft; read-only after (revise it instead)."""

    model = BillOfMaterialsLineItem
    formset = BomLineFormSet
    editable_statuses = (BomStatus.DRAFT,)
    fields = ("item", "part_name", "line_type", "purchase_supply_type", "quantity", "status")
    autocomplete_fields = ("item",)


class BuildToStockForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, initial=1)
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(active=True), required=False, help_text="MAIN when empty."
    )


class ActivateForm(OptionalReasonForm):
    """The activate button's form: the API's `supersede` and `reason`."""

    supersede = forms.BooleanField(
        label="Supersede the active revision",
        required=False,
        help_text="Obsolete the part's active bill of materials, if it has one, in the same step (the API's "
        "supersede). Without it, activating while another revision of the part is active is refused.",
    )
    field_order = ["supersede", "reason"]


@admin.register(BillOfMaterials)
class BillOfMaterialsAdmin(StatefulAdmin):
    list_display = ("number", "name", "part", "revision", "status", "valid", "created_at")
    list_filter = ("status", "valid", "created_at")
    search_fields = ("number", "name", "description", "part__sku")
    list_select_related = ("part",)
    autocomplete_fields = ("part",)
    date_hierarchy = "created_at"
    inlines = [BomLineInline, StateLogInline]
    actions = ["build_to_stock"]
    fsm_forms = {"activate": ActivateForm}
    fsm_help = {
        "activate": "Makes this draft the bill of materials production uses for its part. It needs a part, a line "
        "that is not Inactive, and no cycle through the components' active BOMs. Tick Supersede to obsolete the "
        "part's active revision in the same step.",
    }

    service_param = "bill_of_materials"
    create_service = services.bom_create
    update_service = services.bom_update
    delete_service = services.bom_delete
    service_fields = services.BOM_FIELDS
    number_field = "number"
    line_model = BillOfMaterialsLineItem
    line_fields = services.BOM_LINE_FIELDS
    line_services = {
        "create": services.bom_line_create,
        "update": services.bom_line_update,
        "delete": services.bom_line_delete,
    }
    line_param = "bill_of_materials_line_item"
    line_parent_param = "bill_of_materials_number"
    button_services = {
        "activate": services.bom_activate,
        "obsolete": services.bom_obsolete,
        "revise": services.bom_revise,
    }

    def get_fields(self, request, obj=None):
        fields = ["number", "name", "description", "groups", "valid", "part"]
        if obj is not None:
            fields += ["revision", "revised_from", "status", "explosion", "created_at", "updated_at"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["revision", "revised_from", "explosion", "created_at", "updated_at"]
            if obj.status != BomStatus.DRAFT:
                fields.append("part")
        return tuple(dict.fromkeys(fields))

    def create_kwargs(self, form):
        part = form.cleaned_data.get("part")
        return {
            **super().create_kwargs(form),
            "number": form.cleaned_data.get("number") or None,
            "part": part.sku if part else None,
        }

    def update_kwargs(self, form):
        data = super().update_kwargs(form)
        if "part" in form.changed_data and form.cleaned_data.get("part"):
            data["part"] = form.cleaned_data["part"].sku
        return data

    def line_kwargs(self, line_form, names):
        values = super().line_kwargs(line_form, names)
        if "item" in names:
            values["part_number"] = line_form.cleaned_data["item"].sku
        return values

    @admin.display(description="Requirements for one unit (multi-level)")
    def explosion(self, obj):
        """The BOM tree: each line indented by level, sub-assemblies exploded through their active BOMs,
        with the quantity for one unit, the stock available over all locations and the shortage."""
        if obj is None or obj.pk is None:
            return "-"
        try:
            explosion = selectors.bom_explode(bill_of_materials=obj, quantity=1)
        except DomainError as exc:
            return str(exc)
        if not explosion["tree"]:
            return "No lines yet."
        rows = format_html_join(
            "",
            '<tr><td style="padding-left:{}em">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td></tr>",
            (
                (
                    (row["level"] - 1) * 1.5,
                    row["part_number"],
                    row["part_name"],
                    row["quantity_per"],
                    row["quantity"],
                    row["bill_of_materials_number"] or "",
                    row["available"],
                    "" if row["shortage"] is None else row["shortage"],
                )
                for row in explosion["tree"]
            ),
        )
        header = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            "Part",
            "Name",
            "Per parent",
            "Total",
            "Own BOM",
            "Available",
            "Shortage",
        )
        return format_html('<table class="bom-explosion"><thead>{}</thead><tbody>{}</tbody></table>', header, rows)

    def has_buildtostock_permission(self, request) -> bool:
        return request.user.has_perm("manufacturing.buildtostock_billofmaterials")

    @admin.action(description="Build to stock…", permissions=["buildtostock"])
    def build_to_stock(self, request, queryset):
        """A small form (quantity, location), then one build per selected BOM through the service."""
        form = BuildToStockForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            run_service_action(
                self,
                request,
                queryset,
                services.bom_build_to_stock,
                param="bill_of_materials",
                verb="Built to stock",
                quantity=form.cleaned_data["quantity"],
                location=form.cleaned_data["location"],
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Build to stock",
            "opts": self.model._meta,
            "form": form,
            "queryset": queryset,
            "action_name": "build_to_stock",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/manufacturing/billofmaterials/build_to_stock.html", context)


# ---- work orders -------------------------------------------------------------------------------------------


class WorkOrderLineInline(admin.TabularInline):
    """Copied from the BOM; read-only here (the API's work order line items change them while planned)."""

    model = WorkOrderLineItem
    fields = ("item", "part_name", "line_type", "unit_quantity", "total_quantity")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class WorkOrderForm(forms.ModelForm):
    class Meta:
        model = WorkOrder
        fields = [
            "number",
            "bill_of_materials",
            "quantity",
            "location",
            "site",
            "work_order_type",
            "order_number",
            "priority",
            "issue_date",
            "expected_completion_date",
            "memo",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "bill_of_materials" in self.fields:
            self.fields["bill_of_materials"].queryset = BillOfMaterials.objects.filter(status=BomStatus.ACTIVE)
            self.fields["bill_of_materials"].required = self.instance.pk is None
        if "location" in self.fields:
            self.fields["location"].required = False
            self.fields["location"].help_text = "MAIN when empty."


def _complete_remaining(*, work_order: WorkOrder, by: Actor) -> WorkOrder:
    """The bulk action: the whole remainder as good units (the remainder as read now: a count made
    meanwhile makes it more than what remains, which the service refuses)."""
    return services.work_order_complete(
        work_order=work_order, by=by, quantity_completed=max(work_order.quantity_remaining, 1)
    )


class CompleteForm(OptionalReasonForm):
    """The API's complete: good units (received to stock) and scrapped ones; partial counts add up."""

    quantity_completed = forms.IntegerField(
        label="Completed (good)", min_value=0, max_value=MAX_QUANTITY, help_text="Received to stock."
    )
    quantity_scrapped = forms.IntegerField(
        label="Scrapped", min_value=0, max_value=MAX_QUANTITY, initial=0, required=False, help_text="0 when empty."
    )
    field_order = ["quantity_completed", "quantity_scrapped", "reason"]

    def __init__(self, *args, obj: WorkOrder, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["quantity_completed"].initial = obj.quantity_remaining

    def clean_quantity_scrapped(self) -> int:
        return self.cleaned_data.get("quantity_scrapped") or 0  # the API's default


def _progress(wo: WorkOrder) -> str:
    return f"{wo.quantity_completed} completed and {wo.quantity_scrapped} scrapped of {wo.quantity}"


def _complete(wo: WorkOrder, data: dict[str, Any], by: Actor) -> str:
    wo = services.work_order_complete(
        work_order=wo,
        by=by,
        quantity_completed=data["quantity_completed"],
        quantity_scrapped=data["quantity_scrapped"],
        reason=data["reason"],
    )
    return (
        f"Counted {data['quantity_completed']} completed and {data['quantity_scrapped']} scrapped on {wo}: "
        f"{_progress(wo)}, {wo.get_status_display().lower()}."
    )


def _cancel_work_order(wo: WorkOrder, data: dict[str, Any], by: Actor) -> str:
    wo = services.work_order_cancel(work_order=wo, by=by, reason=data["reason"])
    return f"{wo} is cancelled; its allocations are released."


WORK_ORDER_OPERATIONS = (
    Operation(
        "complete",
        "Complete…",
        CompleteForm,
        _complete,
        transition="complete",
        help=lambda wo: (
            f"{wo}: {_progress(wo)}, {wo.quantity_remaining} remain. Good units are received at "
            f"{wo.location.code}; partial counts add up, and the work order is completed once completed plus "
            f"scrapped reaches {wo.quantity}. More than remains is refused."
        ),
    ),
    Operation(
        "cancel",
        "Cancel…",
        OptionalReasonForm,
        _cancel_work_order,
        transition="cancel",
        help="Releases whatever the lines hold. A work order that has started cannot be cancelled.",
    ),
)


@admin.register(WorkOrder)
class WorkOrderAdmin(StatefulAdmin):
    form = WorkOrderForm
    card_fields = ("part", "quantity", "quantity_completed", "quantity_scrapped", "location")
    card_fields += ("expected_completion_date", "priority")

    def related_documents(self, work_order):
        return [
            ("Manufacture order", work_order.manufacture_order),
            ("Bill of materials", work_order.bill_of_materials),
        ]

    # Fits 1366 px: the counts in one column; the BOM and manufacture order are on the page.
    list_display = ("number", "status", "part", "progress", "location", "manufacture_order", "expected_completion_date")
    list_filter = ("status", "location", "created_at")
    search_fields = ("number", "part__sku", "bill_of_materials__number", "order_number", "memo")
    list_select_related = ("part", "location", "bill_of_materials", "manufacture_order")
    raw_id_fields = ("bill_of_materials",)  # a raw id: the form offers active BOMs only
    autocomplete_fields = ("location",)
    date_hierarchy = "created_at"
    inlines = [WorkOrderLineInline, StateLogInline]
    actions = ["release_work_orders", "start_work_orders", "complete_work_orders", "cancel_work_orders"]
    operations = WORK_ORDER_OPERATIONS
    fsm_forms = {"hold": OptionalReasonForm}
    fsm_help = {
        "hold": "Stock stays as it is (allocated or consumed); resume returns the work order to where it was. "
        "The reason is kept in its history.",
    }

    service_param = "work_order"

    @admin.display(description="Done of planned")
    def progress(self, wo) -> str:
        scrapped = f" ({wo.quantity_scrapped} scrapped)" if wo.quantity_scrapped else ""
        return f"{wo.quantity_completed} of {wo.quantity}{scrapped}"

    create_service = services.work_order_create
    update_service = services.work_order_update
    delete_service = services.work_order_delete
    service_fields = services.WORK_ORDER_FIELDS | services.WORK_ORDER_PLAN_FIELDS
    number_field = "number"
    button_services = {"hold": services.work_order_hold, "resume": services.work_order_resume}

    def get_fields(self, request, obj=None):
        fields = [
            "number",
            "bill_of_materials",
            "part",
            "quantity",
            "location",
            "site",
            "work_order_type",
            "order_number",
            "priority",
            "issue_date",
            "expected_completion_date",
            "memo",
        ]
        if obj is not None:
            fields += [
                "status",
                "quantity_completed",
                "quantity_scrapped",
                "manufacture_order",
                "created_by",
                "started_at",
                "completed_at",
            ]
        return fields

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        fields.append("part")
        if obj is not None:
            fields += [
                "bill_of_materials",
                "quantity_completed",
                "quantity_scrapped",
                "manufacture_order",
                "created_by",
                "started_at",
                "completed_at",
            ]
            if obj.status != WorkOrderStatus.PLANNED:
                fields += ["quantity", "location"]
        return tuple(dict.fromkeys(fields))

    def create_kwargs(self, form):
        return {
            **super().create_kwargs(form),
            "number": form.cleaned_data.get("number") or None,
            "bill_of_materials": form.cleaned_data["bill_of_materials"],
            "quantity": form.cleaned_data["quantity"],
            "location": form.cleaned_data.get("location"),
        }

    def _run(self, request, queryset, service, verb):
        run_service_action(self, request, queryset, service, param="work_order", verb=verb)

    def has_release_permission(self, request) -> bool:
        return request.user.has_perm("manufacturing.release_workorder")

    def has_start_permission(self, request) -> bool:
        return request.user.has_perm("manufacturing.start_workorder")

    def has_complete_permission(self, request) -> bool:
        return request.user.has_perm("manufacturing.complete_workorder")

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("manufacturing.cancel_workorder")

    @admin.action(description="Release (allocate components)", permissions=["release"])
    def release_work_orders(self, request, queryset):
        self._run(request, queryset, services.work_order_release, "Released")

    @admin.action(description="Start (consume components)", permissions=["start"])
    def start_work_orders(self, request, queryset):
        self._run(request, queryset, services.work_order_start, "Started")

    @admin.action(description="Complete the remaining quantity (all good, none scrapped)", permissions=["complete"])
    def complete_work_orders(self, request, queryset):
        self._run(request, queryset, _complete_remaining, "Completed")

    @admin.action(description="Cancel (release allocations)", permissions=["cancel"])
    def cancel_work_orders(self, request, queryset):
        self._run(request, queryset, services.work_order_cancel, "Cancelled")


# ---- manufacture orders ------------------------------------------------------------------------------------


class ManufactureOrderLineFormSet(LineFormSet):
    def check_line(self, form):
        services.manufacture_order_line_check(bill_of_materials=form.cleaned_data.get("bill_of_materials"))


class ManufactureOrderLineInline(LineInline):
    """Editable while the order is a draft; each line's work order appears once it is submitted."""

    model = ManufactureOrderLineItem
    formset = ManufactureOrderLineFormSet
    editable_statuses = (ManufactureOrderStatus.DRAFT,)
    fields = (
        "bill_of_materials",
        "quantity",
        "expected_date",
        "priority",
        "site",
        "yield_location",
        "line_type",
        "output_type",
        "work_order",
    )
    readonly_fields = ("work_order",)
    raw_id_fields = ("bill_of_materials",)
    autocomplete_fields = ("yield_location",)


def _cancel_manufacture_order(mo: ManufactureOrder, data: dict[str, Any], by: Actor) -> str:
    mo = services.manufacture_order_cancel(manufacture_order=mo, by=by, reason=data["reason"])
    return f"{mo} is cancelled, with its work orders that had not started."


MANUFACTURE_ORDER_OPERATIONS = (
    Operation(
        "cancel",
        "Cancel…",
        OptionalReasonForm,
        _cancel_manufacture_order,
        transition="cancel",
        help="Its work orders that have not started are cancelled with it and their allocations released "
        "(that needs manufacturing.cancel_workorder); started ones keep running.",
    ),
)


@admin.register(ManufactureOrder)
class ManufactureOrderAdmin(StatefulAdmin):
    card_fields = ("priority", "site", "yield_location", "expected_completion_date", "issued_on")

    def related_documents(self, manufacture_order):
        return [("Work order", w) for w in manufacture_order.work_orders.order_by("pk")]

    list_display = ("number", "status", "priority", "site", "yield_location", "expected_completion_date", "issued_on")
    list_filter = ("status", "created_at")
    search_fields = ("number", "memo", "site")
    list_select_related = ("yield_location",)
    autocomplete_fields = ("yield_location",)
    date_hierarchy = "created_at"
    inlines = [ManufactureOrderLineInline, StateLogInline]
    actions = ["submit_orders", "cancel_orders"]
    operations = MANUFACTURE_ORDER_OPERATIONS
    fsm_forms = {"hold": OptionalReasonForm}
    fsm_help = {
        "hold": "Its work orders are not touched (hold them one by one); resume returns the order to the status "
        "its work orders have moved it to meanwhile. The reason is kept in its history.",
    }

    service_param = "manufacture_order"
    create_service = services.manufacture_order_create
    update_service = services.manufacture_order_update
    delete_service = services.manufacture_order_delete
    service_fields = services.MANUFACTURE_ORDER_FIELDS
    number_field = "number"
    line_model = ManufactureOrderLineItem
    line_fields = services.MO_LINE_FIELDS | {"bill_of_materials", "yield_location"}
    line_services = {
        "create": services.manufacture_order_line_create,
        "update": services.manufacture_order_line_update,
        "delete": services.manufacture_order_line_delete,
    }
    line_param = "manufacture_order_line_item"
    line_parent_param = "manufacture_order_number"
    button_services = {"hold": services.manufacture_order_hold, "resume": services.manufacture_order_resume}

    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj), "held_from_status"]
        if obj is not None and obj.status != ManufactureOrderStatus.DRAFT:
            fields.append("yield_location")
        return tuple(dict.fromkeys(fields))

    def create_kwargs(self, form):
        return {
            **super().create_kwargs(form),
            "number": form.cleaned_data.get("number") or None,
            "yield_location": form.cleaned_data.get("yield_location"),
        }

    def update_kwargs(self, form):
        data = super().update_kwargs(form)
        if "yield_location" in form.changed_data:
            data["yield_location"] = form.cleaned_data["yield_location"] or ""
        return data

    def line_kwargs(self, line_form, names):
        values = super().line_kwargs(line_form, names)
        if "yield_location" in values:
            values["yield_location"] = values["yield_location"] or ""
        return values

    @admin.action(description="Submit (create the work orders)", permissions=["change"])
    def submit_orders(self, request, queryset):
        """Not a button: submitting creates the work orders, which only the service does."""
        run_service_action(
            self, request, queryset, services.manufacture_order_submit, param="manufacture_order", verb="Submitted"
        )

    @admin.action(description="Cancel (and the work orders not started)", permissions=["change"])
    def cancel_orders(self, request, queryset):
        run_service_action(
            self, request, queryset, services.manufacture_order_cancel, param="manufacture_order", verb="Cancelled"
        )
