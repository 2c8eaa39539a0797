"""The order operations this app serves: `POST /v1/orders/{id}/return` and `POST /v1/orders/{id}/exchange`.
Both make their Return through `return_create`, so its units are counted through the one rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from orders import services as order_services
from orders.errors import ReturnExceedsShipped
from orders.models import Order, OrderLineItem
from orders.states import EXCHANGEABLE, RETURNABLE
from returns.models import Return
from returns.services.common import join_notes, require_order_status, require_perm
from returns.services.lines import order_lines_by_id
from returns.services.returns import return_create
from stateset.actors import Actor
from stateset.fsm import lock, log_event
from stateset.money import ZERO, round_cents


def _lines_with_goods(order: Order) -> list[OrderLineItem]:
    """The lines whose units a `return_all` returns: those that need stock (gift wrap and services do not
    come back), or every line of an order that has none."""
    lines = list(order_lines_by_id(order).values())
    return [line for line in lines if line.requires_inventory] or lines


def order_return(
    *,
    order: Order,
    by: Actor,
    items: Sequence[Mapping[str, Any]] | None = None,
    return_all: bool = False,
    reason: str = "",
) -> Return:
    """`POST /v1/orders/{id}/return`: a Return (status requested) for `items` ([{order_item_id, quantity,
    reason?}]) or, with `return_all`, for every shipped unit not yet returned of the order's goods. The
    order must be shipped or delivered (422); the units are counted through the one rule (422
    `return_exceeds_shipped`, nothing created), and the order moves to `returned` once every shipped unit
    is under a return. Needs `returns.add_return` (the view needs `orders.change_order`)."""
    require_perm(by, "returns.add_return", "create a return")
    with transaction.atomic():
        order = lock(Order, order.pk)
        require_order_status(order, RETURNABLE, "return")
        if return_all:
            specs = [
                {"order_line_item": line.pk, "quantity": line.quantity_returnable}
                for line in _lines_with_goods(order)
                if line.quantity_returnable > 0
            ]
            if not specs:
                raise ReturnExceedsShipped(
                    f"Every shipped unit of order {order.display_number} is already returned.", errors={"items": []}
                )
        else:
            specs = [
                {"order_line_item": item["order_item_id"], "quantity": item["quantity"], "reason": item.get("reason")}
                for item in items or ()
            ]
        return return_create(by=by, order=order, return_line_items=specs, issue=reason, reason=reason)


@dataclass
class ExchangeResult:
    """What `order_exchange` made: the return, the replacement order, and the price difference between them."""

    return_: Return
    replacement_order: Order
    price_difference: Decimal


def _replacement_total(order: Order, new_items: Sequence[Mapping[str, Any]]) -> Decimal | None:
    """What `order_create_replacement` will charge for `new_items`: each unit at its given price, else the
    original's price for that SKU (None when a price is unknown: the orders service then refuses)."""
    prices = {line.sku: line.unit_price for line in order_lines_by_id(order).values()}
    total = ZERO
    for item in new_items:
        price = item.get("unit_price")
        price = prices.get(item["sku"]) if price is None else price
        if price is None:
            return None
        total += round_cents(price) * item["quantity"]
    return total


def order_exchange(
    *,
    order: Order,
    by: Actor,
    return_items: Sequence[Mapping[str, Any]],
    new_items: Sequence[Mapping[str, Any]],
    reason: str = "",
) -> ExchangeResult:
    """`POST /v1/orders/{id}/exchange`, one transaction: a Return (requested) for `return_items` (counted
    through the one rule), a replacement order for `new_items` (allocated at the order's location:
    `exchange_for`, `is_replacement_order`; short stock is a 422 and nothing is created), and the order
    moves to `exchanged`. The price difference (replacement total − the return's amount) is shown on the
    order, on the replacement and on the return. Needs `returns.add_return` and `orders.add_order`."""
    require_perm(by, "returns.add_return", "create a return")
    require_perm(by, "orders.add_order", "create a replacement order")
    with transaction.atomic():
        order = lock(Order, order.pk)
        require_order_status(order, EXCHANGEABLE, "exchange")
        specs = [
            {"order_line_item": item["order_item_id"], "quantity": item["quantity"], "reason": item.get("reason")}
            for item in return_items
        ]
        ret = return_create(
            by=by, order=order, return_line_items=specs, issue=reason, reason=join_notes("exchange", reason),
            mark_returned=False,
        )  # fmt: skip
        expected = _replacement_total(order, new_items)
        difference = expected - ret.amount if expected is not None else None
        replacement = order_services.order_create_replacement(
            original=order,
            items=[{k: v for k, v in item.items() if k in ("sku", "quantity", "unit_price")} for item in new_items],
            by=by,
            price_difference=difference,
            reason=join_notes(f"exchange {ret.rma}", reason),
        )
        difference = replacement.total - ret.amount
        order_services.order_mark_exchanged(
            order=order, by=by, price_difference=difference, reason=join_notes(f"{ret.rma} → {replacement}", reason)
        )
        ret.replacement_order = replacement
        ret.exchange_price_difference = difference
        ret.save()
        log_event(ret, "exchange", by=by, reason=f"replacement order {replacement}, price difference {difference}")
    return ExchangeResult(return_=ret, replacement_order=replacement, price_difference=difference)
