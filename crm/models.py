from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, transition

from crm.errors import DuplicateCaseNumber, DuplicateCustomer
from crm.states import (
    CASE_ACTIVE,
    CASE_CLOSABLE,
    CASE_FINISHED,
    LEAD_IN_QUALIFICATION,
    CasePriority,
    CaseStatus,
    LeadStatus,
)
from stateset.constraints import ci_unique
from stateset.models import StatefulModel, TimeStampedModel


class Customer(TimeStampedModel):
    """A customer, with the field names of the seed document (see crm.serializers for the mapping)."""

    # Indexed for the exact lookups (filters, the import's natural key); unique case-insensitively below.
    sso_id = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    activation_date = models.DateTimeField(null=True, blank=True)
    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    timestamp = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["created_at", "id"], name="customer_created_id")]  # the list's sort
        constraints = [
            ci_unique(
                "email",
                name="crm_customer_email_ci_unique",
                error=DuplicateCustomer,
                message="A customer with the email '{value}' already exists.",
                errors={"email": "A customer with the email '{value}' already exists."},
                violation_error_message="A customer with this email already exists.",
            ),
            ci_unique(
                "sso_id",
                name="crm_customer_sso_id_ci_unique",
                error=DuplicateCustomer,
                message="A customer with the sso_id '{value}' already exists.",
                errors={"sso_id": "A customer with the sso_id '{value}' already exists."},
                violation_error_message="A customer with this sso_id already exists.",
            ),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} <{self.email}>" if name else self.email


class Lead(StatefulModel):
    """A prospect, with the field names of reference §19 (crm.serializers maps the camelCase ones).

    Lifecycle: new → engaged → accepted | rejected (reject also from new); accepted → converted, which
    creates the customer or links the existing one with the same email (crm.services.lead_convert);
    converted → accepted again by unconvert, which keeps the customer but drops the link.
    `converted_customer` is set exactly when the status is converted (a CHECK constraint says so).
    """

    status = FSMField(default=LeadStatus.NEW, choices=LeadStatus.choices, protected=True, db_index=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    email = models.EmailField(max_length=254, blank=True, db_index=True)
    phone = models.CharField(max_length=50, blank=True)
    title = models.CharField(max_length=255, blank=True)
    department = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    lead_source = models.CharField(max_length=255, blank=True, db_index=True)
    owner = models.CharField(max_length=255, blank=True)
    processor = models.CharField(max_length=255, blank=True)
    controller = models.CharField(max_length=255, blank=True)
    handle = models.CharField(max_length=255, blank=True)
    avatar = models.CharField(max_length=500, blank=True)
    photo_url = models.URLField(max_length=500, blank=True)
    birthdate = models.DateField(null=True, blank=True)
    languages = models.CharField(max_length=255, blank=True)
    assistant = models.CharField(max_length=255, blank=True)
    assistant_phone = models.CharField(max_length=50, blank=True)
    fax = models.CharField(max_length=50, blank=True)
    do_not_call = models.BooleanField(default=False)
    email_opt_out = models.BooleanField(default=False)
    fax_opt_out = models.BooleanField(default=False)
    invalid_lead = models.BooleanField(default=False)
    mailing_street = models.CharField(max_length=255, blank=True)
    mailing_city = models.CharField(max_length=255, blank=True)
    mailing_state = models.CharField(max_length=255, blank=True)
    mailing_country = models.CharField(max_length=255, blank=True)
    mailing_geocode_accuracy = models.CharField(max_length=100, blank=True)
    # Who created and last edited the lead's data: the server writes them from the caller.
    created_by = models.CharField(max_length=255, blank=True, editable=False)
    last_modified_by = models.CharField(max_length=255, blank=True, editable=False)
    converted_customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="converted_leads",
    )

    class Meta:
        permissions = [("convert_lead", "Can convert a lead into a customer, and undo it")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status=LeadStatus.CONVERTED) & Q(converted_customer__isnull=False))
                | (~Q(status=LeadStatus.CONVERTED) & Q(converted_customer__isnull=True)),
                name="crm_lead_converted_has_customer",
            ),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or f"Lead #{self.pk}"

    @property
    def display_number(self) -> str:
        return f"#{self.pk}"

    @transition(field=status, source=LeadStatus.NEW, target=LeadStatus.ENGAGED, custom={"admin": True})
    def engage(self) -> None:
        """First contact made."""

    @transition(field=status, source=LeadStatus.ENGAGED, target=LeadStatus.ACCEPTED, custom={"admin": True})
    def accept(self) -> None:
        """Qualified: ready to become a customer."""

    @transition(field=status, source=LEAD_IN_QUALIFICATION, target=LeadStatus.REJECTED, custom={"admin": True})
    def reject(self) -> None:
        """Not a prospect after all."""

    @transition(
        field=status,
        source=LeadStatus.ACCEPTED,
        target=LeadStatus.CONVERTED,
        permission="crm.convert_lead",
    )
    def convert(self, customer: Customer) -> None:
        """Link the customer the service found or created (crm.services.lead_convert does that part)."""
        self.converted_customer = customer

    @transition(
        field=status,
        source=LeadStatus.CONVERTED,
        target=LeadStatus.ACCEPTED,
        permission="crm.convert_lead",
        custom={"admin": True},
    )
    def unconvert(self) -> None:
        """Undo a conversion: the customer stays, the lead no longer points at it."""
        self.converted_customer = None


