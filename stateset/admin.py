"""Admin for API access, and the base classes every app's admin uses so that staff obey the API's rules."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, OperationalError, router, transaction
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django_fsm import ConcurrentTransition
from django_fsm.admin import FSMAdminMixin
from django_fsm_log.admin import StateLogInline
from import_export.admin import ExportMixin, ImportMixin
from import_export.formats.base_formats import CSV, XLSX
from import_export.resources import modelresource_factory

from stateset import services, webhooks, workspace
from stateset.actors import Actor
from stateset.errors import DomainError
from stateset.fsm import apply_transition, can_run, lock, transition_permission
from stateset.models import ApiKey, Event, IdempotencyRecord, WebhookAttempt, WebhookDelivery, WebhookEndpoint

# What a service may refuse with: a rule (DomainError), a lost race, a database guard.
ADMIN_ERRORS = (DomainError, ConcurrentTransition, IntegrityError, OperationalError)


def _delete_selected(modeladmin, request, queryset):
    """Django's "Delete selected" in one transaction: the log entries it writes first and every delete (each
    through the service) stand or fall together; a refusal shows the service's message instead."""
    try:
        with transaction.atomic(using=router.db_for_write(modeladmin.model)):
            return delete_selected(modeladmin, request, queryset)
    except ADMIN_ERRORS as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        return None  # the changelist again


_delete_selected.allowed_permissions = delete_selected.allowed_permissions
_delete_selected.short_description = delete_selected.short_description


