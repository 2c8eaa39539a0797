"""Shared helpers for the returns tests: shipped orders, returns and warranties in any status through the
services, and snapshots proving that a refusal changed nothing."""

from __future__ import annotations

from decimal import Decimal

from django_fsm_log.models import StateLog

from inventory.models import Allocation, StockLevel, StockMovement
from inventory.selectors import ledger_mismatches
from orders.models import Order, OrderLineItem, Refund
from returns import services
from returns.models import Return, ReturnLineItem, Warranty, WarrantyLineItem
from tests.factories import SYSTEM, make_item, make_order

# Contract §4: the statuses each return action is allowed from, and where it leads.
RETURN_STATUSES = ["requested", "approved", "rejected", "received", "refunded", "cancelled", "closed"]
RETURN_SOURCES = {
    "approve": ["requested"],
    "reject": ["requested"],
    "receive": ["approved"],
    "refund": ["received"],
    "cancel": ["requested", "approved"],
    "close": ["received", "refunded", "rejected", "cancelled"],
    "reopen": ["rejected", "cancelled"],
}
RETURN_TARGETS = {
    "approve": "approved",
    "reject": "rejected",
    "receive": "received",
    "refund": "refunded",
    "cancel": "cancelled",
    "close": "closed",
    "reopen": "requested",
}
RETURN_ACKS = {
    "approve": "approved",
    "reject": "rejected",
    "receive": "received",
    "refund": "refunded",
    "cancel": "cancelled",
    "close": "closed",
    "reopen": "reopened",
}
RETURN_BODIES = {"reject": {"reason": "outside the window"}}
# The services that walk a new return to each status.
RETURN_PATHS = {
    "requested": [],
    "approved": ["return_approve"],
    "rejected": ["return_reject"],
    "received": ["return_approve", "return_receive"],
    "refunded": ["return_approve", "return_receive", "return_refund"],
    "cancelled": ["return_cancel"],
    "closed": ["return_cancel", "return_close"],
}

WARRANTY_STATUSES = ["requested", "approved", "denied", "completed", "cancelled"]
WARRANTY_SOURCES = {
    "approve": ["requested"],
    "deny": ["requested"],
    "complete": ["approved"],
    "cancel": ["requested", "approved"],
    "reopen": ["denied", "cancelled"],
}
WARRANTY_TARGETS = {
    "approve": "approved",
    "deny": "denied",
    "complete": "completed",
    "cancel": "cancelled",
    "reopen": "requested",
}
WARRANTY_ACKS = {
    "approve": "approved",
    "deny": "denied",
    "complete": "completed",
    "cancel": "cancelled",
    "reopen": "reopened",
}
WARRANTY_PATHS = {
    "requested": [],
    "approved": ["warranty_approve"],
    "denied": ["warranty_deny"],
    "completed": ["warranty_approve", "warranty_complete"],
    "cancelled": ["warranty_cancel"],
}


def stock(on_hand: int = 50):
    """Items A and B with `on_hand` each at MAIN."""
    return make_item("A", on_hand=on_hand), make_item("B", on_hand=on_hand)


def shipped(*lines, status: str = "delivered", **fields) -> Order:
    """An order of `lines` (default A × 2 at 10.00, B × 1 at 5.00: total 25.00), shipped or delivered."""
    return make_order(*(lines or (("A", 2, "10.00"), ("B", 1, "5.00"))), status=status, **fields)


def lines_of(order: Order) -> list[OrderLineItem]:
    return list(OrderLineItem.objects.filter(order=order).order_by("pk"))


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def make_return(order: Order | None = None, quantities: dict | None = None, status: str = "requested", **fields):
    """A return of `order` (a new delivered one by default) for `quantities` {order line: units} (default: every
    unit of its first line), brought to `status` through the services."""
    order = order or shipped()
    if quantities is None:
        first = lines_of(order)[0]
        quantities = {first: first.quantity}
    specs = [{"order_line_item": line.pk, "quantity": q} for line, q in quantities.items()]
    ret = services.return_create(by=SYSTEM, order=order, return_line_items=specs, **fields)
    for name in RETURN_PATHS[status]:
        kwargs = {"reason": "test"} if name in ("return_reject", "return_cancel") else {}
        ret = getattr(services, name)(return_=ret, by=SYSTEM, **kwargs)
    return fresh(ret)


def make_warranty(order: Order | None = None, status: str = "requested", lines=({"sku": "A"},), **fields) -> Warranty:
    """A claim on `order` (optional) with `lines`, brought to `status` through the services."""
    claim = services.warranty_create(by=SYSTEM, order=order, warranty_line_items=list(lines), **fields)
    for name in WARRANTY_PATHS[status]:
        kwargs = {"reason": "test"} if name == "warranty_deny" else {}
        claim = getattr(services, name)(warranty=claim, by=SYSTEM, **kwargs)
    return fresh(claim)


def return_lines(ret: Return) -> list[ReturnLineItem]:
    return list(ReturnLineItem.objects.filter(parent_return=ret).order_by("pk"))


def snapshot(*docs) -> dict:
    """Everything a return or warranty action could change: the documents and their lines, every order (status,
    refunds, returned quantities), stock levels, allocations, the ledger, refund rows and the history."""
    state = {
        "docs": [(type(d).__name__, d.pk, fresh(d).status, str(fresh(d).updated_at)) for d in docs],
        "returns": list(Return.objects.order_by("pk").values_list("pk", "status", "amount", "total_refunded")),
        "return_lines": list(
            ReturnLineItem.objects.order_by("pk").values_list(
                "pk", "quantity", "quantity_received", "condition", "restocked", "status", "amount"
            )
        ),
        "warranties": list(
            Warranty.objects.order_by("pk").values_list(
                "pk", "status", "replacement_order_id", "replacement_order_created"
            )
        ),
        "warranty_lines": list(WarrantyLineItem.objects.order_by("pk").values_list("pk", "sku", "quantity")),
        "orders": list(Order.objects.order_by("pk").values_list("pk", "status", "amount_refunded", "total")),
        "order_lines": list(OrderLineItem.objects.order_by("pk").values_list("pk", "quantity_returned", "status")),
        "levels": list(StockLevel.objects.order_by("pk").values_list("pk", "on_hand", "allocated", "incoming")),
        "allocations": list(Allocation.objects.order_by("pk").values_list("pk", "quantity", "status")),
        "movements": StockMovement.objects.count(),
        "refunds": Refund.objects.count(),
        "history": StateLog.objects.count(),
    }
    return state


def assert_consistent() -> None:
    """The ledger matches the levels, and every order line's returned units are exactly what the returns that
    hold units count on it."""
    assert ledger_mismatches() == []
    held = {}
    for line in ReturnLineItem.objects.filter(
        parent_return__status__in=["requested", "approved", "received", "refunded", "closed"]
    ).select_related("parent_return"):
        ret = line.parent_return
        if ret.status == "closed" and not ret.warehouse_received_date:
            continue  # closed after a rejection or cancellation: its units were given back
        held[line.order_line_item_id] = held.get(line.order_line_item_id, 0) + line.quantity
    returned_by_returns = dict(OrderLineItem.objects.filter(pk__in=held).values_list("pk", "quantity_returned"))
    assert returned_by_returns == held


def money(value: str) -> Decimal:
    return Decimal(value)
