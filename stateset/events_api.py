"""`/v1/events`: the feed of every change (issue #17), read by cursor from where a consumer stopped.

A caller sees the events of the object types it may view (`view_<model>` of the model behind each type).
Every page, the first one too, lists only events older than the settle horizon (stateset.pagination
.settle_horizon: CURSOR_SETTLE_SECONDS before the start of the oldest transaction still writing), so an event
whose transaction commits after a later one's is never skipped by a reader that has moved past the later one.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated

from stateset import events
from stateset.api import ListMixin, ResourceViewSet, RetrieveMixin
from stateset.filters import IdFilter, ResourceFilterSet
from stateset.models import Event
from stateset.pagination import settle_horizon


class EventDataSerializer(serializers.Serializer):
    object = serializers.JSONField(source="data", help_text="The object as the API renders it after the change.")
    previous_attributes = serializers.JSONField(
        allow_null=True, help_text="For a change of fields: each changed field's value before it."
    )


class EventSerializer(serializers.ModelSerializer):
    object = serializers.SerializerMethodField()
    data = EventDataSerializer(source="*")

    class Meta:
        model = Event
        fields = [
            "id",
            "object",
            "type",
            "object_type",
            "object_id",
            "sequence",
            "data",
            "actor",
            "request_id",
            "created_at",
        ]
        read_only_fields = fields

    def get_object(self, _) -> str:
        return "event"


class TypePatternField(forms.CharField):
    """`order.shipped`, `order.*`, or several separated by commas."""

    def clean(self, value):
        value = super().clean(value)
        patterns = [v.strip() for v in (value or "").split(",") if v.strip()]
        for p in patterns:
            if "*" in p[:-1] or not all(part for part in p.split(".")):
                raise forms.ValidationError(f"'{p}' is not an event type or a pattern like 'order.*'.")
        return patterns


def type_matches(patterns: list[str]) -> Q:
    q = Q()
    for p in patterns:
        q |= Q(type__startswith=p[:-1]) if p.endswith("*") else Q(type=p)
    return q


class TypeFilter(django_filters.Filter):
    field_class = TypePatternField

    def filter(self, qs, value):
        return qs.filter(type_matches(value)) if value else qs


class EventFilter(ResourceFilterSet):
    type = TypeFilter(help_text="An event type, a pattern like `order.*`, or several separated by commas.")
    object_type = django_filters.CharFilter()
    object_id = IdFilter()

    class Meta:
        model = Event
        fields = ["type", "object_type", "object_id"]


def visible_types(user) -> list[str]:
    return [s.object_type for s in events.sources() if user.has_perm(s.view_permission)]


class EventViewSet(ListMixin, RetrieveMixin, ResourceViewSet):
    """Events: `GET /v1/events` (newest first, as every list; a feed reader asks `order_direction=asc` and
    continues with `starting_after=<the last id read>`) and `GET /v1/events/{id}`. Each is one change of one
    object; `sequence` counts that object's events."""

    singular, plural = "event", "events"
    queryset = Event.objects.all()
    serializer_class = EventSerializer
    filterset_class = EventFilter
    permission_classes = [IsAuthenticated]
    ordering_fields = ("created_at", "id")

    def get_queryset(self):
        queryset = Event.objects.all()
        request = getattr(self, "request", None)
        if request is not None and self.action != "retrieve":
            queryset = queryset.filter(created_at__lt=settle_horizon())
        if request is not None and not request.user.is_superuser:
            queryset = queryset.filter(object_type__in=visible_types(request.user))
        return queryset
