"""Manufacturing viewsets: bills of materials (with explode, cost, build to stock), work orders, manufacture
orders, and their line items as resources of their own. Views parse, call one service, present."""

from __future__ import annotations

from collections.abc import Mapping

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from inventory import services as inv
from manufacturing import selectors, services
from manufacturing.filters import (
    BillOfMaterialsFilter,
    BillOfMaterialsLineItemFilter,
    ManufactureOrderFilter,
    ManufactureOrderLineItemFilter,
    WorkOrderFilter,
    WorkOrderLineItemFilter,
)
from manufacturing.models import (
    BillOfMaterials,
    BillOfMaterialsLineItem,
    ManufactureOrder,
    ManufactureOrderLineItem,
    WorkOrder,
    WorkOrderLineItem,
)
from manufacturing.serializers import (
    ActivateInput,
    BillOfMaterialsLineItemSerializer,
    BillOfMaterialsLineItemUpdateSerializer,
    BillOfMaterialsSerializer,
    BillOfMaterialsUpdateSerializer,
    BuildSerializer,
    BuildToStockInput,
    CompleteInput,
    CostEnvelope,
    CostQuery,
    ExplodeQuery,
    ExplosionEnvelope,
    ManufactureOrderLineItemSerializer,
    ManufactureOrderLineItemUpdateSerializer,
    ManufactureOrderSerializer,
    ManufactureOrderUpdateSerializer,
    ReasonInput,
    WorkOrderLineItemSerializer,
    WorkOrderLineItemUpdateSerializer,
    WorkOrderSerializer,
    WorkOrderUpdateSerializer,
)
from stateset.api import CrudViewSet, DocumentViewSet, has_body, resource_action


