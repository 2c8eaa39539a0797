"""Filters every list shares (contract §1.5): status (comma separated), created and updated ranges.

A bad value (an unknown status, a date that does not parse) makes the FilterSet invalid, which the list
answers with a 400 naming the parameter, never an empty list.
"""

from __future__ import annotations

import django_filters
from django import forms

from stateset.ids import MAX_ID


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


class IdFilter(django_filters.Filter):
    """`?customer=42`: a primary key, a whole number from 1 to MAX_ID; anything else is a 400."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class ResourceFilterSet(django_filters.FilterSet):
    created_after = django_filters.DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.DateTimeFilter(field_name="created_at", lookup_expr="lte")
    updated_after = django_filters.DateTimeFilter(field_name="updated_at", lookup_expr="gte")


def status_filter(choices, field_name: str = "status") -> CommaSeparatedChoiceFilter:
    return CommaSeparatedChoiceFilter(field_name=field_name, choices=choices)
