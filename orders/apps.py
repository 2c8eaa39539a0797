from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self):
        # Publish every change of these models as events, rendered as the API renders them (stateset.events).
        from orders.api import OrderViewSet, PromotionViewSet, ShipmentViewSet, WholesaleOrderViewSet
        from orders.models import Order, Promotion, Shipment, WholesaleOrder
        from stateset import events

        events.register(Order, viewset=OrderViewSet)
        events.register(Promotion, viewset=PromotionViewSet)
        events.register(Shipment, viewset=ShipmentViewSet)
        events.register(WholesaleOrder, viewset=WholesaleOrderViewSet)
