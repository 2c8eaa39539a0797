from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from stateset.models import TimeStampedModel


class Customer(TimeStampedModel):
    """A customer, with the field names of the seed document (see crm.serializers for the mapping)."""

    sso_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    activation_date = models.DateTimeField(null=True, blank=True)
    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    timestamp = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="crm_customer_email_ci_unique",
                violation_error_message="A customer with this email already exists.",
            ),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} <{self.email}>" if name else self.email
