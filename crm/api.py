from crm import selectors, services
from crm.filters import CaseFilter, CustomerFilter, LeadFilter
from crm.models import Case, Customer, Lead
from crm.serializers import (
    CaseResolveInput,
    CaseSerializer,
    CustomerSerializer,
    LeadSerializer,
    ReasonInput,
)
from stateset.api import CrudViewSet, DocumentViewSet, resource_action


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


class LeadViewSet(DocumentViewSet):
    """Leads: `/v1/leads` (alias `GET /v1/leads/{id}/retrieve`), with the actions engage, accept, reject,
    convert (creates or links the customer) and unconvert."""

    singular, plural = "lead", "leads"
    queryset = Lead.objects.all()
    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    search_fields = ("email", "first_name", "last_name", "phone", "handle")
    ordering_fields = ("created_at", "updated_at", "id", "email", "last_name", "status")
    create_service = services.lead_create
    update_service = services.lead_update
    delete_service = services.lead_delete

    engage = resource_action("engage", done="engaged", service=services.lead_engage, input=ReasonInput)
    accept = resource_action("accept", done="accepted", service=services.lead_accept, input=ReasonInput)
    reject = resource_action("reject", done="rejected", service=services.lead_reject, input=ReasonInput)
    convert = resource_action(
        "convert",
        done="converted",
        service=services.lead_convert,
        input=ReasonInput,
        description="Convert an accepted lead into a customer (ack `converted`): the customer with the lead's "
        "email (case-insensitive) is linked, or created. Needs `crm.convert_lead`.",
    )
    unconvert = resource_action(
        "unconvert",
        done="unconverted",
        service=services.lead_unconvert,
        input=ReasonInput,
        description="Undo a conversion (ack `unconverted`): back to accepted; the customer stays.",
    )

    def get_queryset(self):
        return selectors.lead_list()


class CaseViewSet(DocumentViewSet):
    """Cases: `/v1/cases` (alias `GET /v1/cases/list`), with the actions escalate, resolve, close, reopen."""

    singular, plural = "case", "cases"
    queryset = Case.objects.all()
    serializer_class = CaseSerializer
    filterset_class = CaseFilter
    search_fields = ("case_number", "case_name", "submitter", "resolver", "description")
    ordering_fields = ("created_at", "updated_at", "id", "case_number", "status")
    create_service = services.case_create
    update_service = services.case_update
    delete_service = services.case_delete

    escalate = resource_action("escalate", done="escalated", service=services.case_escalate, input=ReasonInput)
    resolve = resource_action("resolve", done="resolved", service=services.case_resolve, input=CaseResolveInput)
    close = resource_action("close", done="closed", service=services.case_close, input=ReasonInput)
    reopen = resource_action("reopen", done="reopened", service=services.case_reopen, input=ReasonInput)

    def get_queryset(self):
        return selectors.case_list()
