"""Promotions in and out of the back office (django-import-export), written through orders.services."""

from import_export.fields import Field

from orders import services
from orders.models import Promotion
from stateset.resources import ServiceResource


class PromotionResource(ServiceResource):
    """One row per promotion, found by code (case-insensitively, as codes are unique). A new code creates the
    promotion (`promotion_create`), a known one updates the columns given (`promotion_update`).
    `times_used` is exported and never imported: it counts the orders holding the promotion."""

    times_used = Field(attribute="times_used", column_name="times_used", readonly=True)

    natural_key = "code"
    natural_key_lookup = "code__iexact"
    create_service = services.promotion_create
    update_service = services.promotion_update
    service_param = "promotion"
    service_fields = services.PROMOTION_FIELDS

    class Meta(ServiceResource.Meta):
        model = Promotion
        fields = (
            "id",
            "code",
            "name",
            "description",
            "type",
            "value",
            "active",
            "starts_at",
            "ends_at",
            "usage_limit",
            "min_order_amount",
            "times_used",
        )
        export_order = fields
