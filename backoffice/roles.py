"""The back office's roles: which permissions each staff group holds. `python manage.py setup_roles` makes the
groups match this table (README: *Back office → Roles*).

Each role maps a model ("app_label.modelname") to verbs. A verb is one of Django's `view`, `add`, `change`,
`delete`, or a named action from the model's `Meta.permissions`, whose codename is `<verb>_<modelname>`
(`ship` on orders.order is `orders.ship_order`). The API and the admin check the same permissions: `view_`
to read, `change_` to run any action (the admin's buttons and actions need it too), and the named one for
an action that moves stock or money, checked by the service.
"""

from __future__ import annotations

from collections.abc import Iterable

VIEW = ("view",)
EDIT = ("view", "add", "change", "delete")

# Models whose rows every role may read to do its job (a document's lines, the stock beside it, ...).
STOCK_LOOKUP = {
    "inventory.inventoryitem": VIEW,
    "inventory.location": VIEW,
    "inventory.stocklevel": VIEW,
    "inventory.stockmovement": VIEW,
    "inventory.allocation": VIEW,
}
ORDER_LOOKUP = {
    "orders.orderlineitem": VIEW,
    "orders.orderdiscount": VIEW,
    "orders.ordertag": VIEW,
    "orders.refund": VIEW,
    "orders.shipment": VIEW,
    "orders.shipmentlineitem": VIEW,
}

ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    # Receives goods, ships orders, counts and moves stock, books returned goods back in.
    "warehouse": {
        **STOCK_LOOKUP,
        **ORDER_LOOKUP,
        "crm.customer": VIEW,
        "inventory.location": ("view", "add", "change"),
        "inventory.inventoryitem": ("view", "add", "change", "adjust", "transfer"),
        "inventory.purchaseorder": ("view", "change", "receive"),
        "inventory.purchaseorderlineitem": VIEW,
        "inventory.packinglist": (*EDIT, "receive"),
        "inventory.packinglistitem": EDIT,
        "inventory.cyclecount": (*EDIT, "reconcile"),
        "inventory.cyclecountlineitem": EDIT,
        "orders.order": ("view", "change", "ship"),
        # Parcels (issue #18): created, shipped, tracked and deleted while pending.
        "orders.shipment": ("view", "add", "change", "delete"),
        "orders.wholesaleorder": ("view", "change", "fulfill"),
        "orders.wholesaleorderlineitem": VIEW,
        "returns.return": ("view", "change", "receive"),
        "returns.returnlineitem": VIEW,
        "manufacturing.workorder": VIEW,
        "manufacturing.workorderlineitem": VIEW,
    },
    # Looks after customers: leads, cases, orders (lines, hold, cancel, discounts, split, merge), returns and
    # warranty claims up to their approval. Neither ships nor refunds.
    "customer service": {
        **ORDER_LOOKUP,
        "inventory.inventoryitem": VIEW,
        "inventory.location": VIEW,
        "crm.customer": ("view", "add", "change"),
        "crm.lead": (*EDIT, "convert"),
        "crm.case": EDIT,
        "orders.order": ("view", "add", "change", "edit", "cancel", "split", "merge", "discount"),
        "orders.ordertag": EDIT,
        "orders.promotion": VIEW,
        "orders.wholesaleorder": VIEW,
        "orders.wholesaleorderlineitem": VIEW,
        "returns.return": ("view", "add", "change", "approve"),
        "returns.returnlineitem": EDIT,
        "returns.warranty": ("view", "add", "change", "approve"),
        "returns.warrantylineitem": EDIT,
    },
    # Plans and runs production: bills of materials, work orders, manufacture orders, build to stock.
    "manufacturing": {
        **STOCK_LOOKUP,
        "manufacturing.billofmaterials": (*EDIT, "buildtostock"),
        "manufacturing.billofmaterialslineitem": EDIT,
        "manufacturing.workorder": (*EDIT, "release", "start", "complete", "cancel"),
        "manufacturing.workorderlineitem": EDIT,
        "manufacturing.manufactureorder": EDIT,
        "manufacturing.manufactureorderlineitem": EDIT,
    },
    # Money: refunds, promotions, wholesale credit (approve, cancel), purchasing (approve, send, finance).
    "finance": {
        **ORDER_LOOKUP,
        "crm.customer": VIEW,
        "inventory.inventoryitem": VIEW,
        "inventory.location": VIEW,
        "inventory.stockmovement": VIEW,
        "orders.order": ("view", "change", "refund"),
        "orders.promotion": EDIT,
        "orders.wholesaleorder": ("view", "change", "approve", "cancel"),
        "orders.wholesaleorderlineitem": VIEW,
        "inventory.purchaseorder": (*EDIT, "approve", "send", "cancel", "finance"),
        "inventory.purchaseorderlineitem": EDIT,
        "returns.return": ("view", "change", "refund"),
        "returns.returnlineitem": VIEW,
        "returns.warranty": VIEW,
        "returns.warrantylineitem": VIEW,
    },
}

# Read-only sees every model of these apps and changes nothing: its view_ permissions only.
READ_ONLY = "read-only"
READ_ONLY_APPS = ("crm", "inventory", "orders", "returns", "manufacturing")
ROLE_NAMES = (*ROLES, READ_ONLY)


def codenames(model: str, verbs: Iterable[str]) -> list[tuple[str, str]]:
    """[(app_label, codename)] for `verbs` on `model` ("orders.order", ["view", "ship"])."""
    app_label, model_name = model.split(".")
    return [(app_label, f"{verb}_{model_name}") for verb in verbs]


def role_permissions(role: str) -> list[tuple[str, str]]:
    """The (app_label, codename) pairs `role` holds; read-only's are found in the database (every view_
    permission of READ_ONLY_APPS), the others come from ROLES."""
    if role == READ_ONLY:
        from django.contrib.auth.models import Permission

        rows = Permission.objects.filter(content_type__app_label__in=READ_ONLY_APPS, codename__startswith="view_")
        return sorted(rows.values_list("content_type__app_label", "codename"))
    return sorted({pair for model, verbs in ROLES[role].items() for pair in codenames(model, verbs)})
