"""The lean read path (issue #16, part 6): every resource's list and retrieve, and a write's answer and its
events, are the same bytes through the compiled plans (stateset.lean) as through DRF's serializers, and the
order's plan reads its columns directly."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction

from orders import services
from orders.models import Order
from orders.serializers import OrderSerializer
from stateset import events_api, lean
from stateset.api import ResourceViewSet
from stateset.urls import RESOURCES
from tests.factories import SYSTEM
from tests.orders.support import order_in, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    """The demo data (every resource), and orders holding every related set: lines, a discount, tags, a
    refund, a shipment, a promotion."""
    call_command("seed_demo", "--quiet")
    stock()
    shipped = order_in("shipped")
    services.order_tag(order=shipped, tags=[("vip", ""), ("priority", "high")], by=SYSTEM)
    services.order_refund(order=Order.objects.get(pk=shipped.pk), amount=Decimal("1.50"), reason="dent", by=SYSTEM)
    pending = order_in("pending")
    services.order_add_discount(order=pending, type="fixed", value=Decimal("2.00"), by=SYSTEM)
    return shipped, pending


def full(self, queryset, **kwargs):
    """No lean path: the list and the retrieve render through DRF's serializer (`render`)."""
    return None


def both(api, monkeypatch, url: str) -> tuple[bytes, bytes]:
    # The event feed lists what is older than its settle horizon (a second back): the same for both requests.
    horizon = events_api.settle_horizon()
    monkeypatch.setattr(events_api, "settle_horizon", lambda: horizon)
    lean_response = api.get(url)
    with monkeypatch.context() as m:
        m.setattr(ResourceViewSet, "lean", full)
        m.setattr(lean, "compiles", lambda serializer: False)  # one object through DRF too
        full_response = api.get(url)
    assert lean_response.status_code == full_response.status_code == 200, url
    return lean_response.content, full_response.content


@pytest.mark.parametrize("prefix", [prefix for prefix, _ in RESOURCES])
def test_list_and_retrieve_are_the_same_bytes_as_the_serializers(api, monkeypatch, data, prefix):
    lean_body, full_body = both(api, monkeypatch, f"/v1/{prefix}?limit=100")
    assert lean_body == full_body
    rows = api.get(f"/v1/{prefix}?limit=100").json()[prefix]
    for row in rows[:5]:
        lean_body, full_body = both(api, monkeypatch, f"/v1/{prefix}/{row['id']}")
        assert lean_body == full_body


def test_writes_and_their_events_render_as_drf_renders_them(api, monkeypatch):
    """A write's answer and its events render the objects as written (unrounded input, prices given as
    integers, a refund, a shipment, a discount) through the plan: the same as through DRF's serializer."""
    from stateset.models import Event

    stock()

    def run() -> list:
        body = {
            "order_line_items": [
                {"sku": "A", "quantity": 2, "unit_price": "1.5"},
                {"sku": "B", "quantity": 1, "unit_price": 3},
            ],
            "customer_email": "Lean.Check@Example.org",
        }
        answers, first_event = [], Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        created = api.post("/v1/orders", body, format="json")
        order_id = created.json()["order"]["id"]
        answers.append(created.json())
        for path, action in (
            ("add_discount", {"type": "fixed", "value": "0.5"}),
            ("ship", {"tracking_number": "1ZLEAN", "carrier": "UPS"}),
            ("refund", {"amount": "1", "reason": "dent"}),
        ):
            response = api.post(f"/v1/orders/{order_id}/{path}", action, format="json")
            assert response.status_code == 200, (path, response.json())
            answers.append(response.json())
        events = list(Event.objects.filter(pk__gt=first_event).order_by("pk").values_list("type", "data"))
        return [strip(a) for a in answers], [(t, strip(d)) for t, d in events]

    def isolated() -> list:  # each run from the same state: rolled back to a savepoint after
        savepoint = transaction.savepoint()
        try:
            return run()
        finally:
            transaction.savepoint_rollback(savepoint)

    lean_answers, lean_events = isolated()
    with monkeypatch.context() as m:
        m.setattr(lean, "compiles", lambda serializer: False)
        full_answers, full_events = isolated()
    assert lean_answers == full_answers
    assert lean_events == full_events and len(lean_events) >= 8


def strip(value):
    """The rendering without what differs between two runs: ids, numbers and times."""
    varying = {"id", "order_id", "order_number", "number", "shipment_number", "line_id", "object_id", "order_item_id"}
    varying |= {"inventory_item_id", "customer", "customer_id", "tracking_url", "timestamp"}
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in varying and not k.endswith(("_at", "date"))}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def test_the_order_list_renders_every_set_through_the_plan(api, monkeypatch, data):
    shipped, pending = data
    lean_body, full_body = both(api, monkeypatch, "/v1/orders?limit=100&order_by=id")
    assert lean_body == full_body
    orders = {o["id"]: o for o in api.get("/v1/orders?limit=100").json()["orders"]}
    assert orders[shipped.pk]["refunds"][0]["amount"] == "1.50"
    assert orders[shipped.pk]["shipments"] and orders[shipped.pk]["order_tags"]
    assert orders[pending.pk]["discounts"][0]["amount"] == "2.00"


def test_the_order_plan_reads_columns_directly():
    serializer = OrderSerializer(context={})
    plan = lean.plan_for(serializer)
    slow = [name for name, kind, *_ in plan if kind == lean.DRF]
    # Only the tag names (read by the list's Lean from the tag rows) and the balance (a property).
    assert set(slow) <= {"tags", "balance"}, slow
    assert {name for name, kind, *_ in plan if kind == lean.MANY} == {
        "order_tags",
        "order_line_items",
        "discounts",
        "refunds",
        "shipments",
    }
    line_plan = next(step for step in plan if step[0] == "order_line_items")[3]
    assert [name for name, kind, *_ in line_plan if kind == lean.DRF] == []


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 5, 11, 2, 3, 456789, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(999, 1, 1, tzinfo=UTC),
    ],
)
def test_datetimes_and_money_convert_as_drf_does(value):
    serializer = OrderSerializer(context={})
    plan = {name: (kind, a, b) for name, kind, a, b in lean.plan_for(serializer)}
    _, _, to_text = plan["created_at"]
    assert to_text(value) == serializer.fields["created_at"].to_representation(value)
    _, _, money = plan["total"]
    for amount in (Decimal("0.00"), Decimal("12.30"), Decimal("-3.10"), Decimal("5"), Decimal("1.005"), 7):
        assert money(amount) == serializer.fields["total"].to_representation(amount)


def test_the_order_list_reads_its_related_sets_as_rows():
    from orders.selectors import order_list

    found = lean.lean_for(OrderSerializer(context={}), order_list())
    assert set(found.sets) == {"order_line_items", "discounts", "tags", "refunds", "shipments"}
    assert all(related.columns for related in found.sets.values())  # .values() dicts, no instances
    assert found.prepare(order_list()).queryset._prefetch_related_lookups == ()


def test_the_order_list_reads_its_page_as_rows():
    """The page itself as `.values()` rows (no Order, Customer, Location or Promotion instances): the
    balance computed in SQL (OrderSerializer.Meta.lean_expressions), the location's and promotion's codes
    from the join."""
    from orders.selectors import order_list

    found = lean.lean_for(OrderSerializer(context={}), order_list(), dicts=True)
    assert found.dicts
    assert {"location__code", "promotion__code", "customer_id"} <= set(found.columns)
    assert set(found.expressions) == {"lean_balance"}
