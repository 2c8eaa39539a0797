from rest_framework import serializers

from crm.models import Customer
from stateset.api import ConstantField, ResourceSerializer


class CustomerSerializer(ResourceSerializer):
    """The seed's field names: `activationDate`, `firstName`, `lastName` (camelCase kept)."""

    object = ConstantField("customer")
    activationDate = serializers.DateTimeField(source="activation_date", required=False, allow_null=True)
    firstName = serializers.CharField(source="first_name", required=False, allow_blank=True, max_length=150)
    lastName = serializers.CharField(source="last_name", required=False, allow_blank=True, max_length=150)

    class Meta:
        model = Customer
        fields = [
            "id",
            "object",
            "sso_id",
            "activationDate",
            "email",
            "firstName",
            "lastName",
            "phone",
            "stripe_customer_id",
            "timestamp",
            "created_at",
            "updated_at",
        ]
        # Uniqueness is a rule of the service (crm.services), backed by the database.
        extra_kwargs = {"sso_id": {"validators": []}, "timestamp": {"required": False}}
