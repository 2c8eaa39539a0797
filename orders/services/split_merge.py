"""Splitting an order into several and merging several into one: the services that span orders.

Each runs in three steps, so that every rule is checked before the first write and the arithmetic can be
read apart from the writes: plan (lock, check the transitions and the input, decide what moves), compute (the
new lines and the amounts, reading only), apply (write the rows, move the allocations, record the history).
A refusal in the plan leaves everything as it was.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from inventory import services as inv
from orders.errors import InvalidOrderInput, MergeNotAllowed, SplitNotAllowed
from orders.models import Order, OrderDiscount, OrderLineItem
from orders.services.documents import join_reasons
from orders.services.lines import line_ref, lines_combine, order_lines
from orders.services.locks import lock_orders, order_lock
from orders.services.pricing import order_recompute_totals, prorate, prorate_over_capacity
from orders.services.shipments import refuse_if_reserved
from orders.states import DiscountType, LineStatus
from stateset.actors import Actor
from stateset.errors import NotFound, ValidationFailed
from stateset.fsm import apply_transition, check_transition, log_event
from stateset.money import ZERO


@dataclass
class SplitResult:
    """The original order after a split, and the new orders in the order of the splits."""

    order: Order
    orders: list[Order] = field(default_factory=list)


COPIED_ON_SPLIT = (
    "name",
    "customer_id",
    "customer_email",
    "customer_name",
    "customer_number",
    "buyer_email",
    "buyer_message",
    "ordered_by",
    "currency",
    "location_id",
    "shipping_address",
    "billing_address",
    "delivery_address",
    "delivery_date",
    "delivery_type",
    "fulfillment_type",
    "shipping_method",
    "notes",
    "seller_note",
    "source",
    "is_cod",
    "payment",
    "metadata",
    "held_from_status",
    "hold_reason",
)


def _fixed_discount_description(description: str, note: str) -> str:
    """The description of a discount that a split or a merge turned into a fixed amount, saying why."""
    return f"{description or 'Discount'} ({note})"[:255]


# ======================================================================================================
# Split
# ======================================================================================================


@dataclass
class _SplitPlan:
    """What a split moves: the original's lines by id, what each new order takes of them (line id →
    quantity, one dict per new order), and how much all new orders take of each line together."""

    lines: dict[int, OrderLineItem]
    parts: list[dict[int, int]]
    moved: dict[int, int]


@dataclass
class _SplitAmounts:
    """A split's numbers, computed before anything is written. In every list, index 0 is the original and
    index k the k-th new order."""

    quantities: dict[int, list[int]]
    discounts: list[OrderDiscount]
    discount_shares: dict[int, list[Decimal]]
    promotion_shares: list[Decimal] | None
    tax_shares: list[Decimal]


def _plan_split(order: Order, splits: Sequence[Sequence[tuple[int, int]]]) -> _SplitPlan:
    """Check the splits against the locked order's lines: a line not on the order is a 400; taking more than a
    line has, or every unit of every line, is a 422 `split_not_allowed`."""
    lines = {line.pk: line for line in order_lines(order)}
    parts: list[dict[int, int]] = []
    for split in splits:
        wanted: dict[int, int] = defaultdict(int)
        for line_id, quantity in split:
            if line_id not in lines:
                raise InvalidOrderInput(
                    f"Line {line_id} is not on order {order.display_number}.",
                    errors={"order_item_id": f"no line {line_id} here"},
                )
            wanted[line_id] += quantity
        parts.append(dict(wanted))
    moved = {pk: sum(part.get(pk, 0) for part in parts) for pk in lines}
    over = [pk for pk, qty in moved.items() if qty > lines[pk].quantity]
    if over:
        raise SplitNotAllowed(
            f"The splits take more than line {', '.join(map(str, over))} has.",
            errors={str(pk): f"has {lines[pk].quantity}, splits take {moved[pk]}" for pk in over},
        )
    if all(moved[pk] >= line.quantity for pk, line in lines.items()):
        raise SplitNotAllowed(
            f"{order.display_number} must keep at least one line; leave some quantity on it.",
            errors={"splits": "the original keeps at least one line"},
        )
    return _SplitPlan(lines=lines, parts=parts, moved=moved)


def _compute_split(order: Order, plan: _SplitPlan) -> _SplitAmounts:
    """Each part's quantities, and every amount prorated over the parts in whole cents (largest remainder):
    a line discount over that line's parts, an order discount and the promotion's discount over what the
    line discounts left of each part, the tax over the parts' subtotals. Reads the discounts' amounts as
    `order_recompute_totals` last wrote them; writes nothing."""
    lines = plan.lines
    discounts = list(OrderDiscount.objects.filter(order=order).order_by("pk"))
    parts = 1 + len(plan.parts)
    quantities = {
        pk: [line.quantity - plan.moved[pk]] + [part.get(pk, 0) for part in plan.parts] for pk, line in lines.items()
    }
    line_caps = {pk: [q * lines[pk].unit_price for q in qs] for pk, qs in quantities.items()}
    part_subtotals = [sum((line_caps[pk][k] for pk in lines), ZERO) for k in range(parts)]
    shares: dict[int, list[Decimal]] = {}
    for d in (d for d in discounts if d.line_id):
        shares[d.pk] = prorate_over_capacity(d.amount, line_caps[d.line_id])
    # What the line discounts left of each part: order discounts and the promotion share only that.
    caps = [sum((line_caps[pk][k] for pk in lines), ZERO) for k in range(parts)]
    for d in (d for d in discounts if not d.line_id):
        shares[d.pk] = prorate_over_capacity(d.amount, caps)
    promo_shares = prorate_over_capacity(order.promotion_discount, caps) if order.promotion_discount else None
    tax_shares = prorate(order.tax_amount, part_subtotals)
    return _SplitAmounts(
        quantities=quantities,
        discounts=discounts,
        discount_shares=shares,
        promotion_shares=promo_shares,
        tax_shares=tax_shares,
    )


def _create_split_order(
    order: Order, k: int, part: dict[int, int], plan: _SplitPlan, amounts: _SplitAmounts, *, by: Actor, reason: str
) -> Order:
    """The k-th new order: its lines (their allocations moved from the original's lines), its shares of the
    discounts and of the promotion as fixed discounts, its share of the tax, and no shipping."""
    child = Order.objects.create(
        status=order.status,
        split_from=order,
        shipping_amount=ZERO,
        tax_amount=amounts.tax_shares[k],
        **{name: getattr(order, name) for name in COPIED_ON_SPLIT},
    )
    child.assign_number()
    new_lines = {}
    for pk, quantity in part.items():
        source = plan.lines[pk]
        new_line = OrderLineItem.objects.create(
            order=child,
            item_id=source.item_id,
            sku=source.sku,
            product_name=source.product_name,
            quantity=quantity,
            unit_price=source.unit_price,
            original_price=source.original_price,
            requires_inventory=source.requires_inventory,
        )
        new_lines[pk] = new_line
        if source.requires_inventory:
            inv.allocation_transfer(from_line=line_ref(source), to_line=line_ref(new_line), quantity=quantity, by=by)
    note = f"prorated from {order.display_number}"
    shares = amounts.discount_shares
    child_discounts = [
        OrderDiscount(
            order=child,
            line=new_lines.get(d.line_id) if d.line_id else None,
            type=DiscountType.FIXED,
            value=shares[d.pk][k],
            description=_fixed_discount_description(d.description, note),
            created_by=by.label[:255],
        )
        for d in amounts.discounts
        if shares[d.pk][k] > 0
    ]
    promo_shares = amounts.promotion_shares
    if promo_shares and promo_shares[k] > 0:
        child_discounts.append(
            OrderDiscount(
                order=child,
                type=DiscountType.FIXED,
                value=promo_shares[k],
                description=_fixed_discount_description(f"Promotion {order.promotion.code}", note),
                created_by=by.label[:255],
            )
        )
    OrderDiscount.objects.bulk_create(child_discounts)
    order_recompute_totals(child)
    child.save()
    log_event(child, "create", by=by, reason=join_reasons(reason, f"split from {order.display_number}"))
    return child


def _apply_split(order: Order, plan: _SplitPlan, amounts: _SplitAmounts, *, by: Actor, reason: str) -> list[Order]:
    """Create the new orders, then leave the original what it keeps: its remaining quantities, its shares of
    the discounts, the promotion and the tax (frozen as fixed amounts), and all of the shipping."""
    children = [
        _create_split_order(order, k, part, plan, amounts, by=by, reason=reason)
        for k, part in enumerate(plan.parts, start=1)
    ]
    quantities, shares = amounts.quantities, amounts.discount_shares
    for pk, line in plan.lines.items():
        if quantities[pk][0] == 0:
            line.delete()
        elif plan.moved[pk]:
            OrderLineItem.objects.filter(pk=pk).update(quantity=quantities[pk][0])
    for d in OrderDiscount.objects.filter(order=order):
        if d.type != DiscountType.FIXED or d.value != shares[d.pk][0]:
            d.type, d.value = DiscountType.FIXED, shares[d.pk][0]
            d.description = _fixed_discount_description(d.description, "prorated on split")
            d.save(update_fields=["type", "value", "description", "updated_at"])
    if amounts.promotion_shares:
        order.promotion_fixed_amount = amounts.promotion_shares[0]
    order.tax_amount = amounts.tax_shares[0]
    order_recompute_totals(order)
    names = ", ".join(c.display_number for c in children)
    apply_transition(order, "split", by=by, reason=join_reasons(reason, f"split into {names}"))
    return children


def order_split(
    *, order: Order, by: Actor, splits: Sequence[Sequence[tuple[int, int]]], reason: str = ""
) -> SplitResult:
    """Move line quantities into new orders, one per split, each in the order's status with `split_from`.

    Guarantees: the allocations move with the quantities (`allocation_transfer`; stock levels unchanged);
    the original keeps at least one line (422 `split_not_allowed` otherwise, or when a split asks for more
    than a line has); every discount, the promotion's discount and the tax are prorated over the parts as
    fixed amounts (largest remainder, to the cent), and shipping stays on the original, so the parts' totals
    sum exactly to the original's. Needs `orders.split_order`.
    """
    if not splits or any(not split for split in splits):
        raise ValidationFailed("Each split needs at least one item.", errors={"splits": "empty split"})
    with transaction.atomic():
        order = order_lock(order.pk)  # which related sets are empty: no pending shipment to look for
        check_transition(order, "split", by=by)
        refuse_if_reserved(order, action="split it")
        plan = _plan_split(order, splits)
        # The amounts to divide are the order's as of now, written by the one function that writes totals.
        order_recompute_totals(order)
        amounts = _compute_split(order, plan)
        children = _apply_split(order, plan, amounts, by=by, reason=reason)
    return SplitResult(order=order, orders=children)


# ======================================================================================================
# Merge
# ======================================================================================================


@dataclass
class _MergedLine:
    """A source line and the target line it joins: `into` indexes `_MergeMoves.target_lines`; `creates` when
    this source line is the first into a line that the merge creates."""

    line: OrderLineItem
    into: int
    creates: bool


@dataclass
class _MergedSource:
    """A source order, where each of its lines goes, and its discounts that carry an amount."""

    order: Order
    lines: list[_MergedLine]
    discounts: list[OrderDiscount]


@dataclass
class _MergeMoves:
    """The target's lines after the merge (its own, then the unsaved lines the merge creates, in the order it
    creates them) and what each source brings."""

    target_lines: list[OrderLineItem]
    sources: list[_MergedSource]


def _same_customer(a: Order, b: Order) -> bool:
    """Same customer record, or, for orders without one, the same email (case-insensitively)."""
    if a.customer_id or b.customer_id:
        return a.customer_id == b.customer_id
    return a.customer_email.lower() == b.customer_email.lower()


def _merge_source_ids(order: Order, order_ids: Sequence[int]) -> list[int]:
    """The orders to merge into `order`, once each and without it; none is a 400."""
    source_ids = [pk for pk in dict.fromkeys(order_ids) if pk != order.pk]
    if not source_ids:
        raise ValidationFailed(
            "Name at least one other order to merge.", errors={"order_ids": "at least one other order"}
        )
    return source_ids


def _plan_merge(order: Order, source_ids: Sequence[int], *, by: Actor) -> tuple[Order, list[Order]]:
    """Lock the target and the sources in primary-key order (404 for a missing one), check the transitions
    (403, 422) and that each source has the target's customer, currency and location (422
    `merge_not_allowed`)."""
    locked = lock_orders([order.pk, *source_ids])
    target = locked[order.pk]
    sources = [locked[pk] for pk in source_ids]
    check_transition(target, "merge", by=by)
    for source in sources:
        check_transition(source, "merge_into", by=by)
    refuse_if_reserved(target, *sources, action="merge them")
    for source in sources:
        problems = {}
        if not _same_customer(target, source):
            problems["customer"] = "differs"
        if source.currency != target.currency:
            problems["currency"] = f"{source.currency} vs {target.currency}"
        if source.location_id != target.location_id:
            problems["location"] = "differs"
        if problems:
            raise MergeNotAllowed(
                f"{source.display_number} cannot merge into {target.display_number}: "
                + ", ".join(f"{k} {v}" for k, v in problems.items())
                + ".",
                errors=problems,
            )
    return target, sources


def _freeze_target_discounts(target: Order) -> None:
    """Freeze the target's discounts at their amounts, so that new lines do not change them."""
    order_recompute_totals(target)
    for d in OrderDiscount.objects.filter(order=target):
        if d.type != DiscountType.FIXED:
            d.type, d.value = DiscountType.FIXED, d.amount
            d.description = _fixed_discount_description(d.description, "fixed on merge")
            d.save(update_fields=["type", "value", "description", "updated_at"])
    if target.promotion_id and target.promotion_discount:
        target.promotion_fixed_amount = target.promotion_discount


