"""Every write to orders, promotions and wholesale orders. Views, the admin and commands call these, as
`from orders import services` then `services.order_create(...)`; this package re-exports each service from
the module that holds it, so callers never name a module.

Each service is one transaction that:

1. locks the order row(s) with `SELECT ... FOR UPDATE`, several in primary-key order, and re-reads them;
2. checks the transition (permission: 403; status: 422 `invalid_state_transition`) before any effect;
3. changes stock only through `inventory.services` (which lock the stock levels after the orders);
4. recomputes the totals with `order_recompute_totals`, the one function that writes them;
5. saves through `stateset.fsm.apply_transition`, which writes the audit row.

A refusal raises before anything is written or rolls the whole transaction back: nothing half-done.

Money (contract §3): subtotal = Σ quantity × unit_price; discount_total = manual discounts + promotion,
never above the subtotal; total = subtotal − discount_total + shipping_total + tax_total. Every amount is a
Decimal rounded half-up to the cent. Each line carries its share of the discounts (`discount_total`) so
that Σ line totals = subtotal − discount_total.

For the returns app (which imports this package, never the reverse): `order_record_refund`,
`order_lines_add_returned` / `order_lines_remove_returned`, `order_mark_returned`, `order_mark_exchanged`
and `order_create_replacement`.

The modules, each one aggregate or one concern (they import each other by full path, one way, no cycles):

- `pricing`: the totals (`order_recompute_totals`) and proration;
- `locks`: locking several orders in one global order, and a transition under the row lock;
- `documents`: what orders and wholesale orders share (numbers, customers, SKUs, history reasons);
- `lines`: building, allocating and finding order lines, and the one rule for combining two lines;
- `orders`: one order on its own: create, update, status, lines, manual discounts, tags, ship, cancel;
- `promotions`: promotions, and applying one to an order;
- `refunds`: refunds on an order;
- `shipments`: shipments (parcels), ship (in parts or whole), cancel_remaining, reallocate;
- `split_merge`: `order_split` and `order_merge`, each as plan → compute → apply;
- `returns_hooks`: what the returns app calls;
- `wholesale`: wholesale orders.
"""

from orders.services.documents import DOCUMENT, WHOLESALE_DOCUMENT
from orders.services.lines import LineSpec, line_ref, lines_combine
from orders.services.orders import (
    CHARGED_FIELDS,
    CREATE_ONLY_FIELDS,
    HEADER_FIELDS,
    order_add_discount,
    order_add_item,
    order_cancel,
    order_create,
    order_deliver,
    order_hold,
    order_process,
    order_release,
    order_remove_discount,
    order_remove_item,
    order_tag,
    order_untag,
    order_update,
)
from orders.services.pricing import order_recompute_totals, prorate
from orders.services.promotions import (
    PROMOTION_FIELDS,
    PROMOTION_TERMS,
    order_apply_promotion,
    order_remove_promotion,
    promotion_create,
    promotion_delete,
    promotion_update,
)
from orders.services.refunds import order_record_refund, order_refund
from orders.services.returns_hooks import (
    order_create_replacement,
    order_lines_add_returned,
    order_lines_remove_returned,
    order_mark_exchanged,
    order_mark_returned,
)
from orders.services.shipments import (
    SHIPMENT_FIELDS,
    order_cancel_remaining,
    order_reallocate,
    order_ship,
    reserved_units,
    shipment_cancel,
    shipment_create,
    shipment_delete,
    shipment_deliver,
    shipment_mark_in_transit,
    shipment_mark_lost,
    shipment_return_to_sender,
    shipment_ship,
    shipment_update,
    shippable_units,
)
from orders.services.split_merge import COPIED_ON_SPLIT, SplitResult, order_merge, order_merge_many, order_split
from orders.services.wholesale import (
    WHOLESALE_FIELDS,
    wholesale_order_approve,
    wholesale_order_cancel,
    wholesale_order_close,
    wholesale_order_create,
    wholesale_order_fulfill,
    wholesale_order_submit,
    wholesale_order_update,
)

__all__ = [
    "SHIPMENT_FIELDS",
    "order_cancel_remaining",
    "order_reallocate",
    "reserved_units",
    "shipment_cancel",
    "shipment_create",
    "shipment_delete",
    "shipment_deliver",
    "shipment_mark_in_transit",
    "shipment_mark_lost",
    "shipment_return_to_sender",
    "shipment_ship",
    "shipment_update",
    "shippable_units",
    "CHARGED_FIELDS",
    "COPIED_ON_SPLIT",
    "CREATE_ONLY_FIELDS",
    "DOCUMENT",
    "HEADER_FIELDS",
    "PROMOTION_FIELDS",
    "PROMOTION_TERMS",
    "WHOLESALE_DOCUMENT",
    "WHOLESALE_FIELDS",
    "LineSpec",
    "SplitResult",
    "line_ref",
    "lines_combine",
    "order_add_discount",
    "order_add_item",
    "order_apply_promotion",
    "order_cancel",
    "order_create",
    "order_create_replacement",
    "order_deliver",
    "order_hold",
    "order_lines_add_returned",
    "order_lines_remove_returned",
    "order_mark_exchanged",
    "order_mark_returned",
    "order_merge",
    "order_merge_many",
    "order_process",
    "order_recompute_totals",
    "order_refund",
    "order_record_refund",
    "order_release",
    "order_remove_discount",
    "order_remove_item",
    "order_remove_promotion",
    "order_ship",
    "order_split",
    "order_tag",
    "order_untag",
    "order_update",
    "promotion_create",
    "promotion_delete",
    "promotion_update",
    "prorate",
    "wholesale_order_approve",
    "wholesale_order_cancel",
    "wholesale_order_close",
    "wholesale_order_create",
    "wholesale_order_fulfill",
    "wholesale_order_submit",
    "wholesale_order_update",
]
