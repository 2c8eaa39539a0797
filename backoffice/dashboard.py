"""The back office dashboard's figures: named reads, one query each (low stock: two), whatever the data.

Every figure links to the admin changelist that lists exactly the rows it counts, with the same filters, so
a number on the dashboard can always be checked by clicking it. The statuses and their groups are the apps'
own (their `states.py`); nothing here restates them.

Times are in the project's time zone (settings.TIME_ZONE): "today" is the current date there, "this week"
starts on Monday at midnight, and "the last 30 days" are today and the 29 days before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from backoffice.charts import Number, Point, bar_chart, line_chart
from crm.models import Case
from crm.states import CASE_ACTIVE, CasePriority
from inventory import selectors as inventory_selectors
from manufacturing.models import WorkOrder
from manufacturing.states import WorkOrderStatus
from orders.models import Order
from orders.states import OrderStatus
from returns.models import Return, Warranty
from returns.states import RETURN_OPEN, WARRANTY_OPEN

# Orders that count as booked business: everything but cancelled ones and merged ones (whose lines and
# totals now live on the order they were merged into).
BOOKED = tuple(s for s in OrderStatus.values if s not in (OrderStatus.CANCELLED, OrderStatus.MERGED))
# Work orders not finished yet, in the order they move through.
WORK_ORDER_UNFINISHED = (
    WorkOrderStatus.PLANNED,
    WorkOrderStatus.RELEASED,
    WorkOrderStatus.IN_PROGRESS,
    WorkOrderStatus.ON_HOLD,
)
PRIORITIES = (CasePriority.URGENT, CasePriority.HIGH, CasePriority.MEDIUM, CasePriority.LOW)
DAYS = 30
LOW_STOCK_ROWS = 10


@dataclass(frozen=True)
class Figure:
    """One tile of the dashboard: a headline number with its changelist, and a chart or table under it."""

    key: str
    title: str
    value: Number
    url: str
    points: Sequence[Point] = ()
    chart: SafeString | None = None
    rows: Sequence[Any] = field(default_factory=tuple)
    note: str = ""


def changelist_url(label: str, **params: Any) -> str:
    """The admin changelist of `label` ("orders.order") filtered by `params`; a list or tuple value becomes
    an `__in` list separated by commas, as the admin reads it."""
    app_label, model_name = label.split(".")
    try:
        url = reverse(f"admin:{app_label}_{model_name}_changelist")
    except NoReverseMatch:
        url = f"/admin/{app_label}/{model_name}/"
    query = {k: ",".join(str(x) for x in v) if isinstance(v, list | tuple) else v for k, v in params.items()}
    return f"{url}?{urlencode(query)}" if query else url


def _day_params(day: date) -> dict[str, int]:
    # The admin's date hierarchy parameters: the changelist shows them as the selected day.
    return {"created_at__year": day.year, "created_at__month": day.month, "created_at__day": day.day}


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# ---- orders ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    today: date
    week_start: datetime  # Monday, midnight
    days: tuple[date, ...]  # the last DAYS days, oldest first

    @classmethod
    def at(cls, now: datetime | None = None) -> Period:
        today = timezone.localdate(now or timezone.now())
        monday = today - timedelta(days=today.weekday())
        return cls(
            today=today,
            week_start=_midnight(monday),
            days=tuple(today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)),
        )


def orders_by_status(period: Period) -> tuple[list[Point], list[Point]]:
    """Orders created today and this week, per status (every status, zeros included), in one query."""
    rows = (
        Order.objects.filter(created_at__gte=min(period.week_start, _midnight(period.today)))
        .values("status")
        .annotate(
            week=Count("pk", filter=Q(created_at__gte=period.week_start)),
            today=Count("pk", filter=Q(created_at__gte=_midnight(period.today))),
        )
        .order_by()
    )
    counts = {row["status"]: row for row in rows}
    today, week = [], []
    for value, label in OrderStatus.choices:
        row = counts.get(value, {"today": 0, "week": 0})
        today.append(
            Point(label, row["today"], changelist_url("orders.order", status__exact=value, **_day_params(period.today)))
        )
        week.append(
            Point(
                label,
                row["week"],
                changelist_url("orders.order", status__exact=value, created_at__gte=period.week_start.isoformat()),
            )
        )
    return today, week


def orders_per_day(period: Period) -> tuple[list[Point], list[Point]]:
    """Booked orders (not cancelled, not merged) created on each of the last DAYS days, and the sum of their
    totals, in one query. Days without orders are zeros."""
    rows = (
        Order.objects.filter(status__in=BOOKED, created_at__gte=_midnight(period.days[0]))
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(orders=Count("pk"), revenue=Sum("total"))
        .order_by()
    )
    by_day = {row["day"]: row for row in rows}
    orders, revenue = [], []
    for day in period.days:
        row = by_day.get(day, {"orders": 0, "revenue": None})
        url = changelist_url("orders.order", status__in=BOOKED, **_day_params(day))
        label = day.strftime("%d %b").lstrip("0")
        orders.append(Point(label, row["orders"], url))
        revenue.append(Point(label, (row["revenue"] or Decimal("0")).quantize(Decimal("0.01")), url))
    return orders, revenue


# ---- returns and warranties --------------------------------------------------------------------------------


def open_by_status(model, statuses: Sequence) -> list[Point]:
    """Open rows of a stateful model (Return, Warranty), per status (members of its TextChoices), in one
    query."""
    counts = dict(model.objects.filter(status__in=statuses).values_list("status").annotate(n=Count("pk")).order_by())
    label = model._meta.label_lower
    return [Point(s.label, counts.get(s.value, 0), changelist_url(label, status__exact=s.value)) for s in statuses]


# ---- stock, production, cases ------------------------------------------------------------------------------


def low_stock_items(limit: int = LOW_STOCK_ROWS) -> tuple[int, list[Any]]:
    """Active items whose available stock (on hand − allocated, over every location) is at or below their
    reorder point: how many, and the `limit` furthest below it. Two queries."""
    low = (
        inventory_selectors.item_list()
        .prefetch_related(None)
        .filter(active=True, available_total__lte=F("reorder_point"))
    )
    rows = list(low.annotate(shortfall=F("reorder_point") - F("available_total")).order_by("-shortfall", "sku")[:limit])
    return low.count(), rows


def work_orders_unfinished() -> list[Point]:
    """Work orders not finished yet, per status, in one query."""
    counts = dict(
        WorkOrder.objects.filter(status__in=WORK_ORDER_UNFINISHED)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [
        Point(s.label, counts.get(s.value, 0), changelist_url("manufacturing.workorder", status__exact=s.value))
        for s in WORK_ORDER_UNFINISHED
    ]


def open_cases_by_priority() -> list[Point]:
    """Cases someone still has to work on (open or escalated), per priority, most urgent first; one query."""
    counts = dict(
        Case.objects.filter(status__in=CASE_ACTIVE).values_list("priority").annotate(n=Count("pk")).order_by()
    )
    return [
        Point(
            p.label,
            counts.get(p.value, 0),
            changelist_url("crm.case", status__in=[s.value for s in CASE_ACTIVE], priority__exact=p.value),
        )
        for p in PRIORITIES
    ]


# ---- the dashboard -----------------------------------------------------------------------------------------


def _total(points: Sequence[Point]) -> Number:
    return sum((p.value for p in points), start=Decimal("0") if points and isinstance(points[0].value, Decimal) else 0)


def _money(value: Number) -> str:
    return f"{value:,.2f}"


def figures(user, now: datetime | None = None) -> list[Figure]:
    """The figures `user` may see (each needs the view permission of the rows it counts), in display order.
    A fixed number of queries: at most eight, whatever the data."""
    period = Period.at(now)
    shown: list[Figure] = []

    if user.has_perm("orders.view_order"):
        today, week = orders_by_status(period)
        per_day, revenue = orders_per_day(period)
        booked = (BOOKED, _midnight(period.days[0]).isoformat())
        shown += [
            Figure(
                "orders_today",
                f"Orders today ({period.today:%a %d %b})",
                _total(today),
                changelist_url("orders.order", **_day_params(period.today)),
                today,
                bar_chart([p for p in today if p.value] or today, title="Orders today by status"),
            ),
            Figure(
                "orders_week",
                f"Orders this week (since {period.week_start:%a %d %b})",
                _total(week),
                changelist_url("orders.order", created_at__gte=period.week_start.isoformat()),
                week,
                bar_chart([p for p in week if p.value] or week, title="Orders this week by status"),
            ),
            Figure(
                "orders_per_day",
                f"Orders booked per day, last {DAYS} days",
                _total(per_day),
                changelist_url("orders.order", status__in=booked[0], created_at__gte=booked[1]),
                per_day,
                bar_chart(per_day, title=f"Orders booked per day, last {DAYS} days", width=640),
                note="Not cancelled and not merged.",
            ),
            Figure(
                "revenue_per_day",
                f"Revenue per day, last {DAYS} days",
                _total(revenue),
                changelist_url("orders.order", status__in=booked[0], created_at__gte=booked[1]),
                revenue,
                line_chart(revenue, title=f"Revenue per day, last {DAYS} days", width=640, fmt=_money),
                note="The totals of the orders booked that day.",
            ),
        ]

    for key, title, model, statuses in (
        ("open_returns", "Open returns", Return, RETURN_OPEN),
        ("open_warranties", "Open warranty claims", Warranty, WARRANTY_OPEN),
    ):
        if not user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}"):
            continue
        points = open_by_status(model, statuses)
        shown.append(
            Figure(
                key,
                title,
                _total(points),
                changelist_url(model._meta.label_lower, status__in=[s.value for s in statuses]),
                points,
                bar_chart(points, title=f"{title} by status", width=320),
            )
        )

    if user.has_perm("inventory.view_inventoryitem"):
        count, rows = low_stock_items()
        shown.append(
            Figure(
                "low_stock",
                "Low-stock items",
                count,
                changelist_url("inventory.inventoryitem", low_stock="yes", active__exact=1),
                rows=rows,
                note="Active items whose available stock is at or below their reorder point.",
            )
        )

    if user.has_perm("manufacturing.view_workorder"):
        points = work_orders_unfinished()
        in_progress = next(p for p in points if p.label == WorkOrderStatus.IN_PROGRESS.label)
        shown.append(
            Figure(
                "work_orders",
                "Work orders in progress",
                in_progress.value,
                in_progress.url,
                points,
                bar_chart(points, title="Unfinished work orders by status", width=320),
            )
        )

    if user.has_perm("crm.view_case"):
        points = open_cases_by_priority()
        shown.append(
            Figure(
                "open_cases",
                "Open cases by priority",
                _total(points),
                changelist_url("crm.case", status__in=[s.value for s in CASE_ACTIVE]),
                points,
                bar_chart(points, title="Open and escalated cases by priority", width=320),
            )
        )
    return shown