def _compute_merge(target: Order, sources: Sequence[Order]) -> _MergeMoves:
    """Where every source line goes, source by source, line by line: into the first target line it
    combines with (`lines_combine`; lines created by the merge count from when they are created), or into a
    new copy of itself on the target (built here, unsaved). Writes nothing."""
    target_lines = order_lines(target)
    merged = []
    for source in sources:
        moves = []
        for line in order_lines(source):
            into = next((i for i, t in enumerate(target_lines) if lines_combine(t, line)), None)
            creates = into is None
            if creates:
                target_lines.append(
                    OrderLineItem(
                        order=target,
                        item_id=line.item_id,
                        sku=line.sku,
                        product_name=line.product_name,
                        quantity=line.quantity,
                        unit_price=line.unit_price,
                        original_price=line.original_price,
                        requires_inventory=line.requires_inventory,
                    )
                )
                into = len(target_lines) - 1
            moves.append(_MergedLine(line=line, into=into, creates=creates))
        discounts = [d for d in OrderDiscount.objects.filter(order=source).order_by("pk") if d.amount > 0]
        merged.append(_MergedSource(order=source, lines=moves, discounts=discounts))
    return _MergeMoves(target_lines=target_lines, sources=merged)


def _apply_merge(target: Order, moves: _MergeMoves, *, by: Actor, reason: str) -> None:
    """Source by source: grow or create the target's lines and move each line's allocation with it, mark the
    source's lines merged, carry its discounts and its promotion's discount over as fixed discounts and its
    shipping and tax onto the target's, and move it to `merged`. Then recompute the target's totals."""
    for merged in moves.sources:
        source = merged.order
        line_map: dict[int, OrderLineItem] = {}
        for move in merged.lines:
            line, match = move.line, moves.target_lines[move.into]
            if move.creates:
                match.save(force_insert=True)
            else:
                match.quantity += line.quantity
                match.save(update_fields=["quantity", "updated_at"])
            if line.requires_inventory:
                inv.allocation_transfer(
                    from_line=line_ref(line), to_line=line_ref(match), quantity=line.quantity, by=by
                )
            line_map[line.pk] = match
        OrderLineItem.objects.filter(order=source).update(status=LineStatus.MERGED, updated_at=timezone.now())
        note = f"from {source.display_number}"
        carried = [
            OrderDiscount(
                order=target,
                line=line_map.get(d.line_id) if d.line_id else None,
                type=DiscountType.FIXED,
                value=d.amount,
                description=_fixed_discount_description(d.description, note),
                created_by=by.label[:255],
            )
            for d in merged.discounts
        ]
        if source.promotion_id and source.promotion_discount > 0:
            carried.append(
                OrderDiscount(
                    order=target,
                    type=DiscountType.FIXED,
                    value=source.promotion_discount,
                    description=_fixed_discount_description(f"Promotion {source.promotion.code}", note),
                    created_by=by.label[:255],
                )
            )
        OrderDiscount.objects.bulk_create(carried)
        target.shipping_amount += source.shipping_total
        target.tax_amount += source.tax_total
        apply_transition(
            source,
            "merge_into",
            by=by,
            reason=join_reasons(reason, f"merged into {target.display_number}"),
            target=target,
        )
    order_recompute_totals(target)
    names = ", ".join(s.order.display_number for s in moves.sources)
    apply_transition(target, "merge", by=by, reason=join_reasons(reason, f"merged {names}"))


