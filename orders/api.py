"""Orders, promotions and wholesale orders over HTTP. Views parse, call one service with the Actor, present."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework.decorators import action
from rest_framework.response import Response

from orders import selectors, services
from orders.filters import OrderFilter, PromotionFilter, ShipmentFilter, WholesaleOrderFilter
from orders.models import Order, Promotion, Shipment, WholesaleOrder
from orders.serializers import (
    AddDiscountInput,
    AddItemInput,
    ApplyPromotionInput,
    CancelRemainingInput,
    DeliverInput,
    HoldInput,
    MergeInput,
    OrderSerializer,
    OrderUpdateSerializer,
    PromotionSerializer,
    ReallocateInput,
    ReasonInput,
    RefundInput,
    RemoveDiscountInput,
    RemoveItemInput,
    ShipInput,
    ShipmentCreateSerializer,
    ShipmentSerializer,
    ShipmentShipInput,
    ShipmentUpdateSerializer,
    SplitInput,
    TagInput,
    UntagInput,
    WholesaleOrderSerializer,
    WholesaleOrderUpdateSerializer,
)
from stateset.api import (
    CreateMixin,
    CrudViewSet,
    DocumentViewSet,
    HistoryMixin,
    ListMixin,
    ResourceViewSet,
    RetrieveMixin,
    SearchMixin,
    UpdateMixin,
    resource_action,
)


def _split_orders(view, result: services.SplitResult) -> dict:
    return {"orders": [view.present(order) for order in result.orders]}


class OrderViewSet(ListMixin, SearchMixin, RetrieveMixin, CreateMixin, UpdateMixin, HistoryMixin, ResourceViewSet):
    """Orders: `/v1/orders` (aliases `/v1/order/{id}/retrieve`, `/v1/order/{id}/{action}`). Orders are never
    deleted (DELETE is a 405): cancel one instead."""

    singular, plural = "order", "orders"
    queryset = Order.objects.all()
    serializer_class = OrderSerializer
    update_serializer_class = OrderUpdateSerializer
    filterset_class = OrderFilter
    search_fields = (
        "order_number",
        "customer_email",
        "customer_name",
        "customer__email",
        "customer__first_name",
        "customer__last_name",
        "order_line_items__sku",
    )
    ordering_fields = ("created_at", "updated_at", "id", "total", "order_number")
    create_service = services.order_create
    update_service = services.order_update
    action_extra_schema = {"split": {"orders": OrderSerializer(many=True)}}
    custom_response_schemas = {
        "shipments": inline_serializer("OrderShipmentList", {"shipments": ShipmentSerializer(many=True)})
    }

    process = resource_action("process", done="processed", service=services.order_process, input=ReasonInput)
    hold = resource_action(
        "hold",
        done="held",
        service=services.order_hold,
        input=HoldInput,
        description="Hold a pending or processing order (ack `held`); release goes back to that status.",
    )
    release = resource_action("release", done="released", service=services.order_release, input=ReasonInput)
    update_order = resource_action(
        "update_order",
        url_path="update",
        done="updated",
        service=services.order_update,
        input=OrderUpdateSerializer,
        description="Update Order (ack `updated`): header fields, as `PUT /v1/orders/{id}` does.",
    )
    add_item = resource_action(
        "add_item",
        done="item_added",
        service=services.order_add_item,
        input=AddItemInput,
        description="Add a line (ack `item_added`), allocating its stock: 422 insufficient_stock when short.",
    )
    remove_item = resource_action(
        "remove_item",
        done="item_removed",
        service=services.order_remove_item,
        input=RemoveItemInput,
        description="Remove a line or part of it (ack `item_removed`), releasing its stock. The last line stays.",
    )
    add_discount = resource_action(
        "add_discount", done="discount_added", service=services.order_add_discount, input=AddDiscountInput
    )
    remove_discount = resource_action(
        "remove_discount", done="discount_removed", service=services.order_remove_discount, input=RemoveDiscountInput
    )
    apply_promotion = resource_action(
        "apply_promotion",
        done="promotion_applied",
        service=services.order_apply_promotion,
        input=ApplyPromotionInput,
        description="Apply a promotion by id or code (ack `promotion_applied`); one per order.",
    )
    remove_promotion = resource_action(
        "remove_promotion", done="promotion_removed", service=services.order_remove_promotion
    )
    tag = resource_action("tag", done="tagged", service=services.order_tag, input=TagInput)
    untag = resource_action("untag", done="untagged", service=services.order_untag, input=UntagInput)
    split = resource_action(
        "split",
        done="split",
        service=services.order_split,
        input=SplitInput,
        present=_split_orders,
        description="Split lines into new orders (ack `split`, with the new `orders`).",
    )
    merge = resource_action(
        "merge",
        done="merged",
        service=services.order_merge,
        input=MergeInput,
        description="Merge the orders `order_ids` into this one (ack `merged`).",
    )
    merge_many = resource_action(
        "merge_many",
        url_path="merge",
        detail=False,
        done="merged",
        service=services.order_merge_many,
        input=MergeInput,
        description="Merge orders: the first of `order_ids` is the target (ack `merged`).",
    )
    ship = resource_action(
        "ship",
        done="shipped",
        service=services.order_ship,
        input=ShipInput,
        description="Ship everything that remains (ack `shipped`): the pending shipments, and the rest as one "
        "shipment per location; consumes the stock. Needs orders.ship_order.",
    )
    cancel_remaining = resource_action(
        "cancel_remaining",
        done="remaining_cancelled",
        service=services.order_cancel_remaining,
        input=CancelRemainingInput,
        description="Short-ship (ack `remaining_cancelled`): cancel every unshipped unit, release its stock and "
        "recompute the totals; the order becomes shipped (cancelled when nothing shipped). Needs "
        "orders.cancel_order.",
    )
    reallocate = resource_action(
        "reallocate",
        done="reallocated",
        service=services.order_reallocate,
        input=ReallocateInput,
        description="Move a line's unshipped, unreserved units to another location where stock allows (ack "
        "`reallocated`). Needs orders.edit_order.",
    )

    @extend_schema(summary="The order's shipments.")
    @action(detail=True, methods=["get"], url_path="shipments")
    def shipments(self, request, *args, **kwargs):
        """`GET /v1/orders/{id}/shipments`: every shipment of the order, oldest first."""
        order = self.get_object(light=True)
        rows = selectors.shipment_list().filter(order=order).order_by("pk")
        return Response({"shipments": ShipmentSerializer(rows, many=True, context=self.get_serializer_context()).data})

    deliver = resource_action("deliver", done="delivered", service=services.order_deliver, input=DeliverInput)
    cancel = resource_action(
        "cancel",
        done="cancelled",
        service=services.order_cancel,
        input=ReasonInput,
        description="Cancel (ack `cancelled`): releases the order's stock. Needs orders.cancel_order.",
    )
    refund = resource_action(
        "refund",
        done="refunded",
        service=services.order_refund,
        input=RefundInput,
        description="Record a refund within the balance (ack `refunded`). Needs orders.refund_order.",
    )

    def get_queryset(self):
        return selectors.order_list()


class ShipmentViewSet(DocumentViewSet):
    """Shipments (issue #18): `/v1/shipments`, the official client's `shipments` resource. One parcel of an
    order from one location; DELETE only while pending."""

    singular, plural = "shipment", "shipments"
    queryset = Shipment.objects.all()
    serializer_class = ShipmentSerializer
    create_serializer_class = ShipmentCreateSerializer
    update_serializer_class = ShipmentUpdateSerializer
    filterset_class = ShipmentFilter
    search_fields = ("tracking_number", "number", "order__order_number")
    ordering_fields = ("created_at", "updated_at", "id", "shipped_at", "delivered_at")
    create_service = services.shipment_create
    update_service = services.shipment_update
    delete_service = services.shipment_delete

    ship = resource_action(
        "ship",
        done="shipped",
        service=services.shipment_ship,
        input=ShipmentShipInput,
        description="Ship (ack `shipped`): consumes exactly its units at its location; the order becomes "
        "partially_shipped or shipped. Needs orders.ship_order.",
    )
    mark_in_transit = resource_action(
        "mark_in_transit", done="in_transit", service=services.shipment_mark_in_transit, input=ReasonInput
    )
    deliver = resource_action("deliver", done="delivered", service=services.shipment_deliver, input=DeliverInput)
    cancel = resource_action(
        "cancel",
        done="cancelled",
        service=services.shipment_cancel,
        input=ReasonInput,
        description="Cancel a pending shipment (ack `cancelled`): its reservation is released.",
    )
    return_to_sender = resource_action(
        "return_to_sender",
        done="returned_to_sender",
        service=services.shipment_return_to_sender,
        input=ReasonInput,
        description="Returned to sender (ack `returned_to_sender`): its units go back on hand at its location "
        "and can ship again. No money moves.",
    )
    mark_lost = resource_action(
        "mark_lost",
        done="lost",
        service=services.shipment_mark_lost,
        input=ReasonInput,
        description="Lost (ack `lost`): no stock changes and no money moves.",
    )

    def get_queryset(self):
        return selectors.shipment_list()

    def filtered_queryset(self, params):
        queryset = super().filtered_queryset(params)
        if params.get("search") or params.get("query"):
            queryset = queryset.distinct()
        return queryset


class PromotionViewSet(CrudViewSet):
    """Promotions: `/v1/promotions`."""

    singular, plural = "promotion", "promotions"
    queryset = Promotion.objects.all()
    serializer_class = PromotionSerializer
    filterset_class = PromotionFilter
    search_fields = ("code", "name", "description")
    ordering_fields = ("created_at", "updated_at", "id", "code", "times_used")
    create_service = services.promotion_create
    update_service = services.promotion_update
    delete_service = services.promotion_delete

    def get_queryset(self):
        return selectors.promotion_list()


class WholesaleOrderViewSet(
    ListMixin, SearchMixin, RetrieveMixin, CreateMixin, UpdateMixin, HistoryMixin, ResourceViewSet
):
    """Wholesale orders: `/v1/wholesale_orders` (alias `/v1/wholesale_order`)."""

    singular, plural = "wholesale_order", "wholesale_orders"
    queryset = WholesaleOrder.objects.all()
    serializer_class = WholesaleOrderSerializer
    update_serializer_class = WholesaleOrderUpdateSerializer
    filterset_class = WholesaleOrderFilter
    search_fields = ("order_number", "name", "customer_number", "customer__email")
    ordering_fields = ("created_at", "updated_at", "id", "total", "order_number")
    create_service = services.wholesale_order_create
    update_service = services.wholesale_order_update

    submit = resource_action("submit", done="submitted", service=services.wholesale_order_submit, input=ReasonInput)
    approve = resource_action(
        "approve",
        done="approved",
        service=services.wholesale_order_approve,
        input=ReasonInput,
        description="Approve (ack `approved`): allocates every line; 422 insufficient_stock when short.",
    )
    fulfill = resource_action(
        "fulfill",
        done="fulfilled",
        service=services.wholesale_order_fulfill,
        input=ReasonInput,
        description="Fulfil (ack `fulfilled`): ships, consuming the allocations.",
    )
    close = resource_action("close", done="closed", service=services.wholesale_order_close, input=ReasonInput)
    cancel = resource_action(
        "cancel",
        done="cancelled",
        service=services.wholesale_order_cancel,
        input=ReasonInput,
        description="Cancel (ack `cancelled`): releases anything allocated.",
    )

    def get_queryset(self):
        return selectors.wholesale_order_list()

    def filtered_queryset(self, params):
        queryset = super().filtered_queryset(params)
        if params.get("search") or params.get("query"):
            queryset = queryset.distinct()
        return queryset