class Case(StatefulModel):
    """A support case, with the field names of reference §20 (`caseName`, `caseNumber`, `caseStatus`, ...).

    Lifecycle: open → escalated; open, escalated → resolved; open, escalated, resolved → closed; resolved,
    closed → open (reopen). `is_escalated` is true exactly while the status is escalated and `is_closed`
    exactly while it is closed: the transitions set them and CHECK constraints guarantee it.

    `order` is the optional link to an order (contract §6). It is the one foreign key from crm to orders, by
    name only: crm imports nothing from orders, and the order's admin page lists its cases.
    """

    number_prefix = "CASE"
    number_field = "case_number"

    case_name = models.CharField(max_length=255)
    case_number = models.CharField(max_length=50, null=True, blank=True)
    description = models.TextField(blank=True)
    status = FSMField(default=CaseStatus.OPEN, choices=CaseStatus.choices, protected=True, db_index=True)
    priority = models.CharField(max_length=10, choices=CasePriority.choices, default=CasePriority.MEDIUM, db_index=True)
    submitter = models.CharField(max_length=255, blank=True)
    resolver = models.CharField(max_length=255, blank=True)
    is_escalated = models.BooleanField(default=False, editable=False)
    is_closed = models.BooleanField(default=False, editable=False)
    is_deleted = models.BooleanField(default=False)
    # External references as the StateSet docs carry them (opaque strings).
    account_id = models.CharField(max_length=255, blank=True)
    user_id = models.CharField(max_length=255, blank=True)
    contact_id = models.CharField(max_length=255, blank=True)
    vendor_id = models.CharField(max_length=255, blank=True)
    supplier_id = models.CharField(max_length=255, blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="cases")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="cases")

    class Meta:
        constraints = [
            ci_unique(
                "case_number",
                name="crm_case_case_number_ci_unique",
                error=DuplicateCaseNumber,
                message="A case with the number '{value}' already exists.",
                errors={"caseNumber": "already used"},
                violation_error_message="A case with this number already exists (compared case-insensitively).",
            ),
            models.CheckConstraint(
                condition=(Q(status=CaseStatus.ESCALATED) & Q(is_escalated=True))
                | (~Q(status=CaseStatus.ESCALATED) & Q(is_escalated=False)),
                name="crm_case_is_escalated_follows_status",
            ),
            models.CheckConstraint(
                condition=(Q(status=CaseStatus.CLOSED) & Q(is_closed=True))
                | (~Q(status=CaseStatus.CLOSED) & Q(is_closed=False)),
                name="crm_case_is_closed_follows_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_number} {self.case_name}"

    def _set_flags(self, status: str) -> None:
        self.is_escalated = status == CaseStatus.ESCALATED
        self.is_closed = status == CaseStatus.CLOSED

    @transition(field=status, source=CaseStatus.OPEN, target=CaseStatus.ESCALATED, custom={"admin": True})
    def escalate(self) -> None:
        self._set_flags(CaseStatus.ESCALATED)

    @transition(field=status, source=CASE_ACTIVE, target=CaseStatus.RESOLVED, custom={"admin": True})
    def resolve(self, resolver: str = "") -> None:
        if resolver:
            self.resolver = resolver
        self._set_flags(CaseStatus.RESOLVED)

    @transition(field=status, source=CASE_CLOSABLE, target=CaseStatus.CLOSED, custom={"admin": True})
    def close(self) -> None:
        self._set_flags(CaseStatus.CLOSED)

    @transition(field=status, source=CASE_FINISHED, target=CaseStatus.OPEN, custom={"admin": True})
    def reopen(self) -> None:
        self._set_flags(CaseStatus.OPEN)
