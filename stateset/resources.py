"""Import through the services: the base of the django-import-export resources the back office imports with.

django-import-export parses each row into a model instance (its widgets turn text into dates, decimals and
booleans; a cell it cannot read is that row's error) and checks each field (`clean_fields`: the shape checks
the API's serializers make: an email that is an email, a choice that exists, a required value). Then,
instead of `instance.save()`, `ServiceResource.save_instance` calls the app's create or update service with
the row's columns, so an import obeys exactly the rules the API and the admin forms obey; a rule the service
refuses (a duplicate, a limit below the uses already taken, ...) is that row's error, with the service's own
message.

Nothing is half-imported: every import runs in one transaction (`use_transactions`), which rolls back whole
when any row has an error, a validation error included (`import_data` insists on it even where
django-import-export's admin does not ask, at its confirm step). The preview is the same run, rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from import_export import resources
from import_export.fields import Field

from stateset.actors import Actor
from stateset.errors import DomainError


class ServiceResource(resources.ModelResource):
    """A ModelResource whose rows are found by a natural key and written by services.

    Subclasses set `natural_key` (the column that identifies a row: "email", "sku", "code") and its lookup
    (case-insensitive where the model's uniqueness is), `create_service(by=, **columns)`,
    `update_service(<service_param>=instance, by=, **columns)` and `service_fields` (what the services take).
    """

    id = Field(attribute="id", column_name="id", readonly=True)

    natural_key: ClassVar[str] = ""
    natural_key_lookup: ClassVar[str] = ""
    create_service: ClassVar[Callable[..., Any]]
    update_service: ClassVar[Callable[..., Any]]
    service_param: ClassVar[str] = ""
    service_fields: ClassVar[set[str]] = set()

    class Meta:
        use_transactions = True
        skip_unchanged = True
        report_skipped = True

    def import_data(self, dataset, dry_run=False, raise_errors=False, use_transactions=None, **kwargs):
        kwargs["rollback_on_validation_errors"] = True  # one bad row: nothing is written
        return super().import_data(dataset, dry_run=dry_run, raise_errors=raise_errors, use_transactions=True, **kwargs)

    def before_import_row(self, row, **kwargs):
        # Cells are trimmed, as the API's serializers trim strings.
        for column, value in row.items():
            if isinstance(value, str):
                row[column] = value.strip()

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """The shape checks only (each field's own validation: an email, a choice, a required value, a
        length), like the API's serializers; uniqueness and the other rules are the services', with their
        messages."""
        errors = dict(import_validation_errors or {})
        try:
            instance.clean_fields(exclude=list(errors))
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def get_instance(self, instance_loader, row):
        """The existing row with this natural key (case-insensitively where uniqueness is), or None."""
        field = self.fields[self.natural_key]
        if field.column_name not in row:
            return None
        value = field.clean(row)
        if value in (None, ""):
            return None
        lookup = self.natural_key_lookup or self.natural_key
        return self._meta.model._default_manager.filter(**{lookup: value}).order_by("pk").first()

    def get_import_id_fields(self):
        return [self.natural_key]

    def save_instance(self, instance, is_create, row, **kwargs):
        user = kwargs.get("user")
        # The admin's import page passes the user: the audit says "bob in the admin", as for a form.
        by = Actor(user=user, channel="admin") if user is not None else Actor.system("import")
        columns = {
            f.attribute: getattr(instance, f.attribute)
            for f in self.get_import_fields()
            if f.column_name in row and f.attribute in self.service_fields
        }
        try:
            if is_create:
                saved = type(self).create_service(by=by, **columns)
            else:
                saved = type(self).update_service(**{self.service_param: instance}, by=by, **columns)
        except DomainError as exc:
            raise ValidationError({NON_FIELD_ERRORS: [str(exc)]})
        instance.pk = saved.pk
