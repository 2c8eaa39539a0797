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
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from stateset import events, webhooks
from stateset.api import (
    ConstantField,
    DestroyMixin,
    InputSerializer,
    ListMixin,
    ResourceSerializer,
    ResourceViewSet,
    RetrieveMixin,
    UpdateMixin,
    list_params,
)
from stateset.errors import NotFound
from stateset.filters import IdFilter, ResourceFilterSet
from stateset.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
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
    updated_after = None  # events are immutable: they have no updated_at to filter on

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


# ---- webhook endpoints ---------------------------------------------------------------------------------------


class WebhookEndpointSerializer(ResourceSerializer):
    """An endpoint. Its signing secret is in the answer of the create and of `rotate_secret` only."""

    object = ConstantField("webhook_endpoint")
    enabled_events = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text='Event types or patterns ("order.*"); ["*"] (the default) is every event.',
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "object",
            "url",
            "enabled_events",
            "enabled",
            "description",
            "disabled_reason",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["disabled_reason", "previous_secret_expires_at", "created_at", "updated_at"]


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["id", "status_code", "duration_ms", "response_body", "error", "created_at"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    object = serializers.SerializerMethodField()
    event_type = serializers.CharField(source="event.type")
    attempt_log = WebhookAttemptSerializer(many=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "object",
            "endpoint",
            "event",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "attempt_log",
            "created_at",
        ]

    def get_object(self, _) -> str:
        return "webhook_delivery"


class WithSecret(serializers.Serializer):
    webhook_endpoint = WebhookEndpointSerializer()
    secret = serializers.CharField(help_text="The signing secret: shown here once.")


class DeliveryList(serializers.Serializer):
    webhook_deliveries = WebhookDeliverySerializer(many=True)
    total_count = serializers.IntegerField()
    total_count_exact = serializers.BooleanField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    has_more = serializers.BooleanField()


class DeliveryEnvelope(serializers.Serializer):
    webhook_delivery = WebhookDeliverySerializer()


class RotateInput(InputSerializer):
    grace_hours = serializers.FloatField(required=False, min_value=0, max_value=24 * 30)


class WebhookEndpointViewSet(ListMixin, RetrieveMixin, UpdateMixin, DestroyMixin, ResourceViewSet):
    """Webhook endpoints: `/v1/webhook_endpoints` (own permissions: `stateset.*_webhookendpoint`). The create
    answers the signing secret once; `rotate_secret` makes a new one (the old one still signs for a grace
    period); `/deliveries` lists what was sent, with every attempt, and `redeliver` sends one again."""

    singular, plural = "webhook_endpoint", "webhook_endpoints"
    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    update_service = webhooks.webhook_endpoint_update
    delete_service = webhooks.webhook_endpoint_delete
    custom_response_schemas = {
        "create": WithSecret,
        "rotate_secret": WithSecret,
        "deliveries": DeliveryList,
        "redeliver": DeliveryEnvelope,
    }

    @extend_schema(request=WebhookEndpointSerializer)
    def create(self, request, *args, **kwargs):
        validated = self.validate_input(WebhookEndpointSerializer, self.unwrap(request.data))
        endpoint, secret = webhooks.webhook_endpoint_create(by=self.actor, **validated)
        body = {"webhook_endpoint": self.present(endpoint), "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=RotateInput)
    @action(detail=True, methods=["post"], url_path="rotate_secret")
    def rotate_secret(self, request, *args, **kwargs):
        endpoint = self.get_object()
        validated = self.validate_input(RotateInput, request.data or {})
        endpoint, secret = webhooks.webhook_endpoint_rotate_secret(
            webhook_endpoint=endpoint, by=self.actor, **validated
        )
        return Response({"webhook_endpoint": self.present(endpoint), "secret": secret})

    @action(detail=True, methods=["get"], url_path="deliveries")
    def deliveries(self, request, *args, **kwargs):
        endpoint = self.get_object()
        params = list_params(request, ordering_fields=("created_at",), default_order="created_at")
        rows = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event").prefetch_related("attempt_log")
        page = params.page(rows, settle_field=None)
        data = WebhookDeliverySerializer(page.rows, many=True).data
        return Response(page.envelope("webhook_deliveries", data, limit=params.limit, offset=params.offset))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_id>[0-9]+)/redeliver")
    def redeliver(self, request, *args, delivery_id=None, **kwargs):
        endpoint = self.get_object()
        delivery = WebhookDelivery.objects.filter(endpoint=endpoint, pk=delivery_id).first()
        if delivery is None:
            raise NotFound(f"Webhook delivery {delivery_id} of endpoint {endpoint.pk} does not exist.")
        delivery = webhooks.webhook_redeliver(delivery=delivery, by=self.actor)
        fresh = WebhookDelivery.objects.select_related("event").prefetch_related("attempt_log").get(pk=delivery.pk)
        return Response({"webhook_delivery": WebhookDeliverySerializer(fresh).data})
