import django_filters

from crm.models import Case, Customer, Lead
from crm.states import CasePriority, CaseStatus, LeadStatus
from stateset.filters import IdFilter, ResourceFilterSet, status_filter


class CustomerFilter(ResourceFilterSet):
    sso_id = django_filters.CharFilter()
    email = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Customer
        fields = ["sso_id", "email"]


class LeadFilter(ResourceFilterSet):
    status = status_filter(LeadStatus.choices)
    email = django_filters.CharFilter(lookup_expr="iexact")
    leadSource = django_filters.CharFilter(field_name="lead_source", lookup_expr="iexact")
    converted_customer = IdFilter(field_name="converted_customer_id")

    class Meta:
        model = Lead
        fields = ["status", "email", "leadSource", "converted_customer"]


class CaseFilter(ResourceFilterSet):
    status = status_filter(CaseStatus.choices)
    caseStatus = status_filter(CaseStatus.choices)
    priority = status_filter(CasePriority.choices, field_name="priority")
    caseNumber = django_filters.CharFilter(field_name="case_number", lookup_expr="iexact")
    number = django_filters.CharFilter(field_name="case_number", lookup_expr="iexact")
    customer = IdFilter(field_name="customer_id")
    order = IdFilter(field_name="order_id")
    email = django_filters.CharFilter(field_name="customer__email", lookup_expr="iexact")

    class Meta:
        model = Case
        fields = ["status", "caseStatus", "priority", "caseNumber", "number", "customer", "order", "email"]
