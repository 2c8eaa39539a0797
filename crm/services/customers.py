"""Customers: create, update, find-or-create, delete. An email is unique case-insensitively, an sso_id when
given; the database's unique constraints back both."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from crm.errors import CustomerHasDocuments, DuplicateCustomer
from crm.models import Customer
from stateset import events
from stateset.actors import Actor
from stateset.fsm import lock

CUSTOMER_FIELDS = {
    "sso_id",
    "activation_date",
    "email",
    "first_name",
    "last_name",
    "phone",
    "stripe_customer_id",
    "timestamp",
}


def _check_customer_unique(*, email: str | None, sso_id: str | None, exclude_pk: int | None = None) -> None:
    others = Customer.objects.exclude(pk=exclude_pk) if exclude_pk else Customer.objects.all()
    errors = {}
    if email and others.filter(email__iexact=email).exists():
        errors["email"] = f"A customer with the email '{email}' already exists."
    if sso_id and others.filter(sso_id=sso_id).exists():
        errors["sso_id"] = f"A customer with the sso_id '{sso_id}' already exists."
    if errors:
        raise DuplicateCustomer(next(iter(errors.values())), errors=errors)


def _clean_customer_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - CUSTOMER_FIELDS
    if unknown:
        raise TypeError(f"customer fields not known: {sorted(unknown)}")
    if "email" in fields and fields["email"]:
        fields["email"] = fields["email"].strip()
    if "sso_id" in fields:
        fields["sso_id"] = (fields["sso_id"] or "").strip() or None  # blank means none, not a shared ""
    return fields


def customer_create(*, by: Actor, email: str, timestamp: datetime | None = None, **fields: Any) -> Customer:
    """Create a customer. Email is unique case-insensitively and sso_id is unique when given (400 otherwise);
    the database's unique constraints back both against a concurrent create."""
    fields = _clean_customer_fields({"email": email, **fields})
    if timestamp is not None:
        fields["timestamp"] = timestamp
    with transaction.atomic():
        _check_customer_unique(email=fields["email"], sso_id=fields.get("sso_id"))
        customer = Customer.objects.create(**fields)
        events.emit(customer, "create", by=by)
    return customer


def customer_update(*, customer: Customer, by: Actor, **fields: Any) -> Customer:
    """Change the given fields of a customer, with the same uniqueness rules as create."""
    fields = _clean_customer_fields(fields)
    with transaction.atomic():
        customer = lock(Customer, customer.pk)
        _check_customer_unique(email=fields.get("email"), sso_id=fields.get("sso_id"), exclude_pk=customer.pk)
        for name, value in fields.items():
            setattr(customer, name, value)
        customer.save()
        events.emit(customer, "update", by=by)
    return customer


def customer_get_or_create(
    *, by: Actor, email: str, first_name: str = "", last_name: str = "", phone: str = ""
) -> tuple[Customer, bool]:
    """The customer with this email (case-insensitive), created if there is none. Used by lead conversion
    and by orders created with an inline customer."""
    from crm.selectors import customer_by_email

    existing = customer_by_email(email)
    if existing is not None:
        return existing, False
    try:
        # A savepoint: if a concurrent transaction inserts the same email first, our check or the unique
        # index refuses ours (on PostgreSQL, once the other commits) and we take theirs instead of failing.
        with transaction.atomic():
            customer = customer_create(by=by, email=email, first_name=first_name, last_name=last_name, phone=phone)
        return customer, True
    except (IntegrityError, DuplicateCustomer):
        existing = customer_by_email(email)
        if existing is None:
            raise
        return existing, False


def customer_delete(*, customer: Customer, by: Actor) -> None:
    """Delete a customer. A customer whose orders, returns or cases point at them is kept: 422."""
    with transaction.atomic():
        customer = lock(Customer, customer.pk)
        try:
            events.emit(customer, "delete", by=by, snapshot=True)
            customer.delete()
        except ProtectedError as exc:
            kinds = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
            raise CustomerHasDocuments(
                f"Customer {customer.pk} has {', '.join(kinds)} and cannot be deleted.",
                errors={"customer": f"referenced by {', '.join(kinds)}"},
            )
