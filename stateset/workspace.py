"""A document's page as a workspace (issue #19): a header card, every action allowed now in one place, the
lines, then the other sections, related documents and a timeline in words. Sections with nothing in them are
hidden; a page with nothing editable has no Save.

The page is a list of small sections (`Section`), each rendered by its own template under
templates/admin/workspace/. An admin (stateset.admin.StatefulAdmin) chooses and orders them with
`workspace_layout`; a new section (shipments, parcels) is a name in that list, an inline mapped to it in
`inline_sections` or a method `section_<name>(request, obj)` returning a Section, and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.admin.utils import display_for_field
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.html import format_html

# The colour of a status, by what it means for whoever reads the page.
TONES = {
    "done": {
        "delivered",
        "received",
        "completed",
        "closed",
        "fulfilled",
        "approved",
        "active",
        "resolved",
        "converted",
        "accepted",
        "reconciled",
        "paid",
    },
    "moving": {
        "processing",
        "shipped",
        "ordered",
        "in_progress",
        "in_production",
        "partially_received",
        "released",
        "submitted",
        "authorized",
        "engaged",
        "counted",
        "partially_paid",
        "allocated",
    },
    "waiting": {"pending", "on_hold", "draft", "requested", "new", "open", "planned", "escalated", "unfulfilled"},
    "stopped": {
        "cancelled",
        "rejected",
        "denied",
        "voided",
        "merged",
        "obsolete",
        "returned",
        "exchanged",
        "refunded",
        "skipped",
    },
}
TONE_OF = {status: tone for tone, statuses in TONES.items() for status in statuses}

# A transition's name as the timeline tells it; any other reads as its words ("mark returned").
PAST = {
    "create": "created it",
    "update": "changed its details",
    "hold": "put it on hold",
    "release": "released it",
    "process": "started processing it",
    "ship": "shipped it",
    "deliver": "marked it delivered",
    "cancel": "cancelled it",
    "refund": "refunded",
    "split": "split a line off",
    "merge": "merged orders into it",
    "merge_into": "merged it into another order",
    "add_item": "added an item",
    "remove_item": "removed an item",
    "add_discount": "added a discount",
    "remove_discount": "removed a discount",
    "apply_promotion": "applied a promotion",
    "remove_promotion": "removed the promotion",
    "tag": "tagged it",
    "untag": "untagged it",
    "mark_returned": "marked it returned",
    "unmark_returned": "took the return mark off",
    "mark_exchanged": "marked it exchanged",
    "approve": "approved it",
    "reject": "rejected it",
    "submit": "submitted it",
    "receive": "received goods",
    "receive_items": "received goods",
    "close": "closed it",
    "complete": "completed it",
    "start": "started it",
    "issue": "issued it",
    "order": "ordered it",
    "place": "placed it",
}


def words(value: str) -> str:
    """`return_items` → "Return items"."""
    return str(value).replace("_", " ").strip().capitalize()


def status_words(obj: models.Model, value: str | None = None) -> str:
    """A status in words: the label its model's field gives it (`on_hold` → "On hold")."""
    value = obj.status if value is None else value
    try:
        choices = dict(obj._meta.get_field("status").flatchoices)
    except Exception:  # a model without a status field
        choices = {}
    return str(choices.get(value, words(value)))


def status_badge(obj: models.Model, value: str | None = None) -> str:
    value = obj.status if value is None else value
    tone = TONE_OF.get(value, "neutral")
    return format_html(
        '<span class="status-badge tone-{}" data-status="{}">{}</span>', tone, value, status_words(obj, value)
    )


def admin_url(obj: models.Model) -> str:
    """The object's page in the back office, or "" when it has none."""
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def link(obj: models.Model | None, text: str = "") -> str:
    if obj is None:
        return ""
    url = admin_url(obj)
    text = text or str(obj)
    return format_html('<a href="{}">{}</a>', url, text) if url else text


def person(customer, fallback: str = "") -> str:
    """A customer as a list shows it: the name, else the email (not "Name <email>", twice as wide)."""
    if customer is None:
        return fallback or "—"
    name = f"{getattr(customer, 'first_name', '')} {getattr(customer, 'last_name', '')}".strip()
    return name or getattr(customer, "email", "") or fallback or str(customer)


def money(value: Decimal | None, currency: str = "") -> str:
    if value is None:
        return ""
    amount = formats.number_format(value, 2, use_l10n=True, force_grouping=True)
    return f"{currency} {amount}".strip()


@dataclass
class Section:
    """One piece of the page: `template` renders it with `section` in its context."""

    name: str
    title: str = ""
    template: str = ""
    inlines: list = field(default_factory=list)  # InlineAdminFormSets shown
    hidden_inlines: list = field(default_factory=list)  # empty: only their management forms
    rows: list = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.template = self.template or f"admin/workspace/{self.name if self.name in BUILT_IN else 'inlines'}.html"

    @property
    def empty(self) -> bool:
        return not (self.inlines or self.rows or self.extra)


BUILT_IN = {"card", "actions", "details", "related", "timeline"}


@dataclass(frozen=True)
class CardField:
    label: str
    value: str
    name: str = ""


def card_field(admin, obj: models.Model, name: str) -> CardField | None:
    """One entry of the header card: a model field (its choice in words, its foreign key linked) or a method
    of the admin taking the object (its `short_description` the label). None when it has no value."""
    method = getattr(admin, name, None)
    if callable(method):
        value = method(obj)
        label = getattr(method, "short_description", words(name))
        return CardField(str(label), value, name) if value not in (None, "") else None
    model_field = obj._meta.get_field(name)
    label = words(str(model_field.verbose_name))
    value = getattr(obj, name)
    if value in (None, ""):
        return None
    if name == "status":
        shown = status_badge(obj)
    elif model_field.choices:
        shown = getattr(obj, f"get_{name}_display")()
    elif model_field.is_relation:
        shown = link(value)
    elif isinstance(model_field, models.DecimalField):
        shown = money(value, getattr(obj, "currency", ""))
    else:
        shown = display_for_field(value, model_field, "")
    return CardField(label, shown, name)


@dataclass(frozen=True)
class Event:
    when: Any
    who: str
    what: str
    change: str
    reason: str


DESCRIPTION = re.compile(r"^\[(?P<door>[^\]]*)\]\s*(?P<reason>.*)$", re.S)


def timeline(obj: models.Model, limit: int = 200) -> list[Event]:
    """The object's history (django-fsm-log's rows), newest first, in words: who, through which door, did
    what, from which status to which, and why."""
    from django_fsm_log.models import StateLog

    events = []
    rows = StateLog.objects.for_(obj).select_related("by").order_by("-timestamp", "-pk")[:limit]
    for row in rows:
        match = DESCRIPTION.match(row.description or "")
        door, reason = (match["door"], match["reason"]) if match else ("", row.description or "")
        who = door or (row.by.get_username() if row.by else "system")
        change = ""
        if row.source_state and row.source_state != row.state:
            change = f"{status_words(obj, row.source_state)} → {status_words(obj, row.state)}"
        elif row.state and row.transition == "create":
            change = status_words(obj, row.state)
        events.append(
            Event(
                when=timezone.localtime(row.timestamp),
                who=who,
                what=PAST.get(row.transition, words(row.transition).lower()),
                change=change,
                reason=reason,
            )
        )
    return events
