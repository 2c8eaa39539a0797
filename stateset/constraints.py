"""Identifiers unique regardless of case, guarded by the database (issue #14).

A service checks `field__iexact` before it writes, but two requests can both pass the check and both
insert. `ci_unique` declares the guard behind the check: a UniqueConstraint on `UPPER(field)`, the
expression Django's `iexact` compiles to on PostgreSQL, so the one index also serves those lookups. It
registers with the constraint the answer the service's own check gives, so that:

- `lost_race_error` turns the IntegrityError of a request that lost the race into the DomainError a
  request coming second gets (same status, code, message and `errors`); the API's exception handler calls
  it first (`answers_lost_races`);
- `case_duplicates` / `refuse_case_duplicates` let a migration stop, listing the clashes, before it adds
  the constraints to data that already breaks them (it renames nothing: which row keeps the value is a
  person's call).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, models
from django.db.models import Count
from django.db.models.functions import Upper

from stateset.errors import DomainError

logger = logging.getLogger("stateset.constraints")


@dataclass(frozen=True)
class UniqueAnswer:
    """What a clash on one constraint answers: `error(message, errors=errors)` with the clashing value as the
    client sent it (under one of `keys` in the request body) filled into `{value}`."""

    error: type[DomainError]
    message: str | Callable[[str], str]
    errors: Mapping[str, str]
    keys: tuple[str, ...]

    def build(self, value: str) -> DomainError:
        message = self.message(value) if callable(self.message) else self.message.format(value=value)
        errors = {key: text.format(value=value) for key, text in self.errors.items()}
        return self.error(message, errors=errors)


ANSWERS: dict[str, UniqueAnswer] = {}


def ci_unique(
    field_name: str,
    *,
    name: str,
    error: type[DomainError],
    message: str | Callable[[str], str],
    errors: Mapping[str, str],
    keys: Iterable[str] = (),
    violation_error_message: str,
) -> models.UniqueConstraint:
    """A unique constraint on UPPER(`field_name`) named `name`, whose violation answers as the service's check
    does: `error(message, errors=errors)`, `{value}` being the value found under `keys` (default: the
    errors' keys, then the field name) in the request body. `violation_error_message` is what model
    validation (the admin's forms) says, without the value."""
    keys = tuple(keys) or (*errors, field_name)
    ANSWERS[name] = UniqueAnswer(error=error, message=message, errors=dict(errors), keys=keys)
    return models.UniqueConstraint(Upper(field_name), name=name, violation_error_message=violation_error_message)


# ---- the lost race ---------------------------------------------------------------------------------------

SQLITE_INDEX = re.compile(r"UNIQUE constraint failed: index '([^']+)'")


def constraint_name(exc: IntegrityError) -> str | None:
    """The name of the constraint an IntegrityError broke: psycopg's diagnostics on PostgreSQL, the message on
    SQLite (which names an expression index as `index '<name>'`)."""
    diag = getattr(exc.__cause__, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return diag.constraint_name
    found = SQLITE_INDEX.search(str(exc))
    return found.group(1) if found else None


PG_KEY_DETAIL = re.compile(r"^Key \(.*\)=\((.*)\) already exists\.$", re.DOTALL)


def _clashing_key(exc: IntegrityError) -> str | None:
    """The upper-cased value PostgreSQL reports as already existing (`Key (upper(sku::text))=(ABC) ...`)."""
    detail = getattr(getattr(exc.__cause__, "diag", None), "message_detail", None) or ""
    found = PG_KEY_DETAIL.match(detail)
    return found.group(1) if found else None


def _sent_value(request: Any, keys: Iterable[str]) -> str | None:
    data = getattr(request, "data", None)
    if not isinstance(data, Mapping):
        return None
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()  # as the services strip it
    return None


def lost_race_error(exc: Exception, request: Any = None) -> DomainError | None:
    """The DomainError the service's check would have raised, for an IntegrityError of a `ci_unique`
    constraint whose value the request sent; None for anything else (a generated number's clash, any other
    constraint: the handler's generic answers apply)."""
    if not isinstance(exc, IntegrityError):
        return None
    answer = ANSWERS.get(constraint_name(exc) or "")
    if answer is None:
        return None
    value = _sent_value(request, answer.keys)
    if value is None:
        return None
    clashing = _clashing_key(exc)
    if clashing is not None and clashing != value.upper():
        return None  # the body's value is not the one that clashed (a generated number, another document's)
    logger.info("lost race on %s answered as the sequential check does", constraint_name(exc))
    return answer.build(value)


def answers_lost_races(handler: Callable[[Exception, dict[str, Any]], Any]) -> Callable[[Exception, dict], Any]:
    """Decorates DRF's exception handler: an IntegrityError of a `ci_unique` constraint reaches it as the
    DomainError of the sequential check."""

    @functools.wraps(handler)
    def wrapper(exc: Exception, context: dict[str, Any]) -> Any:
        return handler(lost_race_error(exc, context.get("request")) or exc, context)

    return wrapper


# ---- migrations: refuse to add a constraint the data already breaks ---------------------------------------


class CaseDuplicates(Exception):
    """Rows whose values differ only by case, found where a case-insensitive unique constraint is to go."""


def case_duplicates(model: type[models.Model], field_name: str) -> list[list[tuple[int, str]]]:
    """Groups of (id, value) of rows of `model` whose `field_name` values are equal once upper-cased (the
    constraint's own expression), each sorted by id; NULLs never clash."""
    base = model._default_manager.filter(**{f"{field_name}__isnull": False})
    clashing = (
        base.annotate(folded=Upper(field_name))
        .values("folded")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("folded", flat=True)
    )
    groups: dict[str, list[tuple[int, str]]] = {}
    rows = base.annotate(folded=Upper(field_name)).filter(folded__in=list(clashing)).order_by("folded", "pk")
    for pk, value, folded in rows.values_list("pk", field_name, "folded"):
        groups.setdefault(folded, []).append((pk, value))
    return list(groups.values())


def refuse_case_duplicates(apps: Any, targets: Iterable[tuple[str, str, str]]) -> None:
    """Raise CaseDuplicates listing every clash among `targets` ((app_label, model, field) in the historical
    `apps` of a migration); do nothing when there is none."""
    lines = []
    for app_label, model_name, field_name in targets:
        for group in case_duplicates(apps.get_model(app_label, model_name), field_name):
            clash = ", ".join(f"id {pk} {value!r}" for pk, value in group)
            lines.append(f"  {app_label}.{model_name}.{field_name}: {clash}")
    if lines:
        raise CaseDuplicates(
            "These values differ only by case, so the case-insensitive unique constraints cannot be added. "
            "Change all but one of each group (nothing was renamed), then migrate again:\n" + "\n".join(lines)
        )


def refusing_case_duplicates(*targets: tuple[str, str, str]) -> Callable[[Any, Any], None]:
    """A RunPython forward function: `refuse_case_duplicates` on `targets`."""

    def check(apps: Any, schema_editor: Any) -> None:
        refuse_case_duplicates(apps, targets)

    return check
