from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "returns"
    verbose_name = "Returns and warranties"

    def ready(self):
        # Publish every change of these models as events, rendered as the API renders them (stateset.events).
        from returns.api import ReturnLineItemViewSet, ReturnViewSet, WarrantyLineItemViewSet, WarrantyViewSet
        from returns.models import Return, ReturnLineItem, Warranty, WarrantyLineItem
        from stateset import events

        events.register(Return, viewset=ReturnViewSet)
        events.register(ReturnLineItem, viewset=ReturnLineItemViewSet)
        events.register(Warranty, viewset=WarrantyViewSet)
        events.register(WarrantyLineItem, viewset=WarrantyLineItemViewSet)