class RefusalsAsMessages:
    """For a ModelAdmin whose saves and deletes call services: a save or delete they refuse (ADMIN_ERRORS)
    shows their message and changes nothing. Django runs the add, change and delete views in one
    transaction, which the error rolls back whole (lines, inlines and the admin's log entry included) before
    it becomes a message and a redirect; "Delete selected" runs in one transaction too."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ADMIN_ERRORS as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ADMIN_ERRORS as exc:  # the object stays: back to its page, with the service's reason
            self.message_user(request, str(exc), messages.ERROR)
            if not self.has_view_or_change_permission(request):
                return HttpResponseRedirect(request.get_full_path())
            opts = self.opts
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(object_id)])
            return HttpResponseRedirect(url)

    def delete_queryset(self, request, queryset):
        with transaction.atomic(using=router.db_for_write(self.model)):  # all or nothing
            for obj in queryset.order_by("pk"):
                self.delete_model(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions["delete_selected"] = (_delete_selected, name, description)
        return actions


@dataclass(frozen=True)
class Operation:
    """An operation that needs input, on a document's page: a button at the top of the page opens a small
    form whose valid data `run(obj, data, by)` hands to the same service the API calls, returning the success
    message. Shown (and served) only to a user who may change the object and holds its permissions, and only
    while it is possible on the object; a refusal shows the service's message on the form and changes nothing.

    `transition` names the model's FSM transition the service runs: the operation is possible while that
    transition is among the object's available ones (`get_available_status_transitions()`: its source states
    and conditions, declared once on the model), and needs the permission it declares: the admin completes
    `permission` with it when it registers the operation (`bound_to`). Give `permission` only for another
    permission the service checks too, or for an operation without a transition (on a model without a
    status, such as an item's stock adjustment), which is always possible.

    `form` is a Form class; it gets the object as `obj=` when its __init__ takes it (e.g. to list its lines).
    """

    name: str
    label: str
    form: type[forms.Form]
    run: Callable[[Any, dict[str, Any], Actor], str]
    transition: str = ""
    permission: str | tuple[str, ...] = ""  # one named permission, or all of several
    help: str | Callable[[Any], str] = ""  # the paragraph above the form; a callable gets the object
    tone: str = ""  # "danger": shown as such among the page's actions (its form is the confirmation)

    def bound_to(self, model) -> Operation:
        """This operation on `model`: its transition's permission first in `permission` (and the transition
        checked to exist, so a misspelt one fails at start-up)."""
        if not self.transition:
            return self
        extra = (self.permission,) if isinstance(self.permission, str) else self.permission
        needed = tuple(p for p in dict.fromkeys((transition_permission(model, self.transition), *extra)) if p)
        return replace(self, permission=needed[0] if len(needed) == 1 else needed or "")

    def is_available(self, obj) -> bool:
        return not self.transition or can_run(obj, self.transition)


class OperationsMixin:
    """For a ModelAdmin: `operations`, each a button on the object's page and a form at
    `<id>/operation/<name>/` (stateset.admin.Operation)."""

    operations: tuple[Operation, ...] = ()
    change_form_template = "admin/operations_change_form.html"

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        self.operations = tuple(op.bound_to(model) for op in self.operations)

    def operations_for(self, request, obj) -> list[Operation]:
        if obj is None:
            return []
        return [op for op in self.operations if not self._operation_refusal(request, obj, op, op.name)]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        extra_context["operation_links"] = (
            [
                (op.label, reverse(self._operation_url_name(), args=[obj.pk, op.name]), op.tone)
                for op in self.operations_for(request, obj)
            ]
            if obj is not None
            else []
        )
        return super().change_view(request, object_id, form_url, extra_context)

    def _operation_refusal(self, request, obj, op: Operation | None, name: str) -> str:
        """Why this user may not run `op` on `obj` now ("" when they may): the reasons the API would give."""
        if op is None:
            return f"There is no operation '{name}' here."
        if not self.has_change_permission(request, obj):
            return f"You may not change this {self.opts.verbose_name}."
        needed = (op.permission,) if isinstance(op.permission, str) else op.permission
        missing = [perm for perm in needed if perm and not request.user.has_perm(perm)]
        if missing:
            return f"{op.label.rstrip('…')} needs the permission {' and '.join(missing)}."
        if not op.is_available(obj):
            status = workspace.status_words(obj) if getattr(obj, "status", "") else ""
            return f"{op.label.rstrip('…')} is not possible on {obj}" + (
                f" while it is {status.lower()}." if status else "."
            )
        return ""

    def _operation_url_name(self) -> str:
        return f"admin:{self.opts.app_label}_{self.opts.model_name}_operation"

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_operation"
        view = self.admin_site.admin_view(self.operation_view)
        return [path("<path:object_id>/operation/<str:name>/", view, name=name), *super().get_urls()]

    def operation_view(self, request, object_id, name: str):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404
        change_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk])
        op = next((op for op in self.operations if op.name == name), None)
        refusal = self._operation_refusal(request, obj, op, name)
        if refusal:
            self.message_user(request, refusal, messages.ERROR)
            return HttpResponseRedirect(change_url)
        takes_obj = "obj" in inspect.signature(op.form.__init__).parameters
        data = request.POST if request.method == "POST" else None  # a form without fields posts nothing
        form = op.form(data, **({"obj": obj} if takes_obj else {}))
        if request.method == "POST" and form.is_valid():
            try:
                done = op.run(obj, form.cleaned_data, Actor.admin(request))
            except ADMIN_ERRORS as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, done, messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": f"{op.label.rstrip('…')}: {obj}",
            "operation": op,
            "help": op.help(obj) if callable(op.help) else op.help,
            "form": form,
        }
        return TemplateResponse(request, "admin/operation_form.html", context)


@dataclass(frozen=True)
class Paper:
    """A printable document of an object (a packing slip, a pick list, a purchase order for the supplier): an
    HTML page with print CSS that the browser prints or saves as PDF. `template` renders `documents`, a list
    of `build(obj)` dictionaries (one per object: a selection prints one after another, each on its own
    page). Needs only the view permission of the objects."""

    name: str
    label: str
    template: str
    build: Callable[[Any], dict[str, Any]]


class PaperworkMixin:
    """For a ModelAdmin: `papers`, each a link among the page's actions (`<id>/print/<name>/`), and an admin
    action printing the selected rows (`print/<name>/?ids=1,2,...`)."""

    papers: tuple[Paper, ...] = ()

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view(self.print_view)
        return [
            path("<path:object_id>/print/<str:name>/", view, name="{}_{}_print".format(*info)),
            path("print/<str:name>/", view, name="{}_{}_print_many".format(*info)),
            *super().get_urls(),
        ]

    def paperwork_links(self, request, obj) -> list[tuple[str, str]]:
        info = self.opts.app_label, self.opts.model_name
        return [
            (paper.label, reverse("admin:{}_{}_print".format(*info), args=[obj.pk, paper.name]))
            for paper in self.papers
        ]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):  # added after Django filtered the others: filtered here
            return actions
        for paper in self.papers:
            name = f"print_{paper.name}"
            actions[name] = (self._print_action(paper), name, f"Print the {paper.label.lower()} of the selected rows")
        return actions

    def _print_action(self, paper: Paper):
        def action(modeladmin, request, queryset):
            info = modeladmin.opts.app_label, modeladmin.opts.model_name
            ids = ",".join(str(pk) for pk in queryset.order_by("pk").values_list("pk", flat=True))
            url = reverse("admin:{}_{}_print_many".format(*info), args=[paper.name])
            return HttpResponseRedirect(f"{url}?ids={ids}")

        action.allowed_permissions = ("change",)  # the warehouse's bulk tool; anyone who may view prints one
        return action

    def print_view(self, request, name: str, object_id=None):
        paper = next((p for p in self.papers if p.name == name), None)
        if paper is None:
            raise Http404
        if object_id is not None:
            objs = [self.get_object(request, object_id)]
        else:
            ids = [i for i in request.GET.get("ids", "").split(",") if i.strip().isdigit()]
            objs = list(self.get_queryset(request).filter(pk__in=ids).order_by("pk"))
        objs = [obj for obj in objs if obj is not None]
        if not objs:
            raise Http404
        if not all(self.has_view_or_change_permission(request, obj) for obj in objs):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "paper": paper,
            "documents": [paper.build(obj) for obj in objs],
            "title": paper.label if len(objs) > 1 else f"{paper.label}: {objs[0]}",
        }
        return TemplateResponse(request, paper.template, context)


class ServiceAdmin(PaperworkMixin, OperationsMixin, RefusalsAsMessages, admin.ModelAdmin):
    """The one base of every admin that writes: adds, changes, deletes and lines go through the app's services
    with `Actor.admin(request)`, so staff obey the API's rules and see its messages; a refusal shows as a
    message and saves nothing (RefusalsAsMessages). Operations are forms on the object's page
    (OperationsMixin). Each admin declares its hooks; none re-implements the saving:

    - `service_param`: the services' keyword for the object (`location`, `return_`, `bill_of_materials`...).
    - `create_service(by=, **create_kwargs(form))` on add; `update_service(<service_param>=obj, by=,
      **update_kwargs(form))` on change, not called when nothing changed (a button press posts the unchanged
      form: no update, no history row); `delete_service(<service_param>=obj, by=)`. By default the keyword
      arguments are the form's `service_fields`: all of them on add, the changed ones on change.
    - `delete_service` None: nothing is deleted here. `deletable_statuses`: the statuses an object may be
      deleted in (None: any).
    - `number_field`: the document's number, given at creation (or generated), read-only once saved.
    - `line_model`: the inline whose rows the services write (the formsets never save anything). By default
      one `line_services` call per row ("create" with `<line_parent_param>=document`, "update" and "delete"
      with `<line_param>=line`, each with `line_kwargs(form, names)`: the `line_fields` given, never the
      `line_fixed` ones on update); an admin whose service takes the whole list overrides `save_lines`.
    - `create_lines_param`: an add makes the document and its lines in one `create_service` call, the rows
      given as `<create_lines_param>=[line_kwargs(...), ...]`.
    """

    service_param = ""
    create_service: Callable[..., Any] | None = None
    update_service: Callable[..., Any] | None = None
    delete_service: Callable[..., Any] | None = None
    service_fields: Collection[str] = ()
    deletable_statuses: Collection[str] | None = None
    number_field = ""
    line_model: type | None = None
    line_fields: Collection[str] = ()
    line_fixed: Collection[str] = ()
    line_services: dict[str, Callable[..., Any]] = {}
    line_param = ""
    line_parent_param = ""
    create_lines_param = ""

    def create_kwargs(self, form) -> dict[str, Any]:
        return {name: value for name, value in form.cleaned_data.items() if name in self.service_fields}

    def update_kwargs(self, form) -> dict[str, Any]:
        return {name: form.cleaned_data[name] for name in form.changed_data if name in self.service_fields}

    def line_kwargs(self, line_form, names) -> dict[str, Any]:
        return {name: line_form.cleaned_data[name] for name in names if name in self.line_fields}

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and self.number_field:
            fields.append(self.number_field)  # chosen once: given at creation, or generated
        return tuple(dict.fromkeys(fields))

    def get_inlines(self, request, obj):
        # An object being added has no history yet (and the inline's formset would demand its fields).
        inlines = super().get_inlines(request, obj)
        return inlines if obj is not None else [i for i in inlines if i is not StateLogInline]

    def save_model(self, request, obj, form, change):
        by = Actor.admin(request)
        if change:
            changes = self.update_kwargs(form)
            if not changes:
                return
            saved = type(self).update_service(**{self.service_param: obj}, by=by, **changes)
        elif self.create_lines_param:
            return  # made with its lines (save_related)
        else:
            saved = type(self).create_service(by=by, **self.create_kwargs(form))
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            formset.save(commit=False)  # saves nothing: the admin's change message reads what it would save
        lines = next((f for f in formsets if self.line_model is not None and f.model is self.line_model), None)
        if not change and self.create_lines_param:
            rows = [self.line_kwargs(f, f.cleaned_data) for f in lines.kept_forms()] if lines is not None else []
            saved = type(self).create_service(
                by=Actor.admin(request), **self.create_kwargs(form), **{self.create_lines_param: rows}
            )
            form.instance.pk = saved.pk
            form.instance.refresh_from_db()
        elif lines is not None and lines.has_changed():
            self.save_lines(request, form.instance, lines)

    def save_lines(self, request, document, formset) -> None:
        """Deletes, then changes, then additions, one line service call each; a refusal rolls the whole save
        back (RefusalsAsMessages)."""
        by = Actor.admin(request)
        form_of = {id(f.instance): f for f in formset.forms}
        for line in formset.deleted_objects:
            self.line_services["delete"](**{self.line_param: line}, by=by)
        for line, changed in formset.changed_objects:
            names = [name for name in changed if name not in self.line_fixed]
            self.line_services["update"](**{self.line_param: line}, by=by, **self.line_kwargs(form_of[id(line)], names))
        for line in formset.new_objects:
            line_form = form_of[id(line)]
            self.line_services["create"](
                by=by, **{self.line_parent_param: document}, **self.line_kwargs(line_form, line_form.cleaned_data)
            )

    def delete_refusal(self, obj) -> str:
        """Why the delete service would refuse `obj` ("" when it would not): Delete is then not offered, and a
        delete asked for anyway shows this reason instead of a confirmation page."""
        return ""

    def has_delete_permission(self, request, obj=None):
        if type(self).delete_service is None:
            return False
        allowed = self.deletable_statuses is None or obj is None or obj.status in self.deletable_statuses
        return (
            allowed
            and not (obj is not None and self.delete_refusal(obj))
            and super().has_delete_permission(request, obj)
        )

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        refusal = self.delete_refusal(obj) if obj is not None else ""
        if refusal and self.has_view_or_change_permission(request, obj):
            self.message_user(request, refusal, messages.ERROR)
            opts = self.opts
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])
            )
        return super().delete_view(request, object_id, extra_context)

    def get_deleted_objects(self, objs, request):
        # The service decides what a delete takes with it (and refuses what it must, with its reason): rows
        # whose own admin is read-only (a ledger, a history) are not a permission the user lacks.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request, obj):
        type(self).delete_service(**{self.service_param: obj}, by=Actor.admin(request))


class SavedViews(admin.SimpleListFilter):
    """The views staff work from, first among a changelist's filters: `views` maps a name to (label, the
    queryset's filter kwargs or a callable taking and returning the queryset)."""

    title = "view"
    parameter_name = "view"
    views: dict[str, tuple[str, Any]] = {}

    def lookups(self, request, model_admin):
        return [(name, label) for name, (label, _) in self.views.items()]

    def queryset(self, request, queryset):
        view = self.views.get(self.value() or "")
        if view is None:
            return queryset
        rule = view[1]
        return rule(queryset) if callable(rule) else queryset.filter(**rule)


