from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self):
        # Publish every change of these models as events, rendered as the API renders them (stateset.events).
        from orders.api import OrderViewSet, PromotionViewSet, WholesaleOrderViewSet
        from orders.models import Order, Promotion, WholesaleOrder
        from stateset import events

        events.register(Order, viewset=OrderViewSet)
        events.register(Promotion, viewset=PromotionViewSet)
        events.register(WholesaleOrder, viewset=WholesaleOrderViewSet)
