"""Returns, warranties and their lines over HTTP, and the two order operations this app serves. Views parse,
call one service with the Actor, and present; every rule is in `returns.services`.

**How `POST /v1/orders/{id}/return` and `/exchange` are served.** Dependencies run returns → orders, never
back, so the orders app cannot declare these two actions. `OrdersWithReturnsViewSet` below extends
`orders.api.OrderViewSet` with them, and `stateset/urls.py` registers this subclass as the `orders`
resource. So the order resource stays one viewset: every order route, alias (`/v1/order/{id}/return`),
permission (`orders.change_order`, like every order action), the list of allowed actions and the OpenAPI
schema (under the `orders` tag) include the two operations, and no route is declared twice.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from orders.api import OrderViewSet
from orders.serializers import OrderSerializer
from returns import selectors, services
from returns.filters import ReturnFilter, ReturnLineItemFilter, WarrantyFilter, WarrantyLineItemFilter
from returns.models import Return, ReturnLineItem, Warranty, WarrantyLineItem
from returns.serializers import (
    ApproveInput,
    OrderExchangeInput,
    OrderReturnInput,
    ReasonInput,
    ReceiveInput,
    RequiredReasonInput,
    ReturnLineItemSerializer,
    ReturnLineItemUpdateSerializer,
    ReturnRefundInput,
    ReturnSerializer,
    ReturnUpdateSerializer,
    WarrantyApproveInput,
    WarrantyLineItemSerializer,
    WarrantyLineItemUpdateSerializer,
    WarrantySerializer,
    WarrantyStatusInput,
    WarrantyUpdateSerializer,
)
from stateset.api import CrudViewSet, DocumentViewSet, resource_action

# ---- returns -----------------------------------------------------------------------------------------------


class ReturnViewSet(DocumentViewSet):
    """Returns: `/v1/returns` (aliases `POST /v1/return`, `GET /v1/return/{id}/retrieve`,
    `/v1/return/{id}/{action}`), with approve, reject, receive, refund, cancel, close, reopen and /history."""

    singular, plural = "return", "returns"
    service_param = "return_"
    identity_keys = ("rma",)
    queryset = Return.objects.all()
    serializer_class = ReturnSerializer
    update_serializer_class = ReturnUpdateSerializer
    filterset_class = ReturnFilter
    search_fields = (
        "rma",
        "tracking_number",
        "customer_email",
        "customer__email",
        "serial_number",
        "scanned_serial_number",
        "order__order_number",
        "return_line_items__sku",
        "return_line_items__serial_number",
    )
    ordering_fields = ("created_at", "updated_at", "id", "rma", "status", "amount")
    create_service = services.return_create
    update_service = services.return_update
    delete_service = services.return_delete

    approve = resource_action(
        "approve",
        done="approved",
        service=services.return_approve,
        input=ApproveInput,
        description="requested → approved (ack `approved`). Needs returns.approve_return.",
    )
    reject = resource_action(
        "reject",
        done="rejected",
        service=services.return_reject,
        input=RequiredReasonInput,
        description="requested → rejected (ack `rejected`): the units go back to the order. Needs "
        "returns.approve_return.",
    )
    receive = resource_action(
        "receive",
        done="received",
        service=services.return_receive,
        input=ReceiveInput,
        description="approved → received (ack `received`): lines marked restock in condition new or like_new go "
        "back on hand at the return's location, exactly once. Needs returns.receive_return.",
    )
    refund = resource_action(
        "refund",
        done="refunded",
        service=services.return_refund,
        input=ReturnRefundInput,
        description="received → refunded (ack `refunded`): a refund on the original order, within its balance "
        "(422 refund_exceeds_balance). Needs returns.refund_return and orders.refund_order.",
    )
    cancel = resource_action(
        "cancel",
        done="cancelled",
        service=services.return_cancel,
        input=ReasonInput,
        description="requested or approved → cancelled (ack `cancelled`): the units go back to the order.",
    )
    close = resource_action("close", done="closed", service=services.return_close, input=ReasonInput)
    reopen = resource_action(
        "reopen",
        done="reopened",
        service=services.return_reopen,
        input=ReasonInput,
        description="rejected or cancelled → requested (ack `reopened`): the units are counted as returned again "
        "(422 when they are gone).",
    )

    def get_queryset(self):
        return selectors.return_list()


class ReturnLineItemViewSet(CrudViewSet):
    """Return line items: `/v1/return_line_items` (aliases `POST /v1/return_line_items/create`,
    `/v1/return_line_item`). Lines change only while their return is requested."""

    singular, plural = "return_line_item", "return_line_items"
    queryset = ReturnLineItem.objects.all()
    serializer_class = ReturnLineItemSerializer
    update_serializer_class = ReturnLineItemUpdateSerializer
    filterset_class = ReturnLineItemFilter
    search_fields = ("sku", "name", "serial_number", "parent_return__rma")
    ordering_fields = ("created_at", "updated_at", "id", "sku")
    create_service = services.return_line_item_create
    update_service = services.return_line_item_update
    delete_service = services.return_line_item_delete

    def get_queryset(self):
        return selectors.return_line_item_list()


# ---- warranties --------------------------------------------------------------------------------------------


def _status_change(view, result: services.StatusChange) -> dict[str, Any]:
    return {"transition": result.transition}


class WarrantyViewSet(DocumentViewSet):
    """Warranties: `/v1/warranties` (aliases `/v1/warranty`, `GET /v1/warranty/list`), with approve, deny,
    complete, cancel, reopen, the official Python client's `status`, and /history."""

    singular, plural = "warranty", "warranties"
    queryset = Warranty.objects.all()
    serializer_class = WarrantySerializer
    update_serializer_class = WarrantyUpdateSerializer
    filterset_class = WarrantyFilter
    search_fields = (
        "warranty_number",
        "rma",
        "tracking_number",
        "customer_email",
        "customer__email",
        "serial_number",
        "scanned_serial_number",
        "warranty_line_items__sku",
        "warranty_line_items__serial_number",
    )
    ordering_fields = ("created_at", "updated_at", "id", "warranty_number", "status")
    create_service = services.warranty_create
    update_service = services.warranty_update
    delete_service = services.warranty_delete
    action_extra_schema = {"status": {"transition": serializers.CharField(allow_null=True)}}

    approve = resource_action(
        "approve",
        done="approved",
        service=services.warranty_approve,
        input=WarrantyApproveInput,
        description="requested → approved (ack `approved`); with create_replacement (default: the claim's "
        "advanced_replacement) a zero-price replacement order is created and allocated. Needs "
        "returns.approve_warranty.",
    )
    deny = resource_action(
        "deny",
        done="denied",
        service=services.warranty_deny,
        input=RequiredReasonInput,
        description="requested → denied (ack `denied`). Needs returns.approve_warranty.",
    )
    complete = resource_action("complete", done="completed", service=services.warranty_complete, input=ReasonInput)
    cancel = resource_action(
        "cancel",
        done="cancelled",
        service=services.warranty_cancel,
        input=ReasonInput,
        description="requested or approved → cancelled (ack `cancelled`); a replacement order not yet shipped is "
        "cancelled too.",
    )
    reopen = resource_action("reopen", done="reopened", service=services.warranty_reopen, input=ReasonInput)
    status = resource_action(
        "status",
        done="status_changed",
        service=services.warranty_set_status,
        input=WarrantyStatusInput,
        present=_status_change,
        description="Set the status by word (ack `status_changed`, with the `transition` run, null when the claim "
        "was already awaiting its decision): filed/requested → reopen, processing → (none), approved → approve, "
        "denied → deny, completed → complete, cancelled → cancel. An illegal move is a 422, an unknown word a 400.",
    )

    def get_queryset(self):
        return selectors.warranty_list()


