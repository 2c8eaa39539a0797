from django.db.models import QuerySet

from crm.models import Case, Customer, Lead

# The documents of other apps that point at a customer, by their reverse accessor on Customer. crm never
# imports orders or returns; these appear once those apps declare their foreign keys.
CUSTOMER_DOCUMENT_ACCESSORS = ("orders", "returns", "warranties", "cases", "converted_leads")


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.all()


def customer_by_email(email: str) -> Customer | None:
    return Customer.objects.filter(email__iexact=email.strip()).first()


def customer_documents(customer: Customer) -> list[tuple[str, type, int]]:
    """(accessor, model, count) for every kind of document that points at the customer, where that kind
    exists in this installation."""
    found = []
    for accessor in CUSTOMER_DOCUMENT_ACCESSORS:
        manager = getattr(customer, accessor, None)
        if manager is None or not hasattr(manager, "model"):
            continue
        found.append((accessor, manager.model, manager.count()))
    return found


def lead_list() -> QuerySet[Lead]:
    return Lead.objects.all()


def case_list() -> QuerySet[Case]:
    return Case.objects.all()
