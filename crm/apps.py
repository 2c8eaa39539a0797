from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"

    def ready(self):
        # Publish every change of these models as events, rendered as the API renders them (stateset.events).
        from crm.api import CaseViewSet, CustomerViewSet, LeadViewSet
        from crm.models import Case, Customer, Lead
        from stateset import events

        events.register(Customer, viewset=CustomerViewSet)
        events.register(Lead, viewset=LeadViewSet)
        events.register(Case, viewset=CaseViewSet)
