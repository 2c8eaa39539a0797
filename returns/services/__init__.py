"""Every write to returns and warranties, and the two order operations this app serves (`return`, `exchange`).
Views, the admin, commands and the demo call these.

Each service is one transaction that locks its document first (a return, then its order; a warranty, then
its orders), checks the transition (permission: 403; status: 422 `invalid_state_transition`) before any
effect, and reaches the other apps only through their services:

- `orders.services` counts units as returned and gives them back (`order_lines_add_returned` /
  `order_lines_remove_returned`), records refunds within the order's balance (`order_record_refund`), makes
  replacement orders (`order_create_replacement`) and marks an order exchanged;
- `inventory.services.stock_receive` puts restocked goods back on hand (ledger `return_restock`).

**The one rule on quantities.** A return's lines count as returned on the order's lines from the moment
they exist until the return is rejected or cancelled, and again once it is reopened. Every path that
creates or grows a line — `return_create` (API, admin), `return_line_item_create` / `_update` (the line
resource, the admin inline), `order_return` and `order_exchange` (the order actions), `return_reopen` —
counts the units through `return_units_take`, which calls `orders.services.order_lines_add_returned`:
under the order's row lock, more than the line shipped and has not had returned is a 422
`return_exceeds_shipped` and nothing is written. So two returns racing for the last unit have one winner.

A refusal raises before anything is written or rolls the whole transaction back: nothing half-done.

**The modules.** `returns` (RMAs and their lines), `order_operations` (the order actions `return` and
`exchange`), `warranties` (claims), `lines` (the one rule on quantities and what a return line is worth) and
`common` (input checks, the order lookup, history notes). Each imports the siblings it needs; callers import
from `returns.services`.
"""

from returns.services.common import order_resolve
from returns.services.lines import (
    GAVE_BACK,
    LINE_FIELDS,
    LINE_UPDATE_FIELDS,
    return_lines_check,
    return_units_give_back,
    return_units_take,
)
from returns.services.order_operations import (
    ExchangeResult,
    order_exchange,
    order_return,
)
from returns.services.returns import (
    DOCUMENT,
    RETURN_FIELDS,
    RETURN_UPDATE_FIELDS,
    return_approve,
    return_cancel,
    return_close,
    return_create,
    return_default_refund,
    return_delete,
    return_line_item_create,
    return_line_item_delete,
    return_line_item_update,
    return_receive,
    return_refund,
    return_reject,
    return_reopen,
    return_update,
)
from returns.services.warranties import (
    WARRANTY_FIELDS,
    WARRANTY_LINE_FIELDS,
    StatusChange,
    warranty_approve,
    warranty_cancel,
    warranty_complete,
    warranty_create,
    warranty_delete,
    warranty_deny,
    warranty_line_item_create,
    warranty_line_item_delete,
    warranty_line_item_update,
    warranty_reopen,
    warranty_set_status,
    warranty_update,
)

__all__ = [
    "DOCUMENT",
    "GAVE_BACK",
    "ExchangeResult",
    "LINE_FIELDS",
    "LINE_UPDATE_FIELDS",
    "RETURN_FIELDS",
    "RETURN_UPDATE_FIELDS",
    "StatusChange",
    "WARRANTY_FIELDS",
    "WARRANTY_LINE_FIELDS",
    "order_exchange",
    "order_resolve",
    "order_return",
    "return_approve",
    "return_cancel",
    "return_close",
    "return_create",
    "return_default_refund",
    "return_delete",
    "return_line_item_create",
    "return_line_item_delete",
    "return_line_item_update",
    "return_lines_check",
    "return_receive",
    "return_refund",
    "return_reject",
    "return_reopen",
    "return_units_give_back",
    "return_units_take",
    "return_update",
    "warranty_approve",
    "warranty_cancel",
    "warranty_complete",
    "warranty_create",
    "warranty_delete",
    "warranty_deny",
    "warranty_line_item_create",
    "warranty_line_item_delete",
    "warranty_line_item_update",
    "warranty_reopen",
    "warranty_set_status",
    "warranty_update",
]