class WarrantyLineItemViewSet(CrudViewSet):
    """Warranty line items: `/v1/warranty_line_items` (alias `/v1/warranty_line_item`). Lines change only while
    their claim is requested."""

    singular, plural = "warranty_line_item", "warranty_line_items"
    queryset = WarrantyLineItem.objects.all()
    serializer_class = WarrantyLineItemSerializer
    update_serializer_class = WarrantyLineItemUpdateSerializer
    filterset_class = WarrantyLineItemFilter
    search_fields = ("sku", "name", "serial_number", "warranty__warranty_number")
    ordering_fields = ("created_at", "updated_at", "id", "sku")
    create_service = services.warranty_line_item_create
    update_service = services.warranty_line_item_update
    delete_service = services.warranty_line_item_delete

    def get_queryset(self):
        return selectors.warranty_line_item_list()


# ---- the order operations ----------------------------------------------------------------------------------


def _with_return(view, result: Return) -> dict[str, Any]:
    fresh = selectors.return_list().get(pk=result.pk)
    return {"return": ReturnSerializer(fresh, context=view.get_serializer_context()).data}


def _with_exchange(view, result: services.ExchangeResult) -> dict[str, Any]:
    return {**_with_return(view, result.return_), "replacement_order": view.present(result.replacement_order)}


class OrdersWithReturnsViewSet(OrderViewSet):
    """Orders: `/v1/orders` (aliases `/v1/order/{id}/retrieve`, `/v1/order/{id}/{action}`), including the
    `return` and `exchange` operations served by the returns app. Orders are never deleted (DELETE is a
    405): cancel one instead."""

    # This class is registered as the `orders` resource (stateset/urls.py); see this module's docstring.

    action_extra_schema = {
        **OrderViewSet.action_extra_schema,
        "return_": {"return": ReturnSerializer()},
        "exchange": {"return": ReturnSerializer(), "replacement_order": OrderSerializer()},
    }

    return_ = resource_action(
        "return_",
        url_path="return",
        done="returned",
        service=services.order_return,
        input=OrderReturnInput,
        present=_with_return,
        description="Return shipped units (ack `returned`, with the new `return`, status requested); the order moves "
        "to returned once every shipped unit is under a return. Above what was shipped and not yet returned is a "
        "422 return_exceeds_shipped. Needs returns.add_return.",
    )
    exchange = resource_action(
        "exchange",
        done="exchanged",
        service=services.order_exchange,
        input=OrderExchangeInput,
        present=_with_exchange,
        description="Exchange (ack `exchanged`, with the `return` and the allocated `replacement_order`; the price "
        "difference is on both orders and the return). Needs returns.add_return and orders.add_order.",
    )
