"""Admin for API access, and the base classes every app's admin uses so that staff obey the API's rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db import IntegrityError, OperationalError, transaction
from django_fsm import ConcurrentTransition
from django_fsm.admin import FSMAdminMixin
from django_fsm_log.admin import StateLogInline

from stateset import services
from stateset.actors import Actor
from stateset.errors import DomainError
from stateset.fsm import apply_transition, lock
from stateset.models import ApiKey, IdempotencyRecord


class StatefulAdmin(FSMAdminMixin, admin.ModelAdmin):
    """A document with a status: the status is read-only, history is inline, and the transition buttons run
    through `stateset.fsm.apply_transition` (row lock, permission, audit row), like the API.

    Only transitions declared with `custom={"admin": True}` get a button: those that need no input and have
    no effect beyond the status. Everything else is an admin action or form calling its service.
    """

    fsm_fields = ["status"]
    fsm_default_disallow_transition = False
    inlines = [StateLogInline]

    def get_inlines(self, request, obj):
        # A document being added has no history yet (and the inline's formset would demand its fields).
        inlines = super().get_inlines(request, obj)
        return inlines if obj is not None else [i for i in inlines if i is not StateLogInline]

    def _apply_fsm_transition(self, *, obj, transition_name, request, kwargs=None) -> bool:
        try:
            with transaction.atomic():
                locked = lock(type(obj), obj.pk)
                apply_transition(locked, transition_name, by=Actor.admin(request), **(kwargs or {}))
        except (DomainError, ConcurrentTransition, IntegrityError, OperationalError) as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return False
        self.message_user(request, f"{transition_name.replace('_', ' ').capitalize()}: done.", messages.SUCCESS)
        return True


def run_service_action(
    modeladmin: admin.ModelAdmin,
    request,
    queryset,
    service: Callable[..., Any],
    *,
    param: str,
    verb: str,
    **kwargs: Any,
) -> None:
    """An admin action over the selected rows: one service call per row, each its own transaction, with
    the service's own error message for every row it refuses (a lost race shows as a message too)."""
    done, failed = 0, 0
    for obj in queryset.order_by("pk"):
        try:
            service(**{param: obj}, by=Actor.admin(request), **kwargs)
            done += 1
        except (DomainError, ConcurrentTransition, IntegrityError, OperationalError) as exc:
            failed += 1
            label = getattr(obj, "display_number", None) or obj.pk
            modeladmin.message_user(request, f"{label}: {exc}", level=messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb}: {done} done.", level=messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "expires_at", "revoked")
    list_filter = ("revoked",)
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked", "revoked_at")
    actions = ["revoke_keys"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "user", "expires_at")
        return ("name", "user", "prefix", "created_at", "last_used_at", "expires_at", "revoked", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("user",) if obj else ())

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, raw = services.api_key_create(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            expires_at=form.cleaned_data.get("expires_at"),
            by=Actor.admin(request),
        )
        obj.pk = key.pk
        obj.prefix = key.prefix
        self.message_user(
            request,
            f"The new key is {raw} — copy it now: it is stored hashed and will not be shown again.",
            level=messages.WARNING,
        )

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke_keys(self, request, queryset):
        run_service_action(self, request, queryset, services.api_key_revoke, param="api_key", verb="Revoked")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("key", "state", "response_status", "created_at")
    list_filter = ("state",)
    search_fields = ("key",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
