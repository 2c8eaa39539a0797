"""The write path's per-request shortcuts answer exactly as the ORM would (issue #13): statements compiled once
and rows updated by a hand-written statement (stateset.compiled), and a document saving only the columns it
changed (stateset.models.StatefulModel)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Customer
from inventory.models import StockLevel
from orders.models import Order, OrderLineItem
from stateset.compiled import Compiled, update_rows
from tests.factories import make_customer, make_item, make_order

pytestmark = pytest.mark.django_db


def test_a_compiled_query_answers_as_the_orm_for_every_argument_and_shape():
    items = [make_item(on_hand=5) for _ in range(4)]
    query = Compiled(lambda pks: StockLevel.objects.select_related("item", "location").filter(item_id__in=pks))
    for pks in ([items[0].pk], [items[1].pk, items[2].pk], [items[3].pk], [items[0].pk, items[3].pk], [10**9]):
        for _ in range(2):  # the first call of a shape compiles, the second reuses
            found = query(tuple(pks))
            expected = list(StockLevel.objects.select_related("item", "location").filter(item_id__in=pks))
            assert sorted((lvl.pk, lvl.item.sku, lvl.location.code, lvl.on_hand) for lvl in found) == sorted(
                (lvl.pk, lvl.item.sku, lvl.location.code, lvl.on_hand) for lvl in expected
            )


def test_a_compiled_query_takes_strings_and_counts_as_one_statement():
    customers = [make_customer() for _ in range(3)]
    query = Compiled(lambda email: Customer.objects.filter(email=email))
    query(customers[0].email)
    with CaptureQueriesContext(connection) as ctx:
        found = query(customers[2].email)
    assert [c.pk for c in found] == [customers[2].pk]
    assert len(ctx.captured_queries) == 1
    assert query("nobody@example.com") == []


@pytest.mark.django_db(transaction=True)
def test_a_compiled_lock_is_refused_outside_a_transaction_as_the_orm_refuses_it():
    if not connection.features.has_select_for_update:
        pytest.skip("SQLite takes no row locks")
    order = make_order((make_item(on_hand=5), 1))
    query = Compiled(lambda pk: Order.objects.select_for_update(of=("self",)).filter(pk=pk))
    with transaction.atomic():
        query(order.pk)
        assert query(order.pk)[0].pk == order.pk
    with pytest.raises(TransactionManagementError):
        query(order.pk)


def test_a_document_saves_what_changed_and_every_json_value_changed_in_place():
    order = make_order((make_item(on_hand=5), 1))
    order = Order.objects.get(pk=order.pk)
    order.notes = "packed"
    order.metadata["gift"] = True  # changed in place: the dict read is the dict saved
    order.save()
    stored = Order.objects.get(pk=order.pk)
    assert stored.notes == "packed" and stored.metadata == {"gift": True}


def test_a_document_does_not_write_a_column_it_did_not_change_over_a_concurrent_write():
    order = make_order((make_item(on_hand=5), 1))
    mine = Order.objects.get(pk=order.pk)
    Order.objects.filter(pk=order.pk).update(seller_note="written meanwhile")
    mine.notes = "mine"
    with CaptureQueriesContext(connection) as ctx:
        mine.save()
    update = next(q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE"))
    assert '"notes"' in update and '"seller_note"' not in update and '"customer_name"' not in update
    stored = Order.objects.get(pk=order.pk)
    assert (stored.notes, stored.seller_note) == ("mine", "written meanwhile")


def test_an_expression_is_written_by_every_save_as_a_full_save_writes_it():
    order = make_order((make_item(on_hand=5), 1))
    order = Order.objects.get(pk=order.pk)
    order.shipping_amount = F("shipping_amount") + 1
    order.save()
    order.save()
    assert Order.objects.get(pk=order.pk).shipping_amount == 2


@pytest.mark.parametrize("batch", [None, 2])
def test_update_rows_writes_what_bulk_update_writes_and_nothing_else(monkeypatch, batch):
    if batch:  # several statements: the batches must not mix their rows' values
        monkeypatch.setattr(connection.ops, "bulk_batch_size", lambda fields, objs: batch)
    items = [make_item(on_hand=20) for _ in range(5)]
    order = make_order(*((item, 1 + i) for i, item in enumerate(items)))
    other = make_order((items[0], 1))
    lines = list(OrderLineItem.objects.filter(order=order).order_by("pk"))
    before_other = list(OrderLineItem.objects.filter(order=other).values())
    later = timezone.now() + timedelta(days=1)
    for i, line in enumerate(lines):
        line.quantity_shipped = i  # different per row
        line.status = "shipped" if i % 2 else "open"  # two values
        line.updated_at = later  # the same for every row
        line.discount_total = Decimal(i) / 4  # decimals, different per row
        line.sku = line.sku  # unchanged
    with CaptureQueriesContext(connection) as ctx:
        update_rows(OrderLineItem, lines[:4], ["quantity_shipped", "status", "updated_at", "discount_total", "sku"])
    assert len(ctx.captured_queries) == (2 if batch else 1)
    stored = {row.pk: row for row in OrderLineItem.objects.filter(order=order)}
    for i, line in enumerate(lines[:4]):
        row = stored[line.pk]
        assert (row.quantity_shipped, row.status, row.updated_at, row.discount_total, row.sku) == (
            i,
            "shipped" if i % 2 else "open",
            later,
            Decimal(i) / 4,
            line.sku,
        )
    untouched = stored[lines[4].pk]  # a row not passed keeps every column
    assert (untouched.quantity_shipped, untouched.status, untouched.discount_total) == (0, "open", Decimal("0.00"))
    assert untouched.updated_at != later
    assert list(OrderLineItem.objects.filter(order=other).values()) == before_other
    with CaptureQueriesContext(connection) as ctx:
        update_rows(OrderLineItem, [], ["status"])
    assert ctx.captured_queries == []


def test_update_rows_leaves_expressions_and_unsaved_rows_to_bulk_update():
    order = make_order((make_item(on_hand=20), 2), (make_item(on_hand=20), 3))
    lines = list(OrderLineItem.objects.filter(order=order).order_by("pk"))
    lines[0].quantity_shipped = F("quantity") - 1
    lines[1].quantity_shipped = 2
    update_rows(OrderLineItem, lines, ["quantity_shipped"])
    stored = OrderLineItem.objects.filter(order=order).order_by("pk")
    assert list(stored.values_list("quantity_shipped", flat=True)) == [1, 2]
    with pytest.raises(ValueError, match="primary key"):
        update_rows(OrderLineItem, [OrderLineItem(quantity=1)], ["quantity"])