def order_merge(*, order: Order, by: Actor, order_ids: Sequence[int], reason: str = "") -> Order:
    """Merge the orders `order_ids` into `order` (the target). All must be pending or processing, for the
    same customer, currency and location (422 `merge_not_allowed`). Each source line joins the target's
    line it combines with (`lines_combine`: same SKU, price and inventory item), or is copied; its allocation
    moves with it (stock levels unchanged). Every discount of the orders involved is frozen at its current
    amount, and the sources' shipping and tax are added to the target's, so the target's total is the sum of
    the totals (unless the target has free shipping). Sources become `merged` with `merged_into`, keeping
    their lines as the record; nothing is deleted. Needs `orders.merge_order`."""
    source_ids = _merge_source_ids(order, order_ids)
    with transaction.atomic():
        target, sources = _plan_merge(order, source_ids, by=by)
        _freeze_target_discounts(target)
        moves = _compute_merge(target, sources)
        _apply_merge(target, moves, by=by, reason=reason)
    return target


def order_merge_many(*, by: Actor, order_ids: Sequence[int], reason: str = "") -> Order:
    """`POST /v1/orders/merge`: the first id is the target."""
    if not order_ids:
        raise ValidationFailed("Send 'order_ids'.", errors={"order_ids": "required"})
    target = Order.objects.filter(pk=order_ids[0]).first()
    if target is None:
        raise NotFound(f"Order {order_ids[0]} does not exist.")
    return order_merge(order=target, by=by, order_ids=list(order_ids[1:]), reason=reason)
