from django.apps import AppConfig


class ManufacturingConfig(AppConfig):
    name = "manufacturing"
    verbose_name = "Manufacturing"

    def ready(self):
        # Publish every change of these models as events, rendered as the API renders them (stateset.events).
        from manufacturing.api import (
            BillOfMaterialsLineItemViewSet,
            BillOfMaterialsViewSet,
            ManufactureOrderLineItemViewSet,
            ManufactureOrderViewSet,
            WorkOrderLineItemViewSet,
            WorkOrderViewSet,
        )
        from manufacturing.models import (
            BillOfMaterials,
            BillOfMaterialsLineItem,
            ManufactureOrder,
            ManufactureOrderLineItem,
            WorkOrder,
            WorkOrderLineItem,
        )
        from stateset import events

        events.register(BillOfMaterials, viewset=BillOfMaterialsViewSet)
        events.register(BillOfMaterialsLineItem, viewset=BillOfMaterialsLineItemViewSet)
        events.register(WorkOrder, viewset=WorkOrderViewSet)
        events.register(WorkOrderLineItem, viewset=WorkOrderLineItemViewSet)
        events.register(ManufactureOrder, viewset=ManufactureOrderViewSet)
        events.register(ManufactureOrderLineItem, viewset=ManufactureOrderLineItemViewSet)
