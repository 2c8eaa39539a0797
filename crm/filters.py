import django_filters

from crm.models import Customer
from stateset.filters import ResourceFilterSet


class CustomerFilter(ResourceFilterSet):
    sso_id = django_filters.CharFilter()
    email = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Customer
        fields = ["sso_id", "email"]
