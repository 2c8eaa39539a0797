"""The whole map: the admin, /healthz, and the API at /v1 (one router, one alias table), also served at the
root and under /api/ (the official client's base URLs; see ROOT and /api aliases below).

The one module of `stateset` that imports the domain apps, on purpose: the root URL conf has to name every
app's viewsets, and the API map stays in one file beside the conventions it serves (stateset/schema.py reads
its alias table). It is the documented exception to "the core depends on nothing above it": the
import-linter contract in pyproject.toml ignores exactly its imports of the apps' `api` modules, and
nothing in `stateset` imports this module at import time.
"""

from __future__ import annotations

import re

from django.contrib import admin
from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from crm.api import CaseViewSet, CustomerViewSet, LeadViewSet
from inventory.api import (
    CycleCountViewSet,
    InventoryItemViewSet,
    LocationViewSet,
    PackingListItemViewSet,
    PackingListViewSet,
    PurchaseOrderViewSet,
)
from manufacturing.api import (
    BillOfMaterialsLineItemViewSet,
    BillOfMaterialsViewSet,
    ManufactureOrderLineItemViewSet,
    ManufactureOrderViewSet,
    WorkOrderLineItemViewSet,
    WorkOrderViewSet,
)
from orders.api import PromotionViewSet, ShipmentViewSet, WholesaleOrderViewSet
from returns.api import (
    OrdersWithReturnsViewSet,
    ReturnLineItemViewSet,
    ReturnViewSet,
    WarrantyLineItemViewSet,
    WarrantyViewSet,
)
from stateset.api import api_not_found
from stateset.docs import DocsView, SchemaView
from stateset.events_api import EventViewSet, WebhookEndpointViewSet
from stateset.views import healthz, readyz

# Canonical resources: (path under /v1, viewset). The middleware makes every route answer with or without
# a trailing slash, so the router declares none.
RESOURCES = [
    ("customers", CustomerViewSet),
    ("leads", LeadViewSet),
    ("cases", CaseViewSet),
    ("inventory_items", InventoryItemViewSet),
    ("locations", LocationViewSet),
    ("purchase_orders", PurchaseOrderViewSet),
    ("packing_lists", PackingListViewSet),
    ("packing_list_items", PackingListItemViewSet),
    ("cycle_counts", CycleCountViewSet),
    ("bill_of_materials", BillOfMaterialsViewSet),
    ("bill_of_materials_line_items", BillOfMaterialsLineItemViewSet),
    ("work_orders", WorkOrderViewSet),
    ("work_order_line_items", WorkOrderLineItemViewSet),
    ("manufacture_orders", ManufactureOrderViewSet),
    ("manufacture_order_line_items", ManufactureOrderLineItemViewSet),
    # The orders viewset extended by the returns app with `return` and `exchange` (see returns/api.py).
    ("orders", OrdersWithReturnsViewSet),
    ("promotions", PromotionViewSet),
    ("wholesale_orders", WholesaleOrderViewSet),
    ("shipments", ShipmentViewSet),
    ("returns", ReturnViewSet),
    ("return_line_items", ReturnLineItemViewSet),
    ("warranties", WarrantyViewSet),
    ("warranty_line_items", WarrantyLineItemViewSet),
    ("events", EventViewSet),
    ("webhook_endpoints", WebhookEndpointViewSet),
]

# Documented variant paths onto the same views (contract §0). None of them is in the OpenAPI schema.
# A prefix alias serves every route of the resource under another name.
PREFIX_ALIASES: dict[str, str] = {
    "inventory": "inventory_items",
    "purchase-orders": "purchase_orders",
    "cycle-counts": "cycle_counts",
    "work-orders": "work_orders",
    "order": "orders",
    "wholesale_order": "wholesale_orders",
    "return": "returns",
    "return_line_item": "return_line_items",
    "warranty": "warranties",
    "warranty_line_item": "warranty_line_items",
}

