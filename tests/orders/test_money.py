"""Money: discounts, promotions, split proration and merge, to the cent (Decimal, half-up)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import Allocation
from orders import services
from orders.models import Order, OrderDiscount, Promotion
from tests.factories import SYSTEM, level, make_customer, make_item, make_promotion
from tests.helpers import assert_error
from tests.orders.support import assert_consistent, bring_to, create, fresh, lines_of, order_in, snapshot, stock

pytestmark = pytest.mark.django_db
D = Decimal


def totals(order):
    o = fresh(order)
    return (str(o.subtotal), str(o.discount_total), str(o.shipping_total), str(o.tax_total), str(o.total))


def line_totals(order):
    return [(str(line.discount_total), str(line.total)) for line in lines_of(order)]


def post(api, order, action, body=None):
    return api.post(f"/v1/orders/{order.pk}/{action}", body or {}, format="json")


# ---- manual discounts ------------------------------------------------------------------------------------------


def test_percentage_discount_is_prorated_over_the_lines(api):
    stock()
    order = order_in("pending")  # 2 x A at 10.00, 1 x B at 5.00
    ack = post(api, order, "add_discount", {"type": "percentage", "value": "10", "description": "staff"}).json()
    assert ack["discount_added"] is True
    assert ack["order"]["discounts"][0]["amount"] == "2.50"
    assert totals(order) == ("25.00", "2.50", "0.00", "0.00", "22.50")
    assert line_totals(order) == [("2.00", "18.00"), ("0.50", "4.50")]
    assert_consistent(order)


def test_line_discount_applies_to_its_line_only(api):
    stock()
    order = order_in("pending")
    b = lines_of(order)[1]
    post(api, order, "add_discount", {"type": "fixed", "value": "3", "order_item_id": b.pk})
    assert line_totals(order) == [("0.00", "20.00"), ("3.00", "2.00")]
    assert totals(order)[1] == "3.00"
    post(api, order, "add_discount", {"type": "percentage", "value": "100", "order_item_id": b.pk})
    assert line_totals(order) == [("0.00", "20.00"), ("5.00", "0.00")]  # the line cannot go below zero
    assert_consistent(order)


def test_discounts_never_exceed_the_subtotal(api):
    stock()
    order = order_in("pending")
    services.order_update(order=order, by=SYSTEM, shipping_amount=D("4.95"), tax_amount=D("1.05"))
    post(api, order, "add_discount", {"type": "fixed", "value": "20"})
    post(api, order, "add_discount", {"type": "fixed", "value": "100"})
    assert totals(order) == ("25.00", "25.00", "4.95", "1.05", "6.00")
    assert [d.amount for d in fresh(order).discounts.order_by("pk")] == [D("20.00"), D("5.00")]
    assert_consistent(order)


@pytest.mark.parametrize(
    ("quantity", "price", "percent", "expected"),
    [
        (3, "3.33", "12.5", "1.25"),  # 1.24875 rounds half-up
        (1, "0.05", "10", "0.01"),  # 0.005 rounds up, not to even
        (1, "0.25", "10", "0.03"),  # 0.025
        (7, "1.15", "33.33", "2.68"),  # 2.683...
    ],
)
def test_percentages_round_half_up_to_the_cent(api, quantity, price, percent, expected):
    make_item("A", on_hand=10)
    order = create(lines=(("A", quantity, price),))
    post(api, order, "add_discount", {"type": "percentage", "value": percent})
    assert totals(order)[1] == expected
    assert_consistent(order)


def test_remove_discount_restores_the_totals(api):
    stock()
    order = order_in("pending")
    ack = post(api, order, "add_discount", {"type": "fixed", "value": "4.00"}).json()
    discount_id = ack["order"]["discounts"][0]["id"]
    ack = post(api, order, "remove_discount", {"discount_id": discount_id}).json()
    assert (ack["discount_removed"], ack["order"]["discounts"], ack["order"]["total"]) == (True, [], "25.00")
    assert_error(
        post(api, order, "remove_discount", {"discount_id": discount_id}),
        400,
        "invalid_request_error",
        "validation_error",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"type": "percentage", "value": "101"},
        {"type": "fixed", "value": "-1"},
        {"type": "bogus", "value": "1"},
        {"type": "fixed"},
        {"type": "fixed", "value": "1", "order_item_id": 99999},
    ],
)
def test_bad_discounts_are_400_and_change_nothing(api, body):
    stock()
    order = order_in("pending")
    before = snapshot(order)
    assert_error(post(api, order, "add_discount", body), 400, "invalid_request_error", "validation_error")
    assert snapshot(order) == before


@pytest.mark.parametrize("value", [10**30, "1e30", "1E+400", -(10**30)])
@pytest.mark.parametrize(
    ("status", "action", "body"),
    [
        ("pending", "add_discount", {"type": "fixed"}),
        ("pending", "add_discount", {"type": "percentage"}),
        ("shipped", "refund", {}),
    ],
)
def test_money_too_large_for_the_decimal_context_is_400_and_changes_nothing(api, value, status, action, body):
    # 1e30 has more digits than Decimal's context holds: rounding it to the cent used to raise, a 500.
    stock()
    order = order_in(status)
    before = snapshot(order)
    response = post(api, order, action, {**body, ("amount" if action == "refund" else "value"): value})
    assert_error(response, 400, "invalid_request_error", "validation_error")
    assert snapshot(order) == before


def test_a_promotion_worth_1e30_is_400_and_not_created(api):
    count = Promotion.objects.count()
    response = api.post("/v1/promotions", {"code": "HUGE", "type": "fixed", "value": 10**30}, format="json")
    body = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert "value" in body["errors"]
    assert Promotion.objects.count() == count


# ---- promotions --------------------------------------------------------------------------------------------


def test_percentage_promotion_applies_after_manual_discounts(api):
    stock()
    promo = make_promotion("TEN", value="10")
    order = order_in("pending")
    post(api, order, "add_discount", {"type": "fixed", "value": "5"})
    ack = post(api, order, "apply_promotion", {"code": "ten"}).json()
    assert (ack["promotion_applied"], ack["order"]["promotion_code"], ack["order"]["promotion_discount"]) == (
        True,
        "TEN",
        "2.00",
    )
    assert totals(order) == ("25.00", "7.00", "0.00", "0.00", "18.00")
    assert Promotion.objects.get(pk=promo.pk).times_used == 1
    assert_consistent(order)


def test_fixed_promotion_by_id(api):
    stock()
    promo = make_promotion("FIVE", type="fixed", value="5")
    order = order_in("processing")
    post(api, order, "apply_promotion", {"promotion_id": promo.pk})
    assert totals(order) == ("25.00", "5.00", "0.00", "0.00", "20.00")
    assert line_totals(order) == [("4.00", "16.00"), ("1.00", "4.00")]


def test_free_shipping_zeroes_shipping_and_gives_it_back_when_removed(api):
    stock()
    make_promotion("SHIP", type="free_shipping", value="0")
    order = order_in("pending")
    services.order_update(order=order, by=SYSTEM, shipping_amount=D("7.95"))
    post(api, order, "apply_promotion", {"code": "SHIP"})
    assert totals(order) == ("25.00", "0.00", "0.00", "0.00", "25.00")
    ack = post(api, order, "remove_promotion").json()
    assert (ack["promotion_removed"], ack["order"]["shipping_total"], ack["order"]["total"]) == (True, "7.95", "32.95")
    assert Promotion.objects.get(code="SHIP").times_used == 0


def test_minimum_order_amount_counts_the_subtotal(api):
    stock()
    make_promotion("BIG", type="fixed", value="5", min_order_amount=D("30.00"))
    order = order_in("pending")
    before = snapshot(order)
    error = assert_error(
        post(api, order, "apply_promotion", {"code": "BIG"}), 422, "invalid_request_error", "promotion_not_applicable"
    )
    assert "at least 30.00" in error["message"]
    assert snapshot(order) == before
    post(api, order, "add_item", {"sku": "B", "quantity": 1, "unit_price": "5.00"})  # subtotal 30.00
    assert post(api, order, "apply_promotion", {"code": "BIG"}).status_code == 200
    assert totals(order)[-1] == "25.00"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"active": False}, "not active"),
        ({"starts_at": timezone.now() + timedelta(days=1)}, "not valid now"),
        ({"ends_at": timezone.now() - timedelta(seconds=1)}, "not valid now"),
        ({"usage_limit": 0}, "no uses left"),
    ],
)
def test_promotion_refused_outside_its_rules(api, fields, words):
    stock()
    make_promotion("P", **fields)
    order = order_in("pending")
    before = snapshot(order)
    error = assert_error(
        post(api, order, "apply_promotion", {"code": "P"}), 422, "invalid_request_error", "promotion_not_applicable"
    )
    assert words in error["message"]
    assert snapshot(order) == before


def test_usage_limit_counts_uses_and_remove_gives_one_back(api):
    stock()
    promo = make_promotion("ONCE", type="fixed", value="1", usage_limit=1)
    first, second = order_in("pending"), order_in("pending")
    assert post(api, first, "apply_promotion", {"code": "ONCE"}).status_code == 200
    assert_error(
        post(api, second, "apply_promotion", {"code": "ONCE"}), 422, "invalid_request_error", "promotion_not_applicable"
    )
    assert Promotion.objects.get(pk=promo.pk).times_used == 1
    assert post(api, first, "remove_promotion").status_code == 200
    assert Promotion.objects.get(pk=promo.pk).times_used == 0
    assert post(api, second, "apply_promotion", {"code": "ONCE"}).status_code == 200
    assert Promotion.objects.get(pk=promo.pk).times_used == 1


def test_one_promotion_per_order_and_unknown_codes(api):
    stock()
    make_promotion("A1")
    make_promotion("B1")
    order = order_in("pending")
    post(api, order, "apply_promotion", {"code": "A1"})
    before = snapshot(order)
    error = assert_error(
        post(api, order, "apply_promotion", {"code": "B1"}), 422, "invalid_request_error", "promotion_not_applicable"
    )
    assert "remove it first" in error["message"]
    assert_error(
        post(api, order, "apply_promotion", {"code": "NOPE"}), 422, "invalid_request_error", "promotion_not_applicable"
    )
    assert snapshot(order) == before
    assert_error(post(api, order, "apply_promotion", {}), 400, "invalid_request_error", "validation_error")
    other = order_in("pending")
    assert_error(post(api, other, "remove_promotion"), 422, "invalid_request_error", "promotion_not_applicable")


def test_totals_follow_added_and_removed_items(api):
    stock()
    make_promotion("TEN")
    order = order_in("pending")
    post(api, order, "apply_promotion", {"code": "TEN"})
    post(api, order, "add_item", {"sku": "A", "quantity": 2})  # the order's price for A: 10.00; joins the line
    assert [(x.sku, x.quantity) for x in lines_of(order)] == [("A", 4), ("B", 1)]
    assert totals(order) == ("45.00", "4.50", "0.00", "0.00", "40.50")
    post(api, order, "remove_item", {"order_item_id": lines_of(order)[0].pk, "quantity": 3})
    assert totals(order) == ("15.00", "1.50", "0.00", "0.00", "13.50")
    assert_consistent(order)


# ---- split ---------------------------------------------------------------------------------------------------


def rich_order(status="pending"):
    """3 x A at 10.00 and 1 x B at 5.00 (35.00), 10% off the order, 1.00 off line B, a 2.00 promotion,
    shipping 4.95, tax 2.83."""
    make_item("A", on_hand=20)
    make_item("B", on_hand=20)
    promo = make_promotion("TWO", type="fixed", value="2")
    order = create(lines=(("A", 3, "10.00"), ("B", 1, "5.00")), shipping_amount=D("4.95"), tax_amount=D("2.83"))
    b = lines_of(order)[1]
    services.order_add_discount(order=order, by=SYSTEM, type="percentage", value=D("10"))
    services.order_add_discount(order=order, by=SYSTEM, type="fixed", value=D("1"), order_item_id=b.pk)
    services.order_apply_promotion(order=order, by=SYSTEM, promotion_id=promo.pk)
    return bring_to(order, status)


def test_split_moves_quantities_allocations_and_prorated_money(api):
    order = rich_order()
    assert totals(order) == ("35.00", "6.50", "4.95", "2.83", "36.28")
    a, b = lines_of(order)
    before_levels = (level(a.item), level(b.item))
    ack = post(
        api,
        order,
        "split",
        {
            "splits": [
                {"items": [{"order_item_id": a.pk, "quantity": 1}]},
                {"items": [{"order_item_id": b.pk, "quantity": 1}]},
            ]
        },
    ).json()
    assert ack["split"] is True and len(ack["orders"]) == 2
    children = [Order.objects.get(pk=o["id"]) for o in ack["orders"]]
    parts = [fresh(order), *children]
    assert [o.split_from_id for o in children] == [order.pk, order.pk]
    assert {o.status for o in parts} == {"pending"}
    assert [[(x.sku, x.quantity) for x in lines_of(o)] for o in parts] == [[("A", 2)], [("A", 1)], [("B", 1)]]
    assert sum((o.subtotal for o in parts), D(0)) == D("35.00")
    assert sum((o.discount_total for o in parts), D(0)) == D("6.50")
    assert sum((o.tax_total for o in parts), D(0)) == D("2.83")
    assert sum((o.total for o in parts), D(0)) == D("36.28")
    assert [o.shipping_total for o in parts] == [D("4.95"), D("0.00"), D("0.00")]
    assert [str(o.total) for o in parts] == ["23.33", "9.19", "3.76"]
    assert [str(o.tax_total) for o in parts] == ["1.62", "0.81", "0.40"]
    # stock did not move; each part holds its own quantities
    assert (level(a.item), level(b.item)) == before_levels
    for o in parts:
        for line in lines_of(o):
            held = Allocation.objects.filter(document_type="order", line_id=line.pk, status="open")
            assert sum(x.quantity for x in held) == line.quantity
        assert_consistent(o)
    # the promotion stays on the original (its use counted once); the parts carry fixed shares
    assert Promotion.objects.get(code="TWO").times_used == 1
    assert [o.promotion_id is not None for o in parts] == [True, False, False]


@pytest.mark.parametrize("cents", ["0.01", "0.05", "0.10", "1.00", "3.33"])
def test_split_sums_exactly_for_awkward_amounts(cents):
    make_item("A", on_hand=50)
    order = create(lines=(("A", 7, cents),), tax_amount=D("0.07"))
    services.order_add_discount(order=order, by=SYSTEM, type="percentage", value=D("15"))
    services.order_add_discount(order=order, by=SYSTEM, type="fixed", value=D("0.03"))
    before = fresh(order)
    line = lines_of(order)[0]
    result = services.order_split(order=order, by=SYSTEM, splits=[[(line.pk, 2)], [(line.pk, 3)]])
    parts = [fresh(result.order), *result.orders]
    for field in ("subtotal", "discount_total", "tax_total", "total"):
        assert sum((getattr(o, field) for o in parts), D(0)) == getattr(before, field), field
    for o in parts:
        assert_consistent(o)


def test_split_keeps_a_line_on_the_original_and_refuses_more_than_a_line_has(api):
    order = rich_order()
    a, b = lines_of(order)
    before = snapshot(order)
    everything = {"items": [{"order_item_id": a.pk, "quantity": 3}, {"order_item_id": b.pk, "quantity": 1}]}
    error = assert_error(post(api, order, "split", everything), 422, "invalid_request_error", "split_not_allowed")
    assert "at least one line" in error["message"]
    too_many = {
        "splits": [
            {"items": [{"order_item_id": a.pk, "quantity": 2}]},
            {"items": [{"order_item_id": a.pk, "quantity": 2}]},
        ]
    }
    assert_error(post(api, order, "split", too_many), 422, "invalid_request_error", "split_not_allowed")
    assert_error(post(api, order, "split", {"splits": []}), 400, "invalid_request_error", "validation_error")
    assert_error(
        post(api, order, "split", {"items": [{"order_item_id": 999999, "quantity": 1}]}),
        400,
        "invalid_request_error",
        "validation_error",
    )
    assert snapshot(order) == before


def test_split_of_a_whole_line_takes_its_line_discount_and_keeps_the_hold(api):
    order = rich_order("on_hold")
    a, b = lines_of(order)
    ack = post(api, order, "split", {"items": [{"order_item_id": b.pk, "quantity": 1}]}).json()
    child = Order.objects.get(pk=ack["orders"][0]["id"])
    assert [x.sku for x in lines_of(order)] == ["A"]
    assert (child.status, child.held_from_status, child.hold_reason) == ("on_hold", "pending", "check address")
    child_discounts = list(OrderDiscount.objects.filter(order=child, line__isnull=False))
    assert [d.value for d in child_discounts] == [D("1.00")]
    assert services.order_release(order=child, by=SYSTEM).status == "pending"


# ---- merge ---------------------------------------------------------------------------------------------------


def test_merge_combines_lines_moves_allocations_and_keeps_the_sources(api):
    a, b = stock(20)
    customer = make_customer()
    target = create(customer=customer, lines=(("A", 2, "10.00"),), shipping_amount=D("5.00"))
    source = create(customer=customer, lines=(("A", 1, "10.00"), ("B", 2, "5.00")), shipping_amount=D("3.00"))
    cheaper = create(customer=customer, lines=(("A", 1, "8.00"),))
    services.order_add_discount(order=target, by=SYSTEM, type="percentage", value=D("10"))
    services.order_add_discount(order=source, by=SYSTEM, type="fixed", value=D("1.50"))
    sums = sum((fresh(o).total for o in (target, source, cheaper)), D(0))
    source_totals = totals(source)
    levels = (level(a), level(b))

    ack = api.post("/v1/orders/merge", {"order_ids": [target.pk, source.pk, cheaper.pk]}, format="json").json()

    assert (ack["merged"], ack["id"]) == (True, target.pk)
    assert [(x.sku, x.quantity, x.unit_price) for x in lines_of(target)] == [
        ("A", 3, D("10.00")),
        ("B", 2, D("5.00")),
        ("A", 1, D("8.00")),
    ]
    assert fresh(target).total == sums == D("52.50")
    assert totals(target) == ("48.00", "3.50", "8.00", "0.00", "52.50")
    assert (level(a), level(b)) == levels
    for line in lines_of(target):
        held = Allocation.objects.filter(document_type="order", line_id=line.pk, status="open")
        assert sum(x.quantity for x in held) == line.quantity
    for src in (source, cheaper):
        src = fresh(src)
        assert (src.status, src.merged_into_id) == ("merged", target.pk)
        assert {x.status for x in lines_of(src)} == {"merged"}
        assert not Allocation.objects.filter(document_type="order", document_id=src.pk, status="open").exists()
    assert totals(source) == source_totals  # the record stays as it was
    assert_consistent(target)


def test_merge_at_the_target_path_and_the_rules(api):
    stock()
    ann, bob = make_customer(), make_customer()
    target = order_in("processing", customer=ann)
    same = order_in("pending", customer=ann)
    other_customer = order_in("pending", customer=bob)
    euro = order_in("pending", customer=ann, currency="EUR")
    shipped = order_in("shipped", customer=ann)
    before = snapshot(target, same, other_customer, euro, shipped)
    for source, code in (
        (other_customer, "merge_not_allowed"),
        (euro, "merge_not_allowed"),
        (shipped, "invalid_state_transition"),
    ):
        response = post(api, target, "merge", {"order_ids": [same.pk, source.pk]})
        assert_error(response, 422, "invalid_request_error", code)
    assert_error(
        post(api, target, "merge", {"order_ids": [target.pk]}), 400, "invalid_request_error", "validation_error"
    )
    assert_error(post(api, target, "merge", {"order_ids": [99999]}), 404, "not_found_error", "resource_not_found")
    assert snapshot(target, same, other_customer, euro, shipped) == before
    ack = post(api, target, "merge", {"order_ids": [same.pk]}).json()
    assert (ack["merged"], ack["order"]["status"]) == (True, "processing")
    assert fresh(same).status == "merged"


@pytest.mark.parametrize("path", ["/v1/orders/merge", "/v1/orders/{pk}/merge"])
def test_merge_ids_past_a_bigint_are_400_and_change_nothing(api, path):
    # A list with such an id reached the lock query's IN (...): SQLite cannot bind it, a 500.
    stock()
    ann = make_customer()
    target, source = order_in("pending", customer=ann), order_in("pending", customer=ann)
    before = snapshot(target, source)
    body = {"order_ids": [target.pk, source.pk, 10**30]} if "{pk}" not in path else {"order_ids": [source.pk, 2**63]}
    response = api.post(path.format(pk=target.pk), body, format="json")
    error = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert "order_ids" in error["errors"]
    assert snapshot(target, source) == before


# ---- amounts past a money column ---------------------------------------------------------------------------

BIG = "9999999999.99"  # the largest price a money column holds


def test_an_order_whose_total_passes_a_money_column_is_400_and_not_created(api):
    # 1,000,000 x 9,999,999,999.99 fits each input but not the total: PostgreSQL refused it (a 500) and SQLite
    # stored an order that broke every later list of orders.
    count = Order.objects.count()
    body = {
        "order_line_items": [{"sku": "GIFT", "quantity": 1_000_000, "unit_price": BIG, "requires_inventory": False}]
    }
    error = assert_error(api.post("/v1/orders", body, format="json"), 400, "invalid_request_error", "validation_error")
    assert "subtotal" in error["errors"]
    assert Order.objects.count() == count
    assert api.get("/v1/orders").status_code == 200


def test_growing_an_order_past_a_money_column_is_400_and_changes_nothing(api):
    stock()
    order = order_in("pending")
    before = snapshot(order)
    body = {"sku": "GIFT", "quantity": 2, "unit_price": BIG, "requires_inventory": False}
    assert_error(post(api, order, "add_item", body), 400, "invalid_request_error", "validation_error")
    response = api.patch(f"/v1/orders/{order.pk}", {"shipping_amount": BIG, "tax_amount": BIG}, format="json")
    error = assert_error(response, 400, "invalid_request_error", "validation_error")
    assert error["errors"] == {"total": "more than 9999999999.99"}
    assert snapshot(order) == before
    assert post(api, order, "add_item", {**body, "quantity": 1, "unit_price": "9999999900.00"}).status_code == 200


def test_a_wholesale_order_whose_total_passes_a_money_column_is_400_and_not_created(api):
    from orders.models import WholesaleOrder

    stock()
    lines = [{"sku": sku, "quantity": 1, "unit_price": BIG} for sku in ("A", "B")]
    response = api.post("/v1/wholesale_orders", {"order_line_items": lines}, format="json")
    assert_error(response, 400, "invalid_request_error", "validation_error")
    assert WholesaleOrder.objects.count() == 0
