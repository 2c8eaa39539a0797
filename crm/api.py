from crm import selectors, services
from crm.filters import CustomerFilter
from crm.models import Customer
from crm.serializers import CustomerSerializer
from stateset.api import CrudViewSet


class CustomerViewSet(CrudViewSet):
    """Customers: `/v1/customers` (aliases `GET /v1/customers/list`, `GET /v1/customer/list`)."""

    singular, plural = "customer", "customers"
    queryset = Customer.objects.all()
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    search_fields = ("email", "first_name", "last_name", "sso_id", "phone")
    ordering_fields = ("created_at", "updated_at", "id", "email", "timestamp")
    identity_keys = ("sso_id",)
    create_service = services.customer_create
    update_service = services.customer_update
    delete_service = services.customer_delete

    def get_queryset(self):
        return selectors.customer_list()
