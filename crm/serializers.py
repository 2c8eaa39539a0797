from rest_framework import serializers

from crm.models import Case, Customer, Lead
from stateset.api import ConstantField, InputSerializer, ResourceSerializer


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


def _text(source: str, max_length: int = 255) -> serializers.CharField:
    return serializers.CharField(source=source, required=False, allow_blank=True, max_length=max_length)


class LeadSerializer(ResourceSerializer):
    """Reference §19's keys exactly, camelCase and snake_case mixed as documented (`firstName`, `leadSource`,
    `mailingCity`, `photoUrl`, `do_not_call`, `email_opt_out`, ...). `status` changes only through the
    actions; `created_by`, `last_modified_by` and `converted_customer` are the server's."""

    object = ConstantField("lead")
    firstName = _text("first_name", 150)
    lastName = _text("last_name", 150)
    leadSource = _text("lead_source")
    mailingStreet = _text("mailing_street")
    mailingCity = _text("mailing_city")
    mailingState = _text("mailing_state")
    mailingCountry = _text("mailing_country")
    mailingGeocodeAccuracy = _text("mailing_geocode_accuracy", 100)
    photoUrl = serializers.URLField(source="photo_url", required=False, allow_blank=True, max_length=500)

    class Meta:
        model = Lead
        fields = [
            "id",
            "object",
            "status",
            "firstName",
            "lastName",
            "email",
            "phone",
            "title",
            "department",
            "description",
            "leadSource",
            "owner",
            "processor",
            "controller",
            "handle",
            "avatar",
            "photoUrl",
            "birthdate",
            "languages",
            "assistant",
            "assistant_phone",
            "fax",
            "do_not_call",
            "email_opt_out",
            "fax_opt_out",
            "invalid_lead",
            "mailingStreet",
            "mailingCity",
            "mailingState",
            "mailingCountry",
            "mailingGeocodeAccuracy",
            "converted_customer",
            "created_by",
            "last_modified_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "converted_customer", "created_by", "last_modified_by"]


class CaseSerializer(ResourceSerializer):
    """Reference §20's keys: `caseName` (required), `caseNumber` (generated as `CASE-000001` unless the
    client gives one), `caseStatus` (the status, also shown as `status`), `isEscalated` and `isClosed` (follow
    the status), `createdDate` and `updatedDate` (the same instants as `created_at` and `updated_at`)."""

    object = ConstantField("case")
    caseName = serializers.CharField(source="case_name", max_length=255)
    caseNumber = serializers.CharField(source="case_number", required=False, allow_null=True, max_length=50)
    caseStatus = serializers.CharField(source="status", read_only=True)
    isEscalated = serializers.BooleanField(source="is_escalated", read_only=True)
    isClosed = serializers.BooleanField(source="is_closed", read_only=True)
    isDeleted = serializers.BooleanField(source="is_deleted", required=False)
    createdDate = serializers.DateTimeField(source="created_at", read_only=True)
    updatedDate = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "object",
            "caseNumber",
            "caseName",
            "description",
            "caseStatus",
            "status",
            "priority",
            "submitter",
            "resolver",
            "isEscalated",
            "isClosed",
            "isDeleted",
            "account_id",
            "user_id",
            "contact_id",
            "vendor_id",
            "supplier_id",
            "customer",
            "order",
            "createdDate",
            "updatedDate",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status"]


class ReasonInput(InputSerializer):
    """An action's optional reason, kept on its history row."""

    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class CaseResolveInput(ReasonInput):
    resolver = serializers.CharField(required=False, allow_blank=True, max_length=255)
