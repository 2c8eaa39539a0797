"""Running FSM transitions the one way every interface uses: permission, state check, audit row.

Transitions are declared once, on the model, with django-fsm-2's `@transition(source, target, permission)`.
Services lock the row, then call `apply_transition`; the admin's buttons call it too (stateset.admin).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django_fsm import can_proceed
from django_fsm_log.helpers import FSMLogDescriptor
from django_fsm_log.models import StateLog

from stateset import events
from stateset.actors import Actor
from stateset.errors import InvalidStateTransition, NotFound, PermissionDenied


def transition_meta(obj: models.Model | type[models.Model], name: str):
    """The Transition declared for `name` on the object's model (or on the model given): any source state, as
    permission and target do not vary by source."""
    model = obj if isinstance(obj, type) else type(obj)
    meta = getattr(getattr(model, name, None), "_django_fsm", None)
    if meta is None:
        raise AttributeError(f"{model.__name__}.{name} is not a transition")
    return next(iter(meta.transitions.values()))


def allowed_actions(obj: models.Model, field: str = "status") -> list[str]:
    """Names of the transitions a client may call from the object's current status. Transitions declared
    with `custom={"internal": True}` (run by other services, such as a status sync) are not offered; one
    declared with `custom={"action": "return"}` is offered under the endpoint that runs it."""
    available = getattr(obj, f"get_available_{field}_transitions")()
    return sorted({t.custom.get("action", t.name) for t in available if not t.custom.get("internal")})


def can_run(obj: models.Model, name: str, field: str = "status") -> bool:
    """Whether the transition `name` is open to `obj` now: one of `get_available_<field>_transitions()` (its
    source states and conditions; not its permission, which the caller checks against the user)."""
    return any(t.name == name for t in getattr(obj, f"get_available_{field}_transitions")())


def transition_permission(obj: models.Model | type[models.Model], name: str) -> str:
    """The named permission the transition `name` declares ("" when it needs none beyond changing the row)."""
    permission = transition_meta(obj, name).permission
    return permission if isinstance(permission, str) else ""


def check_transition(obj: models.Model, name: str, *, by: Actor) -> None:
    """Raise PermissionDenied (403) or InvalidStateTransition (422) unless `by` may run `name` now."""
    meta = transition_meta(obj, name)
    if isinstance(meta.permission, str) and not by.has_perm(meta.permission):
        raise PermissionDenied(f"Your role lacks the permission '{meta.permission}' needed to {name}.")
    if not can_proceed(getattr(obj, name)):
        raise InvalidStateTransition(
            label=f"{obj._meta.verbose_name} {describe(obj)}",
            status=obj.status,
            action=name,
            allowed=allowed_actions(obj),
        )


def apply_transition(obj: models.Model, name: str, *, by: Actor, reason: str = "", **kwargs: Any) -> Any:
    """Check, run and save the transition `name` on `obj`, which the caller has locked.

    Writes the audit row: django-fsm-log's StateLog (who, when, from, to, which transition, why) for a
    change of status; for an action that keeps the status (`target=None`, such as add_item or split),
    a StateLog row with equal source and target, so that every action appears in the history. Either way the
    action's event (`order.shipped`, `order.item_added`) is written in the same transaction (stateset.events).
    """
    check_transition(obj, name, by=by)
    source = obj.status
    description = by.describe(reason)
    with FSMLogDescriptor(obj, "by", by.user), FSMLogDescriptor(obj, "description", description):
        result = getattr(obj, name)(**kwargs)
    obj.save()
    if transition_meta(obj, name).target is None:
        log_event(obj, name, by=by, reason=reason, state=source)
    else:
        events.emit(obj, name, by=by)
    return result


def log_event(obj: models.Model, name: str, *, by: Actor, reason: str = "", state: str | None = None) -> None:
    """An audit row for an action that does not change the status, and its event (stateset.events)."""
    state = state if state is not None else obj.status
    StateLog.objects.create(
        content_object=obj,
        transition=name,
        source_state=state,
        state=state,
        by=by.user,
        description=by.describe(reason),
    )
    events.emit(obj, name, by=by)


def describe(obj: models.Model) -> str:
    number = getattr(obj, "display_number", None)
    return str(number) if number else f"#{obj.pk}"


def lock(model: type[models.Model], pk: Any, *, queryset: models.QuerySet | None = None) -> Any:
    """Re-read one row under `SELECT ... FOR UPDATE OF` that row (a no-op on SQLite, which serialises
    writers). Rows the queryset joins are read, not locked."""
    qs = queryset if queryset is not None else model._default_manager.all()
    try:
        obj = qs.select_for_update(of=("self",)).get(pk=pk)
    except model.DoesNotExist:
        raise NotFound(f"{model._meta.verbose_name.capitalize()} {pk} does not exist.")
    events.remember(obj)  # for the event's previous_attributes
    return obj