def _query(request, serializer_class):
    """GET parameters from the query string, completed by a JSON body (as the StateSet docs send them)."""
    params = request.query_params.dict()
    if has_body(request) and isinstance(request.data, Mapping):
        for key, value in request.data.items():
            params.setdefault(key, value)
    serializer = serializer_class(data=params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _present_build(view, result: services.BuildResult) -> dict:
    return {
        "build": {
            "part": result.bill_of_materials.part.sku,
            "quantity": result.quantity,
            "location": result.location.code,
            "consumed": [{"part_number": sku, "quantity": quantity} for sku, quantity in result.consumed],
        }
    }


def _present_work_orders(view, mo: ManufactureOrder) -> dict:
    work_orders = selectors.work_order_list().filter(manufacture_order=mo).order_by("pk")
    return {"work_orders": WorkOrderSerializer(work_orders, many=True, context=view.get_serializer_context()).data}


class BillOfMaterialsViewSet(DocumentViewSet):
    """Bills of materials: `/v1/bill_of_materials` (alias `GET /v1/bill_of_materials/list`) with the actions
    activate, obsolete, revise and buildtostock, and the reads explode and cost."""

    singular, plural = "bill_of_materials", "bill_of_materials"
    queryset = BillOfMaterials.objects.all()
    serializer_class = BillOfMaterialsSerializer
    update_serializer_class = BillOfMaterialsUpdateSerializer
    filterset_class = BillOfMaterialsFilter
    search_fields = ("number", "name", "description", "part__sku")
    ordering_fields = ("created_at", "updated_at", "id", "number", "name", "revision", "status")
    create_service = services.bom_create
    update_service = services.bom_update
    delete_service = services.bom_delete
    custom_response_schemas = {"explode": ExplosionEnvelope, "cost": CostEnvelope}
    action_extra_schema = {"buildtostock": {"build": BuildSerializer()}}

    activate = resource_action(
        "activate",
        done="activated",
        service=services.bom_activate,
        input=ActivateInput,
        description="Activate a draft BOM (ack `activated`): it needs a part and lines, and no cycle. The part's "
        "other active BOM is a 422 unless `supersede` is true, which obsoletes it.",
    )
    obsolete = resource_action("obsolete", done="obsoleted", service=services.bom_obsolete, input=ReasonInput)
    revise = resource_action(
        "revise",
        done="revised",
        service=services.bom_revise,
        input=ReasonInput,
        description="Copy an active BOM into a new draft revision (ack `revised`, answering the new draft).",
    )
    buildtostock = resource_action(
        "buildtostock",
        done="built_to_stock",
        service=services.bom_build_to_stock,
        input=BuildToStockInput,
        present=_present_build,
        description="Build finished goods to stock (ack `built_to_stock`): consumes the direct components and "
        "receives the part, all or nothing. Needs `manufacturing.buildtostock_billofmaterials`.",
    )

    def get_queryset(self):
        return selectors.bom_list()

    @extend_schema(
        parameters=[
            OpenApiParameter("quantity", int, description="units to make (default 1)"),
            OpenApiParameter("location", str, description="count stock at this location only (code or id)"),
        ],
        summary="The multi-level requirements, flattened to components, with availability and shortages.",
    )
    @action(detail=True, methods=["get"], url_path="explode")
    def explode(self, request, *args, **kwargs):
        bom = self.get_object()
        params = _query(request, ExplodeQuery)
        location = inv.location_resolve(params["location"]) if params.get("location") else None
        explosion = selectors.bom_explode(bill_of_materials=bom, quantity=params["quantity"], location=location)
        return Response({"explosion": explosion})

    @extend_schema(
        parameters=[OpenApiParameter("quantity", int, description="units to cost (default 1)")],
        summary="The rolled-up unit cost, with the per-line breakdown.",
    )
    @action(detail=True, methods=["get"], url_path="cost")
    def cost(self, request, *args, **kwargs):
        bom = self.get_object()
        params = _query(request, CostQuery)
        return Response({"cost": selectors.bom_cost(bill_of_materials=bom, quantity=params["quantity"])})


class BillOfMaterialsLineItemViewSet(CrudViewSet):
    """BOM line items: `/v1/bill_of_materials_line_items` (alias `POST /api/bill_of_materials_line_items`).
    Lines change only while their BOM is a draft."""

    singular, plural = "bill_of_materials_line_item", "bill_of_materials_line_items"
    queryset = BillOfMaterialsLineItem.objects.all()
    serializer_class = BillOfMaterialsLineItemSerializer
    update_serializer_class = BillOfMaterialsLineItemUpdateSerializer
    filterset_class = BillOfMaterialsLineItemFilter
    search_fields = ("item__sku", "part_name", "bill_of_materials__number")
    ordering_fields = ("created_at", "updated_at", "id", "quantity")
    create_service = services.bom_line_create
    update_service = services.bom_line_update
    delete_service = services.bom_line_delete

    def get_queryset(self):
        return selectors.bom_line_list()


class WorkOrderViewSet(DocumentViewSet):
    """Work orders: `/v1/work_orders` (aliases `/v1/work-orders`, `GET /v1/work_order/list`) with the actions
    release, start, complete, hold, resume and cancel."""

    singular, plural = "work_order", "work_orders"
    queryset = WorkOrder.objects.all()
    serializer_class = WorkOrderSerializer
    update_serializer_class = WorkOrderUpdateSerializer
    filterset_class = WorkOrderFilter
    search_fields = ("number", "part__sku", "bill_of_materials__number", "order_number", "memo")
    ordering_fields = (
        "created_at",
        "updated_at",
        "id",
        "number",
        "status",
        "priority",
        "expected_completion_date",
        "issue_date",
    )
    create_service = services.work_order_create
    update_service = services.work_order_update
    delete_service = services.work_order_delete

    release = resource_action(
        "release",
        done="released",
        service=services.work_order_release,
        input=ReasonInput,
        description="Allocate every line's components at the work order's location (ack `released`); a shortage "
        "is a 422 naming each short component. Needs `manufacturing.release_workorder`.",
    )
    start = resource_action(
        "start",
        done="started",
        service=services.work_order_start,
        input=ReasonInput,
        description="Consume the allocated components (ack `started`). Needs `manufacturing.start_workorder`.",
    )
    complete = resource_action(
        "complete",
        done="completed",
        service=services.work_order_complete,
        input=CompleteInput,
        description="Count good (received to stock) and scrapped units (ack `completed`); the work order is "
        "completed once they reach its quantity. Needs `manufacturing.complete_workorder`.",
    )
    hold = resource_action("hold", done="held", service=services.work_order_hold, input=ReasonInput)
    resume = resource_action("resume", done="resumed", service=services.work_order_resume, input=ReasonInput)
    cancel = resource_action(
        "cancel",
        done="cancelled",
        service=services.work_order_cancel,
        input=ReasonInput,
        description="Cancel a work order that has not started (ack `cancelled`), releasing its allocations. "
        "Needs `manufacturing.cancel_workorder`.",
    )

    def get_queryset(self):
        return selectors.work_order_list()


class WorkOrderLineItemViewSet(CrudViewSet):
    """Work order line items: `/v1/work_order_line_items`. Lines change only while the work order is planned."""

    singular, plural = "work_order_line_item", "work_order_line_items"
    queryset = WorkOrderLineItem.objects.all()
    serializer_class = WorkOrderLineItemSerializer
    update_serializer_class = WorkOrderLineItemUpdateSerializer
    filterset_class = WorkOrderLineItemFilter
    search_fields = ("item__sku", "part_name", "work_order__number")
    ordering_fields = ("created_at", "updated_at", "id", "total_quantity")
    create_service = services.work_order_line_create
    update_service = services.work_order_line_update
    delete_service = services.work_order_line_delete

    def get_queryset(self):
        return selectors.work_order_line_list()


class ManufactureOrderViewSet(DocumentViewSet):
    """Manufacture orders: `/v1/manufacture_orders` (alias `GET /v1/manufacture_orders/list`) with the
    actions submit (creates the work orders), hold, resume and cancel."""

    singular, plural = "manufacture_order", "manufacture_orders"
    queryset = ManufactureOrder.objects.all()
    serializer_class = ManufactureOrderSerializer
    update_serializer_class = ManufactureOrderUpdateSerializer
    filterset_class = ManufactureOrderFilter
    search_fields = ("number", "memo", "site", "priority")
    ordering_fields = ("created_at", "updated_at", "id", "number", "status", "expected_completion_date")
    create_service = services.manufacture_order_create
    update_service = services.manufacture_order_update
    delete_service = services.manufacture_order_delete
    action_extra_schema = {"submit": {"work_orders": WorkOrderSerializer(many=True)}}

    submit = resource_action(
        "submit",
        done="submitted",
        service=services.manufacture_order_submit,
        input=ReasonInput,
        present=_present_work_orders,
        description="Submit a draft (ack `submitted`): one planned work order per line, listed under `work_orders`.",
    )
    hold = resource_action("hold", done="held", service=services.manufacture_order_hold, input=ReasonInput)
    resume = resource_action("resume", done="resumed", service=services.manufacture_order_resume, input=ReasonInput)
    cancel = resource_action(
        "cancel",
        done="cancelled",
        service=services.manufacture_order_cancel,
        input=ReasonInput,
        description="Cancel the order (ack `cancelled`) and its work orders that have not started; started "
        "ones keep running.",
    )

    def get_queryset(self):
        return selectors.manufacture_order_list()


class ManufactureOrderLineItemViewSet(CrudViewSet):
    """Manufacture order line items: `/v1/manufacture_order_line_items`. Lines change only while the order
    is a draft."""

    singular, plural = "manufacture_order_line_item", "manufacture_order_line_items"
    queryset = ManufactureOrderLineItem.objects.all()
    serializer_class = ManufactureOrderLineItemSerializer
    update_serializer_class = ManufactureOrderLineItemUpdateSerializer
    filterset_class = ManufactureOrderLineItemFilter
    search_fields = ("item__sku", "part_name", "manufacture_order__number", "bill_of_materials__number")
    ordering_fields = ("created_at", "updated_at", "id", "quantity", "expected_date")
    create_service = services.manufacture_order_line_create
    update_service = services.manufacture_order_line_update
    delete_service = services.manufacture_order_line_delete

    def get_queryset(self):
        return selectors.manufacture_order_line_list()
