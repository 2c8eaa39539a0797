"""The shape the style guide asks for, checked on the source: the interfaces (api, admin, views, serializers)
never write a model themselves; every write goes through a service (principle 2, "writes in services").

The check parses each module (no import) and looks for the calls that write: `.save()` (not a form's
`save(commit=False)`, which writes nothing), `.delete()`, a manager's or a queryset's `create`, `update`,
`bulk_create`, `bulk_update`, `get_or_create`, `update_or_create`, and Django admin's own writing defaults
reached through `super()` (`save_model`, `delete_model`, `delete_queryset`, `save_formset`, `save_related`).
The dependency order itself is import-linter's contract (pyproject.toml, `make check`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The interface layers: modules with these names, or any module inside packages with these names.
INTERFACES = {"api", "admin", "views", "serializers"}
NOT_SOURCE = {"tests", "migrations", "bench", "var", "docs", "templates", "node_modules"}

# Writes that are the ORM's whichever object they are called on.
QUERYSET_WRITES = {"bulk_create", "bulk_update", "get_or_create", "update_or_create"}
# Writes when called on a manager or a queryset (`Model.objects.create(...)`, `qs.filter(...).update(...)`).
MANAGER_WRITES = {"create", "update", "delete"}
# The methods of Django's ModelAdmin whose default writes through the ORM, not a service.
ADMIN_WRITES = {"save_model", "delete_model", "delete_queryset", "save_formset", "save_related"}
# A receiver built from these is a manager or a queryset.
QUERYSET_MAKERS = {
    "objects",
    "_default_manager",
    "_base_manager",
    "all",
    "filter",
    "exclude",
    "select_for_update",
    "select_related",
    "prefetch_related",
    "order_by",
    "annotate",
    "values",
    "distinct",
    "using",
    "get_queryset",
}

# The project's admin bases (stateset.admin): their save and delete hooks call the model's services, so an
# override reaching them through super() writes through a service, not Django's default.
SERVICE_ADMIN_BASES = {"ServiceAdmin", "StatefulAdmin"}


def interface_modules() -> list[Path]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0].startswith(".") or NOT_SOURCE & set(parts) or len(parts) < 2:
            continue
        packages = set(parts[:-1])
        if path.stem in INTERFACES or packages & INTERFACES:
            found.append(path)
    return found


def _names(node: ast.AST) -> set[str]:
    """The attribute and function names a receiver expression is built from (`Order.objects.filter(...)`:
    {"Order", "objects", "filter"})."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            names.add(sub.attr)
        elif isinstance(sub, ast.Name):
            names.add(sub.id)
    return names


def _is_queryset(node: ast.AST) -> bool:
    return bool(_names(node) & QUERYSET_MAKERS) or any(n.endswith("_set") for n in _names(node))


def _is_super(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def is_write(call: ast.Call, *, service_admin: bool = False) -> bool:
    """True for a call that writes a model row by itself (see the module docstring). `service_admin`: the call
    is in a class built on the project's service-backed admin bases."""
    if not isinstance(call.func, ast.Attribute):
        return False
    name, receiver = call.func.attr, call.func.value
    if _is_super(receiver):
        return (name in ADMIN_WRITES and not service_admin) or name in {"save", "delete"}
    if name == "save":
        commit = next((k.value for k in call.keywords if k.arg == "commit"), None)
        return not (isinstance(commit, ast.Constant) and commit.value is False)
    if name == "delete":
        return not call.args  # a row or a queryset; `cache.delete(key)` and the like take an argument
    if name in QUERYSET_WRITES:
        return True
    if name in MANAGER_WRITES:
        # `qs.update(status=...)` takes keywords only; `dict.update(other)` or a view's `self.update(request)` not.
        return _is_queryset(receiver) or (name == "update" and not call.args and bool(call.keywords))
    return False


def writes_in(source: str, path: str) -> list[str]:
    """Each write in `source` as "path::Class.method::call"."""
    found = []

    def visit(node: ast.AST, scope: tuple[str, ...], service_admin: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in child.bases}
                visit(child, (*scope, child.name), bool(bases & SERVICE_ADMIN_BASES))
                continue
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, (*scope, child.name), service_admin)
                continue
            if isinstance(child, ast.Call) and is_write(child, service_admin=service_admin):
                found.append(f"{path}::{'.'.join(scope) or '<module>'}::{ast.unparse(child)}")
            visit(child, scope, service_admin)

    visit(ast.parse(source), (), False)
    return found


def test_there_are_interface_modules_to_check():
    names = {p.relative_to(ROOT).as_posix() for p in interface_modules()}
    assert {"orders/api.py", "orders/admin.py", "stateset/views.py", "returns/serializers.py"} <= names


def test_the_interfaces_write_only_through_services():
    found = set()
    for path in interface_modules():
        found.update(writes_in(path.read_text(), path.relative_to(ROOT).as_posix()))
    assert sorted(found) == [], "Writes outside a service (call the app's service instead):\n" + "\n".join(found)


INJECTED = """
class ThingAdmin(admin.ModelAdmin):
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        obj.delete()

class ThingViewSet(viewsets.ViewSet):
    def perform(self, thing):
        thing.save(update_fields=["name"])
        Thing.objects.create(name="x")
        Thing.objects.filter(pk=1).update(name="y")
        thing.lines.all().delete()
        Thing.objects.bulk_create([])
        Thing.objects.get_or_create(name="z")
        thing.line_set.create(sku="A")
        queryset.update(name="w")
"""

FINE = """
class ThingAdmin(admin.ModelAdmin):
    def save_model(self, request, obj, form, change):
        services.thing_update(thing=obj, by=Actor.admin(request), **fields)

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            formset.save(commit=False)
        body.update({"done": True})
        self.update(request, pk=1)
        cache.delete("key")
        self.delete_model(request, obj)
        Thing.objects.filter(pk=1).exists()
"""


@pytest.mark.parametrize(("source", "count"), [(INJECTED, 10), (FINE, 0)], ids=["writes", "no-writes"])
def test_the_check_finds_each_kind_of_write_and_nothing_else(source, count):
    found = writes_in(source, "x/admin.py")
    assert len(found) == count, found
