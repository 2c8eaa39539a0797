from django import forms
from django.contrib import admin
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html_join

from crm import selectors, services
from crm.models import Case, Customer, Lead
from crm.resources import CustomerResource
from stateset.admin import ImportExportAdminMixin, ServiceAdmin, StatefulAdmin, run_service_action
from stateset.errors import DomainError


class CustomerCaseInline(admin.TabularInline):
    """The customer's cases, read-only: they change on their own page, through their actions."""

    model = Case
    fields = ("case_number", "case_name", "status", "priority", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "Cases"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Customer)
class CustomerAdmin(ImportExportAdminMixin, ServiceAdmin):
    list_display = ("email", "first_name", "last_name", "sso_id", "phone", "created_at")
    search_fields = ("email", "first_name", "last_name", "sso_id", "phone", "stripe_customer_id")
    list_filter = ("created_at",)
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", "updated_at", "related_documents")
    inlines = [CustomerCaseInline]
    resource_classes = [CustomerResource]
    service_param = "customer"
    create_service = services.customer_create
    update_service = services.customer_update
    delete_service = services.customer_delete
    service_fields = services.CUSTOMER_FIELDS

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a customer being added has no cases yet

    @admin.display(description="Related documents")
    def related_documents(self, obj):
        """Links to the changelists of the orders, returns, warranties, cases and leads that point at this
        customer, with counts; kinds whose app does not exist yet are left out."""
        if obj is None or obj.pk is None:
            return "-"
        items = []
        for accessor, model, count in selectors.customer_documents(obj):
            opts = model._meta
            field = "converted_customer" if accessor == "converted_leads" else "customer"
            try:
                url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            except NoReverseMatch:
                url = f"/admin/{opts.app_label}/{opts.model_name}/"
            label = "converted leads" if accessor == "converted_leads" else opts.verbose_name_plural
            items.append((f"{url}?{field}__id__exact={obj.pk}", label, count))
        if not items:
            return "-"
        return format_html_join(" · ", '<a href="{}">{}: {}</a>', items)


@admin.register(Lead)
class LeadAdmin(StatefulAdmin):
    list_display = ("__str__", "status", "lead_source", "converted_customer", "created_at")  # the name is the email
    fieldsets = [
        (
            None,
            {
                "fields": (
                    "status",
                    ("first_name", "last_name"),
                    ("email", "phone"),
                    ("title", "department"),
                    "lead_source",
                    "description",
                    "converted_customer",
                )
            },
        ),
        ("Preferences", {"fields": ("do_not_call", "email_opt_out", "fax", "fax_opt_out", "invalid_lead")}),
        (
            "Mailing address",
            {
                "fields": (
                    "mailing_street",
                    "mailing_city",
                    "mailing_state",
                    "mailing_country",
                    "mailing_geocode_accuracy",
                )
            },
        ),
        (
            "More",
            {
                "classes": ["collapse"],
                "fields": (
                    ("owner", "processor", "controller"),
                    ("handle", "avatar", "photo_url"),
                    ("birthdate", "languages"),
                    ("assistant", "assistant_phone"),
                ),
            },
        ),
        ("Audit", {"fields": (("created_by", "last_modified_by"), ("created_at", "updated_at"))}),
    ]
    list_filter = ("status", "lead_source", "do_not_call", "invalid_lead", "created_at")
    search_fields = ("email", "first_name", "last_name", "phone", "handle")
    list_select_related = ("converted_customer",)
    date_hierarchy = "created_at"
    readonly_fields = ("status", "converted_customer", "created_by", "last_modified_by", "created_at", "updated_at")
    actions = ["convert_leads"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    create_service = services.lead_create
    update_service = services.lead_update
    delete_service = services.lead_delete
    service_param = "lead"
    service_fields = services.LEAD_FIELDS
    button_services = {
        "engage": services.lead_engage,
        "accept": services.lead_accept,
        "reject": services.lead_reject,
        "unconvert": services.lead_unconvert,  # its history row names the customer
    }

    @admin.action(description="Convert the selected leads into customers", permissions=["convert"])
    def convert_leads(self, request, queryset):
        """Not a button: converting creates (or links) a customer, which only the service does."""
        run_service_action(self, request, queryset, services.lead_convert, param="lead", verb="Converted")

    def has_convert_permission(self, request) -> bool:
        return request.user.has_perm("crm.convert_lead")


class CaseAdminForm(forms.ModelForm):
    class Meta:
        model = Case
        fields = ("case_number",)  # the admin adds the rest

    def clean_case_number(self):
        number = self.cleaned_data.get("case_number")
        if not number:
            return None
        try:
            return services.case_number_check(number, case=self.instance if self.instance.pk else None)
        except DomainError as exc:
            raise forms.ValidationError(str(exc))


@admin.register(Case)
class CaseAdmin(StatefulAdmin):
    list_display = ("case_number", "case_name", "status", "priority", "customer", "is_escalated", "is_closed")
    list_filter = ("status", "priority", "is_escalated", "is_closed", "is_deleted", "created_at")
    search_fields = ("case_number", "case_name", "submitter", "resolver", "customer__email")
    list_select_related = ("customer", "order")
    autocomplete_fields = ("customer", "order")
    date_hierarchy = "created_at"

    create_service = services.case_create
    update_service = services.case_update
    delete_service = services.case_delete
    service_param = "case"
    service_fields = services.CASE_FIELDS | {"case_number"}
    button_services = {
        "escalate": services.case_escalate,
        "resolve": services.case_resolve,
        "close": services.case_close,
        "reopen": services.case_reopen,
    }

    form = CaseAdminForm
    fieldsets = [
        (None, {"fields": ("case_number", "case_name", "status", "priority", "customer", "description")}),
        ("People", {"fields": ("submitter", "resolver")}),
        ("Flags", {"fields": ("is_escalated", "is_closed", "is_deleted")}),
        ("External references", {"fields": ("account_id", "user_id", "contact_id", "vendor_id", "supplier_id")}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    ]

    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj), "is_escalated", "is_closed", "created_at", "updated_at"]
        return tuple(dict.fromkeys(fields))