class LineFormSet(BaseInlineFormSet):
    """A document's lines, checked by its services before anything is saved: `check_line(form)` for each
    changed row (its DomainError becomes that row's error), then `check_lines()` for the rows together (the
    formset's error). The document's admin saves them through the services (ServiceAdmin.save_lines)."""

    def clean(self):
        super().clean()
        for form in self.forms:
            if not form.has_changed() or self._should_delete_form(form) or not form.is_valid():
                continue
            try:
                self.check_line(form)
            except DomainError as exc:
                form.add_error(None, str(exc))
        if any(self.errors):
            return
        try:
            self.check_lines()
        except DomainError as exc:
            raise forms.ValidationError(str(exc))

    def check_line(self, form) -> None:
        pass

    def check_lines(self) -> None:
        pass

    def kept_forms(self) -> list:
        """The rows that will exist after the save: not deleted, not an extra row left empty."""
        return [
            f
            for f in self.forms
            if getattr(f, "cleaned_data", None)
            and not self._should_delete_form(f)
            and (f.instance.pk or f.has_changed())
        ]


class LineInline(admin.TabularInline):
    """A document's lines: editable while it is being added and while it is in `editable_statuses`, shown
    read-only after."""

    formset = LineFormSet
    extra = 0
    editable_statuses: Collection[str] = ()

    def editable(self, obj) -> bool:
        return obj is None or obj.status in self.editable_statuses

    def has_add_permission(self, request, obj=None):
        return self.editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self.editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.editable(obj) and super().has_delete_permission(request, obj)


