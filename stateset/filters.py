"""Filters every list shares (contract §1.5): status (comma separated), created and updated ranges, and the
strict filter classes every app's filters use (a boolean, an id).

A bad value (an unknown status, a date that does not parse) makes the FilterSet invalid, which the list
answers with a 400 naming the parameter, never an empty list.
"""

from __future__ import annotations

import re
from datetime import UTC

import django_filters
from django import forms

from stateset.ids import MAX_ID

ASCII_DIGITS = re.compile(r"[0-9]+")


class CommaSeparatedChoiceField(forms.CharField):
    def __init__(self, *args, valid=(), **kwargs):
        self.valid = set(valid)
        super().__init__(*args, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return []
        values = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in values if v not in self.valid]
        if bad:
            raise forms.ValidationError(
                f"Unknown value(s) {', '.join(bad)}; choose from {', '.join(sorted(self.valid))}."
            )
        return values


class CommaSeparatedChoiceFilter(django_filters.Filter):
    """`?status=pending,processing`: each value must be one of the choices."""

    field_class = CommaSeparatedChoiceField

    def __init__(self, *args, choices=(), **kwargs):
        kwargs["valid"] = [str(value) for value, _ in choices]
        kwargs.setdefault("lookup_expr", "in")
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__in": value})


TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


class StrictBooleanField(forms.CharField):
    """`true`/`false` (or 1/0, yes/no); anything else is a 400 rather than being ignored."""

    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise forms.ValidationError(f"'{value}' is not a boolean; use true or false.")


class BooleanFilter(django_filters.Filter):
    """`?active=true`: the one boolean filter of every list. django-filter's own BooleanFilter reads what it
    cannot parse (`?active=garbage`) as no filter at all, and the list answered everything."""

    field_class = StrictBooleanField

    def filter(self, qs, value):
        if value is None:
            return qs
        return qs.filter(**{self.field_name: value})


class IdField(forms.IntegerField):
    """ASCII digits only: forms.IntegerField reads `1.0` and any Unicode digit (`int("１") == 1`)."""

    def to_python(self, value):
        if value not in self.empty_values and not ASCII_DIGITS.fullmatch(str(value)):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class IdFilter(django_filters.Filter):
    """`?customer=42`: a primary key, a whole number from 1 to MAX_ID (ASCII digits); anything else is a 400."""

    field_class = IdField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class UtcDateTimeField(forms.DateTimeField):
    """A date-time in UTC. ISO 8601 allows offsets up to ±23:59 and PostgreSQL only ±15:59
    (`2026-01-01T00:00:00-22:09` was a 500); in UTC the offset is gone, and a moment past year 9999 is a 400."""

    def to_python(self, value):
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return result.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Date-time out of range.", code="invalid")


class DateTimeFilter(django_filters.DateTimeFilter):
    field_class = UtcDateTimeField


class ResourceFilterSet(django_filters.FilterSet):
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lte")
    updated_after = DateTimeFilter(field_name="updated_at", lookup_expr="gte")


def status_filter(choices, field_name: str = "status") -> CommaSeparatedChoiceFilter:
    return CommaSeparatedChoiceFilter(field_name=field_name, choices=choices)
