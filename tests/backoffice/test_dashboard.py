"""The dashboard: every number matches the data and the changelist it links to, a fixed number of queries,
each figure only for those who may see its rows, and open returns and warranty claims."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice import dashboard
from crm.models import Case
from inventory.models import InventoryItem
from manufacturing.models import WorkOrder
from orders.models import Order
from tests.backoffice.support import logged_in
from tests.factories import SYSTEM, make_case, make_item, make_user
from tests.orders.support import order_in, stock

pytestmark = pytest.mark.django_db


def figures_by_key(user) -> dict[str, dashboard.Figure]:
    return {f.key: f for f in dashboard.figures(user)}


def listed(client, url: str) -> int:
    """How many rows the admin changelist at `url` shows in all (its own count, over every page)."""
    response = client.get(url)
    assert response.status_code == 200, url
    return response.context["cl"].result_count


def backdate(order: Order, days: int) -> Order:
    # Orders are stamped by the database at creation; a test moves some into the past.
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=days))
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def orders_over_time(db):
    stock(200)
    today = [order_in("pending"), order_in("pending"), order_in("processing"), order_in("cancelled")]
    earlier = [backdate(order_in("shipped"), 3), backdate(order_in("pending"), 10), backdate(order_in("pending"), 45)]
    return today, earlier


def test_order_figures_match_the_data_and_their_links(admin_user, admin_client, orders_over_time):
    today_orders, _ = orders_over_time
    period = dashboard.Period.at()
    figures = figures_by_key(admin_user)

    today = {p.label: p.value for p in figures["orders_today"].points}
    assert (today["Pending"], today["Processing"], today["Cancelled"], today["Shipped"]) == (2, 1, 1, 0)
    assert figures["orders_today"].value == 4

    in_week = Order.objects.filter(created_at__gte=period.week_start)
    week = {p.label: p.value for p in figures["orders_week"].points}
    for value, label in Order._meta.get_field("status").choices:
        assert week[label] == in_week.filter(status=value).count()

    per_day = figures["orders_per_day"].points
    revenue = figures["revenue_per_day"].points
    assert len(per_day) == len(revenue) == 30
    booked_today = [o for o in today_orders if o.status != "cancelled"]
    assert per_day[-1].value == len(booked_today) == 3
    assert revenue[-1].value == sum(o.total for o in booked_today)
    assert per_day[-4].value == 1 and per_day[-11].value == 1  # 3 and 10 days ago; 45 days ago is out
    assert figures["orders_per_day"].value == 5
    assert figures["revenue_per_day"].value == sum(p.value for p in revenue)

    # Every count is what the changelist behind it lists.
    for key in ("orders_today", "orders_week", "orders_per_day"):
        figure = figures[key]
        assert listed(admin_client, figure.url) == figure.value, key
        for point in figure.points:
            assert listed(admin_client, point.url) == point.value, (key, point)


def test_low_stock_counts_active_items_at_or_below_their_reorder_point(admin_user, admin_client):
    make_item("LOW-1", on_hand=2, reorder_point=5)
    make_item("LOW-2", on_hand=5, reorder_point=5)
    make_item("OK-1", on_hand=9, reorder_point=5)
    make_item("OFF-1", on_hand=0, reorder_point=5, active=False)
    figure = figures_by_key(admin_user)["low_stock"]
    assert figure.value == 2
    assert [item.sku for item in figure.rows] == ["LOW-1", "LOW-2"]  # furthest below first
    assert listed(admin_client, figure.url) == 2
    assert InventoryItem.objects.count() == 4


def test_work_orders_and_cases(admin_user, admin_client):
    from tests.factories import make_bom, make_work_order

    part, component = make_item("FAN"), make_item("BLADE", on_hand=100)
    bom = make_bom(part, [(component, 2)])
    from manufacturing import services as mfg

    started = [
        mfg.work_order_start(work_order=mfg.work_order_release(work_order=make_work_order(bom), by=SYSTEM), by=SYSTEM)
        for _ in range(2)
    ]
    make_work_order(bom)
    for status, priority in [("open", "urgent"), ("escalated", "urgent"), ("open", "low"), ("closed", "urgent")]:
        make_case(status, priority=priority)
    figures = figures_by_key(admin_user)
    work = figures["work_orders"]
    assert work.value == len(started) == WorkOrder.objects.filter(status="in_progress").count()
    assert {p.label: p.value for p in work.points} == {"Planned": 1, "Released": 0, "In progress": 2, "On hold": 0}
    cases = figures["open_cases"]
    assert {p.label: p.value for p in cases.points} == {"Urgent": 2, "High": 0, "Medium": 0, "Low": 1}
    assert cases.value == 3 == Case.objects.filter(status__in=["open", "escalated"]).count()
    for figure in (work, cases):
        assert listed(admin_client, figure.url) == figure.value
        for point in figure.points:
            assert listed(admin_client, point.url) == point.value


RETURN_STEPS = {
    "requested": [],
    "approved": ["return_approve"],
    "received": ["return_approve", "return_receive"],
    "refunded": ["return_approve", "return_receive", "return_refund"],
    "rejected": ["return_reject"],
}
WARRANTY_STEPS = {"requested": [], "approved": ["warranty_approve"], "denied": ["warranty_deny"]}


def test_open_returns_and_warranty_claims(admin_user, admin_client):
    from returns import services as returns_services

    stock(100)
    for status, steps in RETURN_STEPS.items():
        order = order_in("shipped")
        line = order.order_line_items.order_by("pk").first()
        ret = returns_services.return_create(
            by=SYSTEM, order=order, return_line_items=[{"order_line_item": line.pk, "quantity": 1}]
        )
        for step in steps:
            extra = {"reason": "test"} if step == "return_reject" else {}
            ret = getattr(returns_services, step)(return_=ret, by=SYSTEM, **extra)
        assert ret.status == status
    for status, steps in WARRANTY_STEPS.items():
        claim = returns_services.warranty_create(by=SYSTEM, warranty_line_items=[{"sku": "A"}])
        for step in steps:
            extra = {"reason": "test"} if step == "warranty_deny" else {}
            claim = getattr(returns_services, step)(warranty=claim, by=SYSTEM, **extra)
        assert claim.status == status
    figures = figures_by_key(admin_user)
    returns, warranties = figures["open_returns"], figures["open_warranties"]
    assert {p.label: p.value for p in returns.points} == {"Requested": 1, "Approved": 1, "Received": 1}
    assert {p.label: p.value for p in warranties.points} == {"Requested": 1, "Approved": 1}
    for figure in (returns, warranties):
        assert listed(admin_client, figure.url) == figure.value
        for point in figure.points:
            assert listed(admin_client, point.url) == point.value


def test_the_open_statuses_are_the_returns_apps_own():
    from returns.states import ReturnStatus, WarrantyStatus

    assert set(dashboard.RETURN_OPEN) <= set(ReturnStatus.values)
    assert set(dashboard.WARRANTY_OPEN) <= set(WarrantyStatus.values)


def test_each_figure_needs_the_view_permission_of_its_rows():
    make_case("open", priority="high")
    agent = make_user("crm.view_case")
    assert [f.key for f in dashboard.figures(agent)] == ["open_cases"]
    page = logged_in(agent).get("/admin/")
    assert page.status_code == 200
    assert b'id="figure-open_cases"' in page.content and b"figure-orders_today" not in page.content


def test_the_dashboard_page_costs_a_fixed_number_of_queries(admin_client):
    stock(500)
    admin_client.get("/admin/")
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get("/admin/").status_code == 200
    for days in range(0, 30, 3):
        backdate(order_in("pending"), days)
        make_case("open")
        make_item(on_hand=0, reorder_point=1)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get("/admin/").status_code == 200
    assert len(few) == len(many) <= 20, [q["sql"] for q in many.captured_queries]


def test_the_index_page_draws_the_charts_with_their_numbers(admin_client):
    stock()
    order_in("pending")
    order_in("shipped")
    content = admin_client.get("/admin/").content.decode()
    assert content.count("<svg") >= 6
    assert "cdn" not in content.lower() and '<script src="http' not in content
    section = re.search(r'id="figure-orders_today".*?</section>', content, re.S).group(0)
    assert 'data-value="2"' in section
    assert re.search(r'data-label="Pending" data-value="1"', section)
    assert re.search(r'data-label="Shipped" data-value="1"', section)
    assert "/admin/orders/order/?status__exact=pending&amp;created_at__year=" in section
    assert Decimal(re.search(r'id="figure-revenue_per_day"[^>]*data-value="([\d.]+)"', content).group(1)) > 0


def test_the_demo_history_spreads_orders_over_the_days_with_a_weekly_rhythm(db):
    """seed_demo's last step (here over 21 days): orders on most days, more on weekdays than at weekends, made
    through the services (shipped ones consumed their stock, every one has its history)."""
    from collections import Counter
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone
    from django_fsm_log.models import StateLog

    from backoffice import demo_history
    from orders.models import Order
    from stateset.actors import Actor

    call_command("seed_demo", "--quiet", "--no-history", stdout=StringIO())
    demo_history.seed(by=Actor.command("seed_demo"), progress=False, days=21)
    history = Order.objects.filter(source=demo_history.SOURCE)
    days = Counter(timezone.localtime(o.created_at).date() for o in history)
    assert len(days) >= 15  # not one spike
    weekday = sum(n for d, n in days.items() if d.weekday() < 5) / 15
    weekend = sum(n for d, n in days.items() if d.weekday() >= 5) / 6
    assert weekday > weekend
    assert history.filter(status="delivered").exists() and history.filter(status="pending").exists()
    for order in history.filter(status="delivered")[:5]:
        assert StateLog.objects.for_(order).filter(transition="ship").exists()
    assert "already present" in demo_history.seed(by=Actor.command("seed_demo"), progress=False, days=21)