class ReasonForm(forms.Form):
    """The form of a button whose transition needs a reason (a rejection, a denial): the API requires one too."""

    reason = forms.CharField(label="Reason", max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))


class OptionalReasonForm(forms.Form):
    """The API's optional `reason`, kept on the history row: a button's form (`fsm_forms`) or an operation's."""

    reason = forms.CharField(label="Reason", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))


class StatefulAdmin(ServiceAdmin, FSMAdminMixin):
    """A ServiceAdmin for a document with a status: the status is read-only, history is inline, and the
    transition buttons run through `stateset.fsm.apply_transition` (row lock, permission, audit row), like
    the API.

    Only transitions declared with `custom={"admin": True}` get a button: those that need no input (or ask
    for it in a small form, `custom={"form": ...}` or the admin's `fsm_forms`, with `fsm_help` above it) and
    move no stock or money. A button is shown only to a user who may change the document and holds the
    transition's permission. A button whose service does more than the transition (a history note, a rule
    of its own) runs that service: `button_services` maps the transition's name to it, called as
    `service(<service_param>=obj, by=..., **its form's data)`. Everything else is an admin action or an
    Operation calling its service.
    """

    fsm_fields = ["status"]
    fsm_default_disallow_transition = False
    inlines = [StateLogInline]
    button_services: dict[str, Callable[..., Any]] = {}
    fsm_help: dict[str, str] = {}  # the paragraph above a button's form

    # ---- the page as a workspace (stateset.workspace) ------------------------------------------------------
    # The sections, in order: "card", "actions", "details", "related", "timeline" are built in; any other name
    # shows the inlines `inline_sections` maps to it (by the inline class's name; the first inline not mapped
    # goes to "lines", the others to "more"), or the Section a method `section_<name>(request, obj)` returns.
    workspace_layout: tuple[str, ...] = ("card", "actions", "lines", "more", "details", "related", "timeline")
    card_fields: tuple[str, ...] = ()  # model fields or admin methods (obj) -> html; default: the status
    inline_sections: dict[str, str] = {}
    section_titles: dict[str, str] = {"lines": "Lines", "more": "More", "details": "Details"}
    danger_transitions: Collection[str] = ()  # buttons shown as dangerous (and confirmed in the browser)

    def get_fsm_label(self, transition) -> str:
        return transition.custom.get("label") or workspace.words(transition.name)

    def get_help_text(self, transition) -> str:
        return self.fsm_help.get(transition.name) or super().get_help_text(transition) or ""

    def get_inlines(self, request, obj):
        # The history is the workspace's timeline, in words, not an inline of raw rows.
        return [i for i in super().get_inlines(request, obj) if i is not StateLogInline]

    def get_card_fields(self, obj) -> tuple[str, ...]:
        return self.card_fields or ("status",)

    def related_documents(self, obj) -> list[tuple[str, Any]]:
        """(what it is to this one, the related object) pairs, shown as links with their status."""
        return []

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and change and self.workspace_layout:
            context["workspace"] = self.workspace_sections(request, obj, context)
            if not self._anything_to_save(context):  # nothing editable in this status: no Save
                context |= {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().render_change_form(request, context, add, change, form_url, obj)

    @staticmethod
    def _anything_to_save(context) -> bool:
        form = context["adminform"].form
        inlines = context.get("inline_admin_formsets") or ()
        return bool(form.fields) or any(i.has_add_permission or i.has_change_permission for i in inlines)

    def workspace_sections(self, request, obj, context) -> list[workspace.Section]:
        by_section: dict[str, list] = {}
        first = True
        for inline in context.get("inline_admin_formsets") or ():
            name = self.inline_sections.get(type(inline.opts).__name__) or ("lines" if first else "more")
            first = False
            by_section.setdefault(name, []).append(inline)
        sections = []
        for name in self.workspace_layout:
            builder = getattr(self, f"section_{name}", None)
            if builder is not None:
                section = builder(request, obj)
            elif name == "card":
                section = self._card_section(obj)
            elif name == "actions":
                section = self._actions_section(request, obj, context)
            elif name == "details":
                section = workspace.Section("details", self.section_titles.get("details", "Details"), extra={"on": 1})
            elif name == "related":
                rows = [
                    (label, workspace.link(other), workspace.status_badge(other) if hasattr(other, "status") else "")
                    for label, other in self.related_documents(obj)
                    if other is not None
                ]
                section = workspace.Section("related", "Related documents", rows=rows)
            elif name == "timeline":
                section = workspace.Section("timeline", "Timeline", rows=workspace.timeline(obj))
            else:
                inlines = by_section.pop(name, [])
                section = workspace.Section(name, self.section_titles.get(name, workspace.words(name)))
                for inline in inlines:
                    shown = inline.formset.forms or inline.has_add_permission
                    (section.inlines if shown else section.hidden_inlines).append(inline)
            if section is not None:
                sections.append(section)
        for name, inlines in by_section.items():  # mapped to a section not in the layout: still on the page
            sections.append(
                workspace.Section(name, self.section_titles.get(name, workspace.words(name)), inlines=inlines)
            )
        return sections

    def _card_section(self, obj) -> workspace.Section:
        rows = [workspace.card_field(self, obj, name) for name in self.get_card_fields(obj)]
        return workspace.Section(
            "card",
            str(obj),
            rows=[row for row in rows if row is not None and row.name != "status"],
            extra={"status": workspace.status_badge(obj), "verbose_name": obj._meta.verbose_name},
        )

    def _actions_section(self, request, obj, context) -> workspace.Section:
        transitions = list(context.get(self.fsm_context_key) or ())
        context[self.fsm_context_key] = transitions  # a generator: kept for the template
        buttons = [
            {"name": t.name, "label": t.label, "help": t.help_text or "", "danger": t.name in self.danger_transitions}
            for group in transitions
            for t in group.available_transitions
        ]
        links = [
            {"label": label, "url": url, "danger": tone == "danger"}
            for label, url, tone in context.get("operation_links", ())
        ]
        papers = [{"label": label, "url": url} for label, url in self.paperwork_links(request, obj)]
        section = workspace.Section("actions", "Actions")
        if buttons or links or papers:
            section.extra = {"buttons": buttons, "links": links, "papers": papers}
        return section

    def _get_fsm_extra_context(self, *, request, obj):
        # A button changes the document: only for those who may change it (django-fsm-2 checks the
        # transition's own permission only, so a view-only user would otherwise see the buttons).
        if obj is None or not self.has_change_permission(request, obj):
            return iter(())
        return super()._get_fsm_extra_context(request=request, obj=obj)

    def is_button(self, obj, transition_name: str) -> bool:
        """Whether `transition_name` is one of the model's buttons (`custom={"admin": True}`). Only those may
        be run from the change page: a hand-made POST naming any other transition (ship, cancel, receive...)
        would change the status without the service that moves the stock or money behind it."""
        return any(
            t.name == transition_name and self.is_fsm_transition_visible(t) for t in obj.get_all_status_transitions()
        )

    def _refuse_non_button(self, request, obj, transition_name: str) -> HttpResponseRedirect:
        self.message_user(
            request, f"'{transition_name}' is not a button of this {obj._meta.verbose_name}.", level=messages.ERROR
        )
        return HttpResponseRedirect(request.path if request.path.endswith("/change/") else self._change_url(obj))

    def _change_url(self, obj) -> str:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])

    def response_change(self, request, obj):
        transition_name = request.POST.get(self.fsm_post_param)
        if transition_name and not self.is_button(obj, transition_name):
            return self._refuse_non_button(request, obj, transition_name)
        return super().response_change(request, obj)

    def fsm_transition_view(self, request, object_id, transition_name, **kwargs):
        # The form of a button that asks for input (e.g. an order's hold reason): the same rules.
        obj = self.get_object(request, object_id)
        if obj is not None and not self.has_change_permission(request, obj):
            raise PermissionDenied
        if obj is not None and not self.is_button(obj, transition_name):
            return self._refuse_non_button(request, obj, transition_name)
        return super().fsm_transition_view(request, object_id, transition_name, **kwargs)

    def _apply_fsm_transition(self, *, obj, transition_name, request, kwargs=None) -> bool:
        if not self.has_change_permission(request, obj):
            self.message_user(request, f"You may not change this {obj._meta.verbose_name}.", level=messages.ERROR)
            return False
        if not self.is_button(obj, transition_name):
            self._refuse_non_button(request, obj, transition_name)
            return False
        by = Actor.admin(request)
        service = self.button_services.get(transition_name)
        try:
            if service is not None:
                result = service(**{self.service_param: obj}, by=by, **(kwargs or {}))
            else:
                with transaction.atomic():
                    result = apply_transition(lock(type(obj), obj.pk), transition_name, by=by, **(kwargs or {}))
        except ADMIN_ERRORS as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return False
        done = f"{transition_name.replace('_', ' ').capitalize()}: done."
        if isinstance(result, type(obj)) and result.pk != obj.pk:
            done = f"{done} Created {result}."  # e.g. a BOM's revise makes a new draft
        self.message_user(request, done, messages.SUCCESS)
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
        except ADMIN_ERRORS as exc:
            failed += 1
            label = getattr(obj, "display_number", None) or obj.pk
            modeladmin.message_user(request, f"{label}: {exc}", level=messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb}: {done} done.", level=messages.SUCCESS)