# A route alias serves one documented path: (path under /v1, canonical resource, {method: viewset action}).
ROUTE_ALIASES = [
    ("customers/list", "customers", {"get": "list"}),
    ("customer/list", "customers", {"get": "list"}),
    ("leads/<int:pk>/retrieve", "leads", {"get": "retrieve"}),
    ("cases/list", "cases", {"get": "list"}),
    ("purchase_orders/list", "purchase_orders", {"get": "list"}),
    ("bill_of_materials/list", "bill_of_materials", {"get": "list"}),
    ("work_order/list", "work_orders", {"get": "list"}),
    ("manufacture_orders/list", "manufacture_orders", {"get": "list"}),
    ("order/<int:pk>/retrieve", "orders", {"get": "retrieve"}),
    ("return/<int:pk>/retrieve", "returns", {"get": "retrieve"}),
    ("return_line_items/create", "return_line_items", {"post": "create"}),
    ("warranty/list", "warranties", {"get": "list"}),
]

# Aliases outside /v1 (the documented BOM line create lives at /api/...): (full path, resource, actions).
ROOT_ALIASES: list[tuple[str, str, dict[str, str]]] = [
    ("/api/bill_of_materials_line_items", "bill_of_materials_line_items", {"post": "create"}),
]

router = SimpleRouter(trailing_slash="")
_viewsets = dict(RESOURCES)
for prefix, viewset in RESOURCES:
    router.register(prefix, viewset, basename=viewset.singular)
for alias, canonical in PREFIX_ALIASES.items():
    router.register(alias, _viewsets[canonical], basename=f"alias-{alias}")


def _alias_view(canonical: str, actions: dict[str, str]):
    return _viewsets[canonical].as_view(actions)


resource_patterns = [
    *[path(alias, _alias_view(canonical, actions)) for alias, canonical, actions in ROUTE_ALIASES],
    *router.urls,
]
api_patterns = [
    path("schema", SchemaView.as_view(), name="schema"),
    path("docs", DocsView.as_view(url_name="schema"), name="docs"),
    *resource_patterns,
]

# The official Python client requests `orders`, `returns`, ... relative to its base URL, which its README
# gives as a host (no /v1) or a host ending in /api: every resource route of /v1 is served there too (not
# the schema or docs). Namespaced, so `reverse("order-detail")` (the Location of a create) stays /v1.
# Every other path outside /admin/ and /static/ is the API's JSON 404, including the client's resources
# this server does not have (workflows, agents, channels, messages, rules, activities).
urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("v1/", include(api_patterns)),
    *[path(full.lstrip("/"), _alias_view(canonical, actions)) for full, canonical, actions in ROOT_ALIASES],
    path("api/", include((resource_patterns, "api"), namespace="api-alias")),
    path("", include((resource_patterns, "root"), namespace="root-alias")),
    # `[\s\S]`, not `.`: a path may hold a newline (`/v1/orders/1%0A`), which `.` does not match. (Not the
    # `(?s)` flag: Django's reverse() cannot read it and fails on every route.)
    re_path(r"^(?!admin/|static/)[\s\S]*$", api_not_found),
]


def _route_regex(route: str) -> re.Pattern[str]:
    """`order/<int:pk>/retrieve` -> a regex matching the schema's `/v1/order/{id}/retrieve`."""
    segments = ("[^/]+" if seg.startswith("<") else re.escape(seg) for seg in route.strip("/").split("/"))
    return re.compile("^/" + "/".join(segments) + "$")


def _alias_regexes() -> list[re.Pattern[str]]:
    patterns = [re.compile(rf"^/v1/{re.escape(alias)}(/.*)?$") for alias in PREFIX_ALIASES]
    patterns += [_route_regex(f"v1/{alias}") for alias, _, _ in ROUTE_ALIASES]
    patterns += [_route_regex(full) for full, _, _ in ROOT_ALIASES]
    return patterns


def is_alias_path(schema_path: str) -> bool:
    """True for a path of the OpenAPI schema that an alias serves (the schema lists canonical paths only):
    everything outside /v1/ (the root and /api/ copies) and the variant paths under it."""
    return not schema_path.startswith("/v1/") or any(p.match(schema_path) for p in _alias_regexes())


# Errors raised before or outside any view (an oversized body, a middleware's failure): under /v1 and /api
# in the error shape too.
handler400 = "stateset.api.bad_request"
handler500 = "stateset.api.server_error"
