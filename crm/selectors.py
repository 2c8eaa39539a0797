from django.db.models import QuerySet

from crm.models import Customer


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.all()


def customer_by_email(email: str) -> Customer | None:
    return Customer.objects.filter(email__iexact=email.strip()).first()