# Never exported, whatever the model: secrets, and stored API responses.
EXPORT_NEVER = {"password", "hashed_key", "response_body", "response_headers", "secret", "previous_secret"}


class ExportAdminMixin(ExportMixin):
    """Export of the changelist's rows, as filtered and searched there, to CSV or XLSX (django-import-export's
    Export button). Needs the model's view permission (IMPORT_EXPORT_EXPORT_PERMISSION_CODE); a user who
    cannot see the changelist cannot export it. The back office's site puts this mixin on every ModelAdmin
    (stateset.admin_site); a model without a resource of its own exports its concrete fields, foreign keys as
    ids, less the EXPORT_NEVER fields."""

    formats = [CSV, XLSX]

    def get_resource_classes(self, request):
        if self.resource_classes:
            return self.resource_classes
        opts = self.model._meta
        exclude = [f.name for f in opts.get_fields() if f.name in EXPORT_NEVER or f.many_to_many]
        return [modelresource_factory(self.model, meta_options={"exclude": exclude})]


class ImportExportAdminMixin(ImportMixin, ExportAdminMixin):
    """Import with a preview (a dry run: every row is checked by the services and rolled back), per-row
    errors, and nothing half-imported: the confirmed import is one transaction that rolls back whole when
    any row fails. Needs the model's add and change permissions. The `resource_classes` decide the columns
    and write through the app's services (stateset.resources.ServiceResource)."""

    import_export_change_list_template = "admin/import_export/change_list_import_export.html"
    import_error_display = ("message", "row")

    def has_import_permission(self, request):
        opts = self.model._meta
        return request.user.has_perms(
            [f"{opts.app_label}.add_{opts.model_name}", f"{opts.app_label}.change_{opts.model_name}"]
        )

    def process_result(self, result, request):
        # The rows were checked at the preview, but the data may have changed since: a row that fails now has
        # rolled the whole import back, so say that instead of "Import finished".
        if result.has_errors() or result.has_validation_errors():
            problems = [f"row {row.number}: {'; '.join(_row_messages(row))}" for row in result.invalid_rows]
            problems += [f"row {number}: {errors[0].error}" for number, errors in result.row_errors()]
            self.message_user(request, "Nothing was imported. " + " · ".join(problems), level=messages.ERROR)
            info = self.model._meta.app_label, self.model._meta.model_name
            return HttpResponseRedirect(reverse("admin:{}_{}_import".format(*info), current_app=self.admin_site.name))
        return super().process_result(result, request)


