"""Random sequences of order actions (Hypothesis stateful testing, calling the services directly on the test
database). After every step: the ledger explains every stock level, every order's totals equal the sum of
its lines, every open line holds exactly its unshipped quantity (across locations), every shipped unit is in
a parcel that left, pending parcels reserve no more than their lines hold there, and each promotion's use
count matches its orders. Issue #18 added partial ships, parcel transitions, reallocation and
cancel_remaining."""

from decimal import Decimal

import pytest
from django.db import transaction
from django_fsm import ConcurrentTransition
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from inventory import services as inv
from inventory.models import Allocation
from inventory.selectors import ledger_mismatches
from orders import services
from orders.models import Order, OrderLineItem, Promotion, Shipment, ShipmentLineItem
from orders.states import EDITABLE, SHIPMENT_OUT
from stateset.errors import DomainError
from tests.factories import SYSTEM, make_customer, make_item, make_location, make_promotion

SKUS = ["A", "B", "C"]
ZERO = Decimal("0")
pick = st.integers(min_value=0, max_value=1000)
money = st.integers(min_value=0, max_value=5000).map(lambda cents: Decimal(cents) / 100)
line = st.tuples(st.sampled_from(SKUS), st.integers(min_value=1, max_value=4), money)


class OrderActions(RuleBasedStateMachine):
    customers: list = []
    promotions: list = []

    def __init__(self):
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()  # each example runs in a savepoint, rolled back in teardown
        self.orders: list[int] = []

    def teardown(self):
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def attempt(self, service, **kwargs):
        try:
            return service(by=SYSTEM, **kwargs)
        except (DomainError, ConcurrentTransition):
            return None  # a refusal: the invariants check it left nothing behind

    def order(self, i: int) -> Order:
        return Order.objects.get(pk=self.orders[i % len(self.orders)])

    def line_id(self, order: Order, j: int) -> int | None:
        ids = list(OrderLineItem.objects.filter(order=order).order_by("pk").values_list("pk", flat=True))
        return ids[j % len(ids)] if ids else None

    # ---- rules -----------------------------------------------------------------------------------------

    @rule(
        c=st.sampled_from([0, 0, 0, 1]),
        lines=st.lists(line, min_size=1, max_size=3),
        shipping=money,
        free=st.booleans(),
    )
    def create(self, c, lines, shipping, free):
        specs = [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines]
        if free:
            specs.append({"sku": "WRAP", "quantity": 1, "unit_price": Decimal("2.50"), "requires_inventory": False})
        order = self.attempt(
            services.order_create, customer=self.customers[c], order_line_items=specs, shipping_amount=shipping
        )
        if order is not None:
            self.orders.append(order.pk)

    @precondition(lambda self: self.orders)
    @rule(i=pick, sku=st.sampled_from(SKUS), quantity=st.integers(1, 4), price=st.none() | money)
    def add_item(self, i, sku, quantity, price):
        self.attempt(services.order_add_item, order=self.order(i), sku=sku, quantity=quantity, unit_price=price)

    @precondition(lambda self: self.orders)
    @rule(i=pick, j=pick, quantity=st.none() | st.integers(1, 4))
    def remove_item(self, i, j, quantity):
        order = self.order(i)
        self.attempt(services.order_remove_item, order=order, order_item_id=self.line_id(order, j), quantity=quantity)

    @precondition(lambda self: self.orders)
    @rule(i=pick, j=st.none() | pick, kind=st.sampled_from(["fixed", "percentage"]), value=money)
    def add_discount(self, i, j, kind, value):
        order = self.order(i)
        value = min(value, Decimal(100)) if kind == "percentage" else value
        item = self.line_id(order, j) if j is not None else None
        self.attempt(services.order_add_discount, order=order, type=kind, value=value, order_item_id=item)

    @precondition(lambda self: self.orders)
    @rule(i=pick, k=pick)
    def remove_discount(self, i, k):
        order = self.order(i)
        ids = list(order.discounts.values_list("pk", flat=True))
        if ids:
            self.attempt(services.order_remove_discount, order=order, discount_id=ids[k % len(ids)])

    @precondition(lambda self: self.orders)
    @rule(i=pick, p=st.integers(0, 2))
    def apply_promotion(self, i, p):
        self.attempt(services.order_apply_promotion, order=self.order(i), promotion_id=self.promotions[p].pk)

    @precondition(lambda self: self.orders)
    @rule(i=pick)
    def remove_promotion(self, i):
        self.attempt(services.order_remove_promotion, order=self.order(i))

    @precondition(lambda self: self.orders)
    @rule(i=pick, shipping=money, tax=money)
    def update(self, i, shipping, tax):
        self.attempt(services.order_update, order=self.order(i), shipping_amount=shipping, tax_amount=tax)

    @precondition(lambda self: self.orders)
    @rule(i=pick)
    def process(self, i):
        self.attempt(services.order_process, order=self.order(i))

    @precondition(lambda self: self.orders)
    @rule(i=pick)
    def release(self, i):
        self.attempt(services.order_release, order=self.order(i))

    @precondition(lambda self: self.orders)
    @rule(i=pick, name=st.sampled_from(["deliver", "mark_returned", "mark_exchanged"]))
    def after_shipping(self, i, name):
        self.attempt(getattr(services, f"order_{name}"), order=self.order(i))

    @precondition(lambda self: self.orders)
    @rule(i=pick)
    def hold(self, i):
        self.attempt(services.order_hold, order=self.order(i), reason="hypothesis")

    @precondition(lambda self: self.orders)
    @rule(i=pick)
    def ship(self, i):
        self.attempt(services.order_ship, order=self.order(i), tracking_number="H1", carrier="UPS")

    @precondition(lambda self: self.orders)
    @rule(i=pick)
    def cancel(self, i):
        self.attempt(services.order_cancel, order=self.order(i), reason="hypothesis")

    @precondition(lambda self: self.orders)
    @rule(i=pick, share=st.integers(1, 100))
    def refund(self, i, share):
        order = self.order(i)
        amount = (order.balance * share / 100).quantize(Decimal("0.01"))
        self.attempt(services.order_refund, order=order, amount=max(amount, Decimal("0.01")))

    @precondition(lambda self: self.orders)
    @rule(i=pick, j=pick, quantity=st.integers(1, 2), parts=st.integers(1, 2))
    def split(self, i, j, quantity, parts):
        order = self.order(i)
        item = self.line_id(order, j)
        result = self.attempt(services.order_split, order=order, splits=[[(item, quantity)]] * parts)
        if result is not None:
            self.orders.extend(o.pk for o in result.orders)

    @precondition(lambda self: len(self.orders) > 1)
    @rule(i=pick, k=pick)
    def merge(self, i, k):
        target, source = self.order(i), self.order(k)
        if target.pk != source.pk:
            self.attempt(services.order_merge, order=target, order_ids=[source.pk])

    @precondition(lambda self: len(self.orders) > 1)
    @rule()
    def merge_latest(self):
        target, source = Order.objects.get(pk=self.orders[-2]), Order.objects.get(pk=self.orders[-1])
        self.attempt(services.order_merge, order=target, order_ids=[source.pk])

    @precondition(lambda self: self.orders)
    @rule(i=pick, returned=st.integers(1, 4))
    def add_returned(self, i, returned):
        order = self.order(i)
        item = self.line_id(order, returned)
        if item is not None:
            self.attempt(services.order_lines_add_returned, order=order, quantities={item: returned})

    # ---- shipments (issue #18) -----------------------------------------------------------------------------

    @precondition(lambda self: self.orders)
    @rule(i=pick, j=pick, quantity=st.integers(1, 3), east=st.booleans(), ship=st.booleans())
    def ship_part(self, i, j, quantity, east, ship):
        order = self.order(i)
        item = self.line_id(order, j)
        shipment = self.attempt(
            services.shipment_create,
            order=order,
            location="EAST" if east else None,
            shipment_line_items=[{"order_item_id": item, "quantity": quantity}] if item else None,
        )
        if shipment is not None and ship:
            self.attempt(services.shipment_ship, shipment=shipment, tracking_number="H2")

    @rule(k=pick, name=st.sampled_from(["ship", "cancel", "delete", "deliver", "return_to_sender", "mark_lost"]))
    def shipment_action(self, k, name):
        ids = list(Shipment.objects.order_by("pk").values_list("pk", flat=True))
        if ids:
            shipment = Shipment.objects.get(pk=ids[k % len(ids)])
            self.attempt(getattr(services, f"shipment_{name}"), shipment=shipment)

    @precondition(lambda self: self.orders)
    @rule(i=pick, j=pick, east=st.booleans(), quantity=st.none() | st.integers(1, 3))
    def reallocate(self, i, j, east, quantity):
        order = self.order(i)
        item = self.line_id(order, j)
        if item is not None:
            self.attempt(
                services.order_reallocate,
                order=order,
                order_item_id=item,
                location="EAST" if east else "MAIN",
                quantity=quantity,
            )

    @precondition(lambda self: self.orders)
    @rule(i=pick)
    def cancel_remaining(self, i):
        self.attempt(services.order_cancel_remaining, order=self.order(i), reason="hypothesis")

    # ---- invariants --------------------------------------------------------------------------------------

    @invariant()
    def ledger_explains_every_level(self):
        assert ledger_mismatches() == []

    @invariant()
    def totals_are_the_sum_of_the_lines(self):
        held = {}
        for allocation in Allocation.objects.filter(document_type="order", status="open"):
            held[allocation.line_id] = held.get(allocation.line_id, 0) + allocation.quantity
        lines_by_order = {}
        for line in OrderLineItem.objects.all():
            lines_by_order.setdefault(line.order_id, []).append(line)
        for order in Order.objects.all():
            lines = lines_by_order.get(order.pk, [])
            assert lines, f"{order} has no line"
            subtotal = sum((x.unit_price * x.quantity_billed for x in lines), ZERO)
            assert order.subtotal == subtotal
            assert order.discount_total == sum((x.discount_total for x in lines), ZERO)
            assert sum((x.total for x in lines), ZERO) == subtotal - order.discount_total
            assert ZERO <= order.discount_total <= order.subtotal
            assert order.total == order.subtotal - order.discount_total + order.shipping_total + order.tax_total
            assert ZERO <= order.amount_refunded <= order.total
            holding = (*EDITABLE, "partially_shipped")
            for x in lines:
                expected = x.quantity_unshipped if order.status in holding and x.requires_inventory else 0
                assert held.get(x.pk, 0) == expected, (order.status, x.sku, x.quantity, x.quantity_shipped)
                assert 0 <= x.quantity_returned <= x.quantity_shipped <= x.quantity - x.quantity_cancelled
                out = ShipmentLineItem.objects.filter(line=x, shipment__status__in=SHIPMENT_OUT)
                assert sum(out.values_list("quantity", flat=True)) == x.quantity_shipped

    @invariant()
    def pending_parcels_reserve_what_their_lines_hold_there(self):
        held = {}
        for a in Allocation.objects.filter(document_type="order", status="open").select_related("level"):
            key = (a.line_id, a.level.location_id)
            held[key] = held.get(key, 0) + a.quantity
        reserved = {}
        for row in ShipmentLineItem.objects.filter(shipment__status="pending").select_related("shipment", "line"):
            key = (row.line_id, row.shipment.location_id)
            reserved[key] = reserved.get(key, 0) + row.quantity
            if not row.line.requires_inventory:
                held[key] = row.line.quantity_unshipped
        for key, units in reserved.items():
            assert units <= held.get(key, 0), (key, units, held.get(key, 0))

    @invariant()
    def promotion_uses_match_their_orders(self):
        for promotion in Promotion.objects.all():
            assert promotion.times_used == Order.objects.filter(promotion=promotion).count()
            assert promotion.usage_limit is None or promotion.times_used <= promotion.usage_limit


@pytest.mark.django_db
def test_random_order_actions_keep_stock_and_money_consistent():
    east = make_location("EAST")
    for sku in SKUS:
        item = make_item(sku, on_hand=12)
        inv.stock_receive(inventory_item=item, location=east, quantity=6, source=inv.Source("seed"), by=SYSTEM)
    OrderActions.customers = [make_customer(), make_customer()]
    OrderActions.promotions = [
        make_promotion("PCT", value="15"),
        make_promotion("FIX", type="fixed", value="7.5", usage_limit=2),
        make_promotion("SHIP", type="free_shipping", value="0"),
    ]
    run_state_machine_as_test(
        OrderActions,
        settings=settings(
            max_examples=200,
            stateful_step_count=12,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
