from django.contrib import admin

from crm import services
from crm.models import Customer
from stateset.actors import Actor


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("email", "first_name", "last_name", "sso_id", "phone", "created_at")
    search_fields = ("email", "first_name", "last_name", "sso_id", "phone", "stripe_customer_id")
    list_filter = ("created_at",)
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", "updated_at")

    def save_model(self, request, obj, form, change):
        """Through the same service as the API (the form has already checked the unique constraints)."""
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in services.CUSTOMER_FIELDS}
        if change:
            saved = services.customer_update(customer=obj, by=Actor.admin(request), **fields)
        else:
            data = {n: form.cleaned_data[n] for n in services.CUSTOMER_FIELDS if n in form.cleaned_data}
            saved = services.customer_create(by=Actor.admin(request), **data)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.customer_delete(customer=obj, by=Actor.admin(request))
