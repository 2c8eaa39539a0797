"""Every write of the manufacturing app. Each service is one transaction that locks the document rows it
changes first (a manufacture order before its work orders, several rows in primary-key order), re-reads
them under the lock, checks the rules, then moves stock only through `inventory.services` (ledger reasons
`production_consume` and `production_output`) and runs the status change through
`stateset.fsm.apply_transition` (permission, source state, StateLog row).

A refused request changes nothing: stock shortages are inventory's InsufficientStock (422
`insufficient_stock`, naming every short SKU), and the transaction rolls back whatever ran before.

One module per document: `boms`, `work_orders`, `manufacture_orders` (which plans and cancels work orders,
so it imports `work_orders`, never the reverse), and `documents`, the helpers they share. Callers use
`from manufacturing import services` and the names below.
"""

from manufacturing.services.boms import (
    BOM_FIELDS,
    BOM_LINE_FIELDS,
    BuildResult,
    bom_activate,
    bom_build_to_stock,
    bom_create,
    bom_delete,
    bom_line_check,
    bom_line_create,
    bom_line_delete,
    bom_line_update,
    bom_obsolete,
    bom_revise,
    bom_update,
)
from manufacturing.services.manufacture_orders import (
    MANUFACTURE_ORDER_FIELDS,
    MO_LINE_FIELDS,
    manufacture_order_cancel,
    manufacture_order_create,
    manufacture_order_delete,
    manufacture_order_hold,
    manufacture_order_line_check,
    manufacture_order_line_create,
    manufacture_order_line_delete,
    manufacture_order_line_update,
    manufacture_order_resume,
    manufacture_order_submit,
    manufacture_order_update,
)
from manufacturing.services.work_orders import (
    WORK_ORDER_FIELDS,
    WORK_ORDER_LINE_FIELDS,
    WORK_ORDER_PLAN_FIELDS,
    manufacture_order_sync_status,
    work_order_cancel,
    work_order_complete,
    work_order_create,
    work_order_delete,
    work_order_hold,
    work_order_line_create,
    work_order_line_delete,
    work_order_line_update,
    work_order_release,
    work_order_resume,
    work_order_start,
    work_order_update,
)

__all__ = [
    # boms
    "BOM_FIELDS",
    "BOM_LINE_FIELDS",
    "BuildResult",
    "bom_activate",
    "bom_build_to_stock",
    "bom_create",
    "bom_delete",
    "bom_line_check",
    "bom_line_create",
    "bom_line_delete",
    "bom_line_update",
    "bom_obsolete",
    "bom_revise",
    "bom_update",
    # work_orders
    "WORK_ORDER_FIELDS",
    "WORK_ORDER_LINE_FIELDS",
    "WORK_ORDER_PLAN_FIELDS",
    "manufacture_order_sync_status",
    "work_order_cancel",
    "work_order_complete",
    "work_order_create",
    "work_order_delete",
    "work_order_hold",
    "work_order_line_create",
    "work_order_line_delete",
    "work_order_line_update",
    "work_order_release",
    "work_order_resume",
    "work_order_start",
    "work_order_update",
    # manufacture_orders
    "MANUFACTURE_ORDER_FIELDS",
    "MO_LINE_FIELDS",
    "manufacture_order_cancel",
    "manufacture_order_create",
    "manufacture_order_delete",
    "manufacture_order_hold",
    "manufacture_order_line_check",
    "manufacture_order_line_create",
    "manufacture_order_line_delete",
    "manufacture_order_line_update",
    "manufacture_order_resume",
    "manufacture_order_submit",
    "manufacture_order_update",
]