def _row_messages(invalid_row) -> list[str]:
    return [f"{field}: {m}" if field != "__all__" else m for field, ms in invalid_row.error_dict.items() for m in ms]


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceAdmin):
    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "expires_at", "revoked")
    list_filter = ("revoked",)
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked", "revoked_at")
    inlines = [StateLogInline]
    actions = ["revoke_keys"]
    service_param = "api_key"
    update_service = services.api_key_update
    delete_service = services.api_key_delete
    service_fields = tuple(sorted(services.API_KEY_FIELDS))

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
        # Not the base's create: the service also returns the raw key, shown here once.
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


# ---- events and webhooks (issue #17) ---------------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "type", "object_type", "object_id", "sequence", "actor", "created_at")
    list_filter = ("object_type",)
    search_fields = ("type", "=object_id", "request_id")
    date_hierarchy = "created_at"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ServiceAdmin):
    list_display = ("url", "enabled", "description", "disabled_reason", "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "description")
    fields = ("url", "enabled_events", "enabled", "description", "disabled_reason", "previous_secret_expires_at")
    readonly_fields = ("disabled_reason", "previous_secret_expires_at")
    actions = ["rotate_secrets"]
    service_param = "webhook_endpoint"
    update_service = webhooks.webhook_endpoint_update
    delete_service = webhooks.webhook_endpoint_delete
    service_fields = tuple(sorted(webhooks.WEBHOOK_FIELDS))

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        endpoint, secret = webhooks.webhook_endpoint_create(
            by=Actor.admin(request), **{k: form.cleaned_data[k] for k in self.service_fields if k in form.cleaned_data}
        )
        obj.pk = endpoint.pk
        self.message_user(
            request, f"The signing secret is {secret} — copy it now: it will not be shown again.", messages.WARNING
        )

    @admin.action(
        description="Rotate the signing secret (the old one signs for the grace period)", permissions=["change"]
    )
    def rotate_secrets(self, request, queryset):
        for endpoint in queryset.order_by("pk"):
            _, secret = webhooks.webhook_endpoint_rotate_secret(webhook_endpoint=endpoint, by=Actor.admin(request))
            self.message_user(request, f"{endpoint.url}: the new secret is {secret} — copy it now.", messages.WARNING)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("created_at", "status_code", "duration_ms", "error", "response_body")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "endpoint", "event_type", "status", "attempts", "last_status_code", "next_attempt_at")
    list_filter = ("status", "endpoint")
    search_fields = ("endpoint__url", "event__type", "=event__id")
    list_select_related = ("endpoint", "event")
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    @admin.display(description="event")
    def event_type(self, obj):
        return f"{obj.event.type} #{obj.event_id}"

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("stateset.view_webhookendpoint")

    @admin.action(description="Send again", permissions=["redeliver"])
    def redeliver(self, request, queryset):
        run_service_action(self, request, queryset, webhooks.webhook_redeliver, param="delivery", verb="Queued")

    def has_redeliver_permission(self, request):
        return request.user.has_perm("stateset.change_webhookendpoint")
