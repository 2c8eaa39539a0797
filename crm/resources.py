"""Customers in and out of the back office (django-import-export), written through crm.services."""

from crm import services
from crm.models import Customer
from stateset.resources import ServiceResource


class CustomerResource(ServiceResource):
    """One row per customer, found by email (case-insensitively, as the email is unique). A new email
    creates a customer (`customer_create`), a known one updates the columns given (`customer_update`)."""

    natural_key = "email"
    natural_key_lookup = "email__iexact"
    create_service = services.customer_create
    update_service = services.customer_update
    service_param = "customer"
    service_fields = services.CUSTOMER_FIELDS

    class Meta(ServiceResource.Meta):
        model = Customer
        fields = (
            "id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "sso_id",
            "stripe_customer_id",
            "activation_date",
            "timestamp",
        )
        export_order = fields
