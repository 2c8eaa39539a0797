"""The inventory resources (contract §2): items, locations, purchase orders, packing lists and their items,
cycle counts. Views parse, call one service with the Actor, and present; every rule is in the services
(inventory.services: stock, catalog, purchasing, counting)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from inventory import selectors, services
from inventory.filters import (
    CycleCountFilter,
    InventoryItemFilter,
    LocationFilter,
    PackingListFilter,
    PackingListItemFilter,
    PurchaseOrderFilter,
)
from inventory.models import CycleCount, InventoryItem, Location, PackingList, PackingListItem, PurchaseOrder
from inventory.serializers import (
    AdjustInput,
    CountInput,
    CycleCountLineSerializer,
    CycleCountSerializer,
    CycleCountUpdateSerializer,
    FinanceInput,
    InventoryItemSerializer,
    LocationSerializer,
    LocationUpdateSerializer,
    PackingListItemSerializer,
    PackingListItemUpdateSerializer,
    PackingListSerializer,
    PackingListUpdateSerializer,
    PurchaseOrderSerializer,
    PurchaseOrderUpdateSerializer,
    ReasonInput,
    ReceiveInput,
    RejectInput,
    StockMovementSerializer,
    TransferInput,
)
from inventory.services import counting, purchasing
from inventory.states import MovementReason
from stateset.api import CrudViewSet, DocumentViewSet, list_params, resource_action

PAGE_FIELDS = {
    "total_count": serializers.IntegerField(),
    "total_count_exact": serializers.BooleanField(),
    "limit": serializers.IntegerField(),
    "offset": serializers.IntegerField(),
    "has_more": serializers.BooleanField(),
}


# ---- items and locations -----------------------------------------------------------------------------------


def _adjust(*, inventory_item: InventoryItem, by, **fields: Any):
    """The ack shows the item (re-read with its new totals) and the movement written."""
    return inventory_item, services.stock_adjust(inventory_item=inventory_item, by=by, **fields)


def _transfer(*, inventory_item: InventoryItem, by, **fields: Any):
    return inventory_item, services.stock_transfer(inventory_item=inventory_item, by=by, **fields)


class InventoryItemViewSet(CrudViewSet):
    """Inventory items: `/v1/inventory_items` (alias `/v1/inventory`, the official Python client's path),
    with the stock actions adjust and transfer and the item's ledger at `/movements`."""

    singular, plural = "inventory_item", "inventory_items"
    queryset = InventoryItem.objects.all()
    serializer_class = InventoryItemSerializer
    filterset_class = InventoryItemFilter
    search_fields = ("sku", "upc", "description")
    ordering_fields = ("created_at", "updated_at", "id", "sku")
    create_service = services.item_create
    update_service = services.item_update
    delete_service = services.item_delete

    adjust = resource_action(
        "adjust",
        done="adjusted",
        service=_adjust,
        input=AdjustInput,
        present=lambda view, result: {"movement": StockMovementSerializer(result[1]).data},
        description="Change on hand by a signed quantity (ack `adjusted`): one ledger `adjustment` movement. "
        "Below zero or below what is allocated is a 422 `insufficient_stock`. Needs "
        "`inventory.adjust_inventoryitem`.",
    )
    transfer = resource_action(
        "transfer",
        done="transferred",
        service=_transfer,
        input=TransferInput,
        present=lambda view, result: {"movements": StockMovementSerializer(result[1], many=True).data},
        description="Move available stock between locations (ack `transferred`): two `transfer` movements. "
        "Needs `inventory.transfer_inventoryitem`.",
    )
    action_extra_schema = {
        "adjust": {"movement": StockMovementSerializer()},
        "transfer": {"movements": StockMovementSerializer(many=True)},
    }
    paginated_actions = ("movements",)
    custom_response_schemas = {
        "movements": inline_serializer(
            name="InventoryItemMovementList", fields={"movements": StockMovementSerializer(many=True), **PAGE_FIELDS}
        )
    }

    def get_queryset(self):
        return selectors.item_list()

    @action(detail=True, methods=["get"], url_path="movements")
    def movements(self, request, *args, **kwargs):
        """The item's ledger, newest first: `{"movements": [...], total_count, limit, offset, has_more}`.
        Optional `location` (code) and `reason` narrow it."""
        item = self.get_object()
        params = list_params(request, ordering_fields=("created_at",))
        movements = selectors.item_movements(item)
        if params.get("location"):
            movements = movements.filter(location__code=params.get("location"))
        if params.get("reason"):
            reason = params.get("reason")
            if reason not in MovementReason.values:
                raise exceptions.ValidationError(
                    {"reason": [f"Unknown reason '{reason}'; choose from {', '.join(MovementReason.values)}."]}
                )
            movements = movements.filter(reason=reason)
        page = params.page(movements)
        data = StockMovementSerializer(page.rows, many=True).data
        return Response(page.envelope("movements", data, limit=params.limit, offset=params.offset))


class LocationViewSet(CrudViewSet):
    """Locations: warehouses, sites and bins by `code`. MAIN is the default everywhere."""

    singular, plural = "location", "locations"
    queryset = Location.objects.all()
    serializer_class = LocationSerializer
    update_serializer_class = LocationUpdateSerializer
    filterset_class = LocationFilter
    search_fields = ("code", "name")
    ordering_fields = ("created_at", "updated_at", "id", "code")
    create_service = services.location_create
    update_service = services.location_update
    delete_service = services.location_delete

    def get_queryset(self):
        return selectors.location_list()


# ---- purchase orders ---------------------------------------------------------------------------------------


class PurchaseOrderViewSet(DocumentViewSet):
    """Purchase orders: `/v1/purchase_orders` (aliases `/v1/purchase-orders`, `GET /v1/purchase_orders/list`)
    with `purchase_order_line_items`, the actions of the contract's table, and `/history`."""

    singular, plural = "purchase_order", "purchase_orders"
    queryset = PurchaseOrder.objects.all()
    serializer_class = PurchaseOrderSerializer
    update_serializer_class = PurchaseOrderUpdateSerializer
    filterset_class = PurchaseOrderFilter
    search_fields = ("purchase_order_number", "purchase_order_name", "vendor", "description", "lines__item__sku")
    ordering_fields = ("created_at", "updated_at", "id", "purchase_order_number", "status", "total", "delivery_date")
    identity_keys = ("purchase_order_number",)
    create_service = purchasing.purchase_order_create
    update_service = purchasing.purchase_order_update
    delete_service = purchasing.purchase_order_delete

    submit = resource_action(
        "submit",
        done="submitted",
        service=purchasing.purchase_order_submit,
        input=ReasonInput,
        description="draft → submitted (ack `submitted`); needs at least one line.",
    )
    approve = resource_action(
        "approve",
        done="approved",
        service=purchasing.purchase_order_approve,
        input=ReasonInput,
        description="submitted → approved (ack `approved`). Needs `inventory.approve_purchaseorder`.",
    )
    reject = resource_action(
        "reject",
        done="rejected",
        service=purchasing.purchase_order_reject,
        input=RejectInput,
        description="submitted → rejected with a reason (ack `rejected`). Needs `inventory.approve_purchaseorder`.",
    )
    send = resource_action(
        "send",
        done="sent",
        service=purchasing.purchase_order_send,
        input=ReasonInput,
        description="approved → ordered (ack `sent`): each line's quantity becomes incoming at the order's "
        "location. Needs `inventory.send_purchaseorder`.",
    )
    receive = resource_action(
        "receive",
        done="received",
        service=purchasing.purchase_order_receive,
        input=ReceiveInput,
        description="Book a receipt (ack `received`): ledger `receipt`, incoming → on hand, line "
        "`quantity_received` grows; the order becomes partially_received or received. Over-receipt is a 422 "
        "`over_receipt`. Without `lines`, everything outstanding. Needs `inventory.receive_purchaseorder`.",
    )
    complete = resource_action(
        "complete",
        done="completed",
        service=purchasing.purchase_order_complete,
        input=ReasonInput,
        description="ordered, partially_received → received, closing short (ack `completed`): the outstanding "
        "quantity leaves incoming. Needs `inventory.receive_purchaseorder`.",
    )
    cancel = resource_action(
        "cancel",
        done="cancelled",
        service=purchasing.purchase_order_cancel,
        input=ReasonInput,
        description="draft, submitted, approved, ordered → cancelled (ack `cancelled`); an ordered one's "
        "quantities leave incoming. Needs `inventory.cancel_purchaseorder`.",
    )
    finance = resource_action(
        "finance",
        done="financed",
        service=purchasing.purchase_order_finance,
        input=FinanceInput,
        description="Record the financer (ack `financed`; `financed: true`, status unchanged). Needs "
        "`inventory.finance_purchaseorder`.",
    )

    def get_queryset(self):
        return selectors.purchase_order_list()

    def filtered_queryset(self, params):
        # Searching by SKU joins the lines: one row per order.
        queryset = super().filtered_queryset(params)
        return queryset.distinct() if (params.get("search") or params.get("query")) else queryset


# ---- packing lists -----------------------------------------------------------------------------------------


class PackingListViewSet(DocumentViewSet):
    """Packing lists: `/v1/packing_lists` with `packing_list_items`, the actions submit, ship, receive
    (arrives every remaining item) and cancel, and `/history`."""

    singular, plural = "packing_list", "packing_lists"
    queryset = PackingList.objects.all()
    serializer_class = PackingListSerializer
    update_serializer_class = PackingListUpdateSerializer
    filterset_class = PackingListFilter
    search_fields = ("number", "invoice_number", "tracking_number", "purchase_order__purchase_order_number")
    ordering_fields = ("created_at", "updated_at", "id", "number", "status", "delivery_date", "arrival_date")
    identity_keys = ("number",)
    create_service = purchasing.packing_list_create
    update_service = purchasing.packing_list_update
    delete_service = purchasing.packing_list_delete

    submit = resource_action(
        "submit",
        done="submitted",
        service=purchasing.packing_list_submit,
        input=ReasonInput,
        description="draft → submitted (ack `submitted`): an unlinked list's items become incoming; a list "
        "for a purchase order adds none (the order counts them) and needs the order sent.",
    )
    ship = resource_action(
        "ship",
        done="shipped",
        service=purchasing.packing_list_ship,
        input=ReasonInput,
        description="submitted → shipped, in transit (ack `shipped`).",
    )
    receive = resource_action(
        "receive",
        done="received",
        service=purchasing.packing_list_receive,
        input=ReasonInput,
        description="submitted, shipped → received (ack `received`): every item not yet arrived arrives. "
        "Needs `inventory.receive_packinglist`.",
    )
    cancel = resource_action(
        "cancel",
        done="cancelled",
        service=purchasing.packing_list_cancel,
        input=ReasonInput,
        description="draft, submitted, shipped → cancelled (ack `cancelled`); incoming the list added for "
        "items that did not arrive is given back.",
    )

    def get_queryset(self):
        return selectors.packing_list_list()


class PackingListItemViewSet(CrudViewSet):
    """Packing list items: `/v1/packing_list_items`. `PATCH {"arrived": true}` or `POST .../arrive` books
    the arrival, exactly once."""

    singular, plural = "packing_list_item", "packing_list_items"
    queryset = PackingListItem.objects.all()
    serializer_class = PackingListItemSerializer
    update_serializer_class = PackingListItemUpdateSerializer
    filterset_class = PackingListItemFilter
    search_fields = ("item__sku", "description")
    ordering_fields = ("created_at", "updated_at", "id")
    create_service = purchasing.packing_list_item_create
    update_service = purchasing.packing_list_item_update
    delete_service = purchasing.packing_list_item_delete

    arrive = resource_action(
        "arrive",
        done="arrived",
        service=purchasing.packing_list_item_arrive,
        input=ReasonInput,
        description="The item arrives (ack `arrived`): incoming → on hand (ledger `receipt`), and a receipt "
        "on the linked purchase order's line. A second arrival is a 422 `already_arrived`.",
    )

    def get_queryset(self):
        return selectors.packing_list_item_list()


# ---- cycle counts ------------------------------------------------------------------------------------------


class CycleCountViewSet(DocumentViewSet):
    """Cycle counts: `/v1/cycle_counts` (alias `/v1/cycle-counts`) with `cycle_count_line_items`, the
    actions start, count, complete, reconcile, cancel, `/discrepancies` and `/history`."""

    singular, plural = "cycle_count", "cycle_counts"
    queryset = CycleCount.objects.all()
    serializer_class = CycleCountSerializer
    update_serializer_class = CycleCountUpdateSerializer
    filterset_class = CycleCountFilter
    search_fields = ("cycle_count_number", "site", "assigned_user", "explanation")
    ordering_fields = ("created_at", "updated_at", "id", "cycle_count_number", "status", "scheduled_start_date")
    identity_keys = ("cycle_count_number",)
    create_service = counting.cycle_count_create
    update_service = counting.cycle_count_update
    delete_service = counting.cycle_count_delete

    start = resource_action(
        "start",
        done="started",
        service=counting.cycle_count_start,
        input=ReasonInput,
        description="open → in_progress (ack `started`): each line's quantity_expected is the on hand now.",
    )
    count = resource_action(
        "count",
        done="counted",
        service=counting.cycle_count_count,
        input=CountInput,
        description="Record counts (ack `counted`; the status stays in_progress).",
    )
    complete = resource_action(
        "complete",
        done="completed",
        service=counting.cycle_count_complete,
        input=ReasonInput,
        description="in_progress → counted (ack `completed`): every line counted or skipped; variances and "
        "accuracy_rate computed.",
    )
    reconcile = resource_action(
        "reconcile",
        done="reconciled",
        service=counting.cycle_count_reconcile,
        input=ReasonInput,
        description="counted → reconciled (ack `reconciled`): one ledger `cycle_count` movement per non-zero "
        "variance, applied to the current on hand; once. Needs `inventory.reconcile_cyclecount`.",
    )
    cancel = resource_action(
        "cancel",
        done="cancelled",
        service=counting.cycle_count_cancel,
        input=ReasonInput,
        description="open, in_progress, counted → cancelled (ack `cancelled`); nothing is posted.",
    )
    custom_response_schemas = {
        "discrepancies": inline_serializer(
            name="CycleCountDiscrepancies",
            fields={
                "discrepancies": CycleCountLineSerializer(many=True),
                "total_count": serializers.IntegerField(),
                "variance_quantity": serializers.IntegerField(),
                "variance_cost": serializers.DecimalField(max_digits=14, decimal_places=2),
            },
        )
    }

    def get_queryset(self):
        return selectors.cycle_count_list()

    @action(detail=True, methods=["get"], url_path="discrepancies")
    def discrepancies(self, request, *args, **kwargs):
        """The lines whose count differs from the snapshot, with the total variance and its cost."""
        lines = list(selectors.cycle_count_discrepancies(self.get_object()))
        return Response(
            {
                "discrepancies": CycleCountLineSerializer(lines, many=True, context=self.get_serializer_context()).data,
                "total_count": len(lines),
                "variance_quantity": sum(line.variance_quantity for line in lines),
                "variance_cost": f"{sum(line.variance_cost for line in lines):.2f}" if lines else "0.00",
            }
        )
