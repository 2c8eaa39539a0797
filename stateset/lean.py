"""The lean read path (issue #16, part 6): a serializer's output computed from a plan compiled once per
serializer instance, instead of DRF's field machinery on every row.

DRF renders each row by asking every field for its attribute (`get_attribute`: the source path walked with
exception handling, a check for callables) and then for its representation, through several layers of
method calls: about 3-5 µs a field, 15,000 fields for a page of 100 orders with their lines. `compile_plan`
looks at each readable field once and picks, where the field's behaviour is known exactly, a direct reader
(the model column's attribute, the foreign key's id column, the prefetched rows of a related set) and a
direct converter (a Decimal already at the field's places formatted as DRF formats it, a UTC datetime as
`isoformat`, a string as itself). Every other field (a custom field, a property, a method field) keeps DRF's
own `get_attribute` and `to_representation`, with DRF's handling of `SkipField` and of a null attribute. The
output is the same dict, key for key and value for value, as `serializer.data`: tests/core/test_lean.py
compares the two for every resource's list and retrieve.

A plan is valid for the serializer instance it was compiled from (its bound fields, its method fields'
parent); `stateset.api.ResourceViewSet.render` keeps one instance per class and thread, and its plan with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models
from django.db.models.expressions import RawSQL
from rest_framework import fields as drf_fields
from rest_framework import relations, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

from stateset.api import ConstantField

# How a step reads its value from the row (the kinds below), and how it turns a non-null value into output.
ATTR = 0  # getter(obj) -> value; None stays None
DRF = 1  # DRF's own field.get_attribute / field.to_representation, SkipField and PKOnlyObject included
CONST = 2  # a constant (ConstantField): no attribute read at all
MANY = 3  # a prefetched related set rendered by a child plan
METHOD = 4  # a SerializerMethodField: the parent's bound method called with the row

GROUP = 5  # a related set fetched by `Lean` (one query for the page): rows rendered by a child plan
HOOK = 6  # a field that reads a related set fetched by `Lean` (`lean_related`): its `lean_represent(rows)`

Step = tuple[str, int, Any, Any]


class Plan(list):
    """A list of steps; `columns`, the columns its ATTR steps read (by field name: `attnames`), and `dicts`,
    whether it reads `.values()` dicts. `function()` is the plan as straight-line Python (see `_function`)."""

    columns: tuple[str, ...] = ()
    attnames: dict[str, str]
    expressions: dict[str, Any]
    dicts: bool = False
    pk: str = "id"
    _function: Callable[[Any, Any], dict[str, Any]] | None = None

    def function(self) -> Callable[[Any, Any], dict[str, Any]]:
        if self._function is None:
            self._function = _function(self)
        return self._function


PLAN_ATTR = "_stateset_lean_plan"


def _same(field: drf_fields.Field, name: str, base: type) -> bool:
    """Whether `field`'s class uses `base`'s implementation of method `name` (not an override)."""
    return getattr(type(field), name) is getattr(base, name)


def _concrete_attname(model: type[models.Model] | None, name: str) -> str | None:
    """The attribute holding model column `name` (a non-relational concrete field), or None."""
    if model is None:
        return None
    try:
        field = model._meta.get_field(name)
    except Exception:  # FieldDoesNotExist: a property or a method
        return None
    if not getattr(field, "concrete", False):
        return None
    if field.is_relation:  # its id column, named by its attname (`promotion_id`)
        return field.attname if name == field.attname else None
    return field.attname


def _foreign_key_attname(model: type[models.Model] | None, name: str) -> str | None:
    if model is None:
        return None
    try:
        field = model._meta.get_field(name)
    except Exception:
        return None
    if isinstance(field, models.ForeignKey | models.OneToOneField) and field.concrete:
        return field.attname
    return None


def _utc_only() -> bool:
    return settings.USE_TZ and settings.TIME_ZONE == "UTC"


def _datetime_converter(field: serializers.DateTimeField) -> Callable[[Any], Any]:
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    slow = field.to_representation
    if (
        hasattr(field, "timezone")
        or not _utc_only()
        or output_format not in ("%Y-%m-%dT%H:%M:%SZ", "iso-8601")
        or not _same(field, "to_representation", serializers.DateTimeField)
        or not _same(field, "enforce_timezone", serializers.DateTimeField)
    ):
        return slow
    utc = UTC
    if output_format == "iso-8601":

        def iso(value: Any) -> Any:
            if type(value) is datetime and value.tzinfo is utc:
                text = value.isoformat()
                return text[:-6] + "Z" if text.endswith("+00:00") else text
            return slow(value)

        return iso

    def seconds(value: Any) -> Any:
        # strftime("%Y-%m-%dT%H:%M:%SZ") of the value in UTC; strftime pads no year below 1000, isoformat does.
        if type(value) is datetime and value.tzinfo is utc and value.year >= 1000:
            return value.isoformat(timespec="seconds")[:19] + "Z"
        return slow(value)

    return seconds


def _date_converter(field: serializers.DateField) -> Callable[[Any], Any]:
    output_format = getattr(field, "format", api_settings.DATE_FORMAT)
    slow = field.to_representation
    if output_format not in ("%Y-%m-%d", "iso-8601") or not _same(field, "to_representation", serializers.DateField):
        return slow

    def day(value: Any) -> Any:
        if type(value) is date and value.year >= 1000:
            return value.isoformat()
        return slow(value)

    return day


def _decimal_converter(field: serializers.DecimalField) -> Callable[[Any], Any]:
    slow = field.to_representation
    coerce = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    places = field.decimal_places
    if (
        not coerce
        or places is None
        or field.normalize_output
        or field.localize
        or not _same(field, "to_representation", serializers.DecimalField)
        or not _same(field, "quantize", serializers.DecimalField)
    ):
        return slow
    if places < 1:
        return slow
    dot = -places - 1
    # The text's length bound: the digits, the point, a sign. Counting the text counts a leading zero as a
    # digit too ("0.50"): a value that only looks too long takes DRF's path, which decides.
    longest = None if field.max_digits is None else field.max_digits + 1

    def money(value: Any) -> Any:
        # A Decimal already at the field's places (every value read from a NUMERIC(p, places) column)
        # quantizes to itself, and DRF's output is its fixed-point text.
        if value.__class__ is Decimal:
            text = f"{value:f}"
            if text[dot : dot + 1] == "." and (longest is None or len(text) <= longest + (text[0] == "-")):
                return text
        return slow(value)

    return money


def _converter(field: drf_fields.Field) -> Callable[[Any], Any] | None:
    """A direct converter for a field whose representation of a non-null model value is known, or None."""
    if isinstance(field, serializers.DateTimeField):
        return _datetime_converter(field)
    if isinstance(field, serializers.DateField):
        return _date_converter(field)
    if isinstance(field, serializers.DecimalField):
        return _decimal_converter(field)
    if isinstance(field, serializers.ChoiceField) and _same(field, "to_representation", serializers.ChoiceField):
        return field.to_representation
    if _same(field, "to_representation", serializers.CharField):
        return _text
    if _same(field, "to_representation", serializers.IntegerField):
        return _integer
    big = getattr(serializers, "BigIntegerField", None)  # DRF 3.16
    if big is not None and _same(field, "to_representation", big):
        return _text if getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING) else _integer
    if _same(field, "to_representation", serializers.BooleanField):
        slow = field.to_representation
        return lambda value: value if value is True or value is False else slow(value)
    if _same(field, "to_representation", serializers.JSONField) and not field.binary:
        return _identity
    if _same(field, "to_representation", serializers.ReadOnlyField):
        return _identity
    return None


def _text(value: Any) -> str:
    return value if type(value) is str else str(value)


def _integer(value: Any) -> int:
    return value if type(value) is int else int(value)


def _identity(value: Any) -> Any:
    return value


def _prefetched(name: str) -> Callable[[models.Model], Any]:
    """The rows of related set `name`: its prefetch cache when filled, else the manager's `all()` (a query)."""

    def rows(obj: models.Model) -> Any:
        cache = obj.__dict__.get("_prefetched_objects_cache")
        if cache is not None:
            queryset = cache.get(name)
            if queryset is not None and queryset._result_cache is not None:
                return queryset._result_cache
        value = getattr(obj, name)
        return value.all() if isinstance(value, models.manager.BaseManager) else value

    return rows


def compile_plan(serializer: serializers.Serializer, *, dicts: bool = False, top: bool = False) -> list[Step] | None:
    """The plan of `serializer` (bound, built once); None when it cannot be compiled (a serializer that
    overrides `to_representation`), in which case the caller uses DRF's `data`. With `dicts`, the plan of
    rows read as `.values()` dicts: None unless every field is a column or a constant (or, for the `top`
    serializer of a `Lean`, a related set the Lean fetches: it checks the rest)."""
    if not _same(serializer, "to_representation", serializers.Serializer):
        return None
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    steps = Plan()
    steps.attnames, steps.dicts = {}, dicts
    steps.expressions = {}
    # `Meta.lean_expressions`: a field whose value is not a column (a property) as the SQL expression that
    # computes it, for `.values()` rows; tests/core/test_lean.py checks it against the property.
    expressions = getattr(getattr(serializer, "Meta", None), "lean_expressions", {}) if dicts else {}
    columns: list[str] = []
    for field in serializer._readable_fields:
        name = field.field_name
        attrs = field.source_attrs
        plain_get = _same(field, "get_attribute", drf_fields.Field)
        if isinstance(field, ConstantField) and _same(field, "to_representation", ConstantField):
            steps.append((name, CONST, field.value, None))
            continue
        if isinstance(field, serializers.SerializerMethodField) and _same(
            field, "to_representation", serializers.SerializerMethodField
        ):
            steps.append((name, METHOD, getattr(field.parent, field.method_name), None))
            continue
        if isinstance(field, serializers.ListSerializer):
            child = compile_plan(field.child)
            if (
                child is not None
                and plain_get
                and len(attrs) == 1
                and _same(field, "to_representation", serializers.ListSerializer)
            ):
                steps.append((name, MANY, _prefetched(attrs[0]), child))
                continue
            steps.append((name, DRF, field, None))
            continue
        if (
            isinstance(field, relations.PrimaryKeyRelatedField)
            and field.pk_field is None
            and field.use_pk_only_optimization()
            and len(attrs) == 1
            and _same(field, "get_attribute", relations.RelatedField)
            and _same(field, "to_representation", relations.PrimaryKeyRelatedField)
            and (attname := _foreign_key_attname(model, attrs[0]))
        ):
            steps.append((name, ATTR, itemgetter(attname) if dicts else _getter(attname), _identity))
            columns.append(attname)
            steps.attnames[name] = attname
            continue
        fk_attname = _foreign_key_attname(model, attrs[0]) if len(attrs) == 1 and plain_get else None
        if fk_attname is not None and getattr(field, "lean_pk", False):
            # A field declaring that it shows the related row's primary key: the foreign key's column.
            steps.append((name, ATTR, itemgetter(fk_attname) if dicts else _getter(fk_attname), _identity))
            columns.append(fk_attname)
            steps.attnames[name] = fk_attname
            continue
        if fk_attname is not None and getattr(field, "lean_attr", None):
            # A field declaring that it shows one attribute of the related row (`location.code`).
            if dicts:
                column = f"{attrs[0]}__{field.lean_attr}"
                steps.append((name, ATTR, itemgetter(column), _identity))
                columns.append(column)
                steps.attnames[name] = column
            else:
                steps.append((name, ATTR, _related_getter(attrs[0], field.lean_attr), _identity))
            continue
        converter = _converter(field)
        if name in expressions and converter is not None and plain_get:
            alias = f"lean_{name}"
            steps.expressions[alias] = expressions[name]
            steps.append((name, ATTR, itemgetter(alias), converter))
            steps.attnames[name] = alias
            continue
        if (
            converter is not None
            and plain_get
            and len(attrs) == 2
            and _foreign_key_attname(model, attrs[0]) is not None
            and _concrete_attname(model._meta.get_field(attrs[0]).related_model, attrs[1]) == attrs[1]
            and (field.default is None or field.allow_null)
        ):
            # `promotion.code`: None when there is no related row (DRF's AttributeError → the default, None).
            if dicts:
                column = f"{attrs[0]}__{attrs[1]}"
                steps.append((name, ATTR, itemgetter(column), converter))
                columns.append(column)
                steps.attnames[name] = column
            else:
                steps.append((name, ATTR, _related_getter(attrs[0], attrs[1]), converter))
            continue
        attname = _concrete_attname(model, attrs[0]) if len(attrs) == 1 else None
        if converter is not None and plain_get and attname is not None:
            steps.append((name, ATTR, itemgetter(attname) if dicts else _getter(attname), converter))
            columns.append(attname)
            steps.attnames[name] = attname
            continue
        steps.append((name, DRF, field, None))
    if dicts and not top and any(kind not in (ATTR, CONST) for _, kind, _, _ in steps):
        return None
    steps.columns = tuple(dict.fromkeys(columns))
    return steps


def _related_getter(relation: str, attr: str) -> Callable[[models.Model], Any]:
    def get(obj: models.Model) -> Any:
        related = getattr(obj, relation)
        return None if related is None else getattr(related, attr)

    return get


def _getter(attname: str) -> Callable[[models.Model], Any]:
    # A loaded column is in the instance's __dict__ (a deferred one is loaded by the field's descriptor).
    return attrgetter(attname)


def plan_for(serializer: serializers.Serializer) -> list[Step] | None:
    """The serializer instance's plan, compiled at its first use."""
    try:
        return serializer.__dict__[PLAN_ATTR]
    except KeyError:
        plan = serializer.__dict__[PLAN_ATTR] = compile_plan(serializer)
        return plan


def render_row(plan: Plan, obj: Any, groups: dict[str, dict[Any, list]] | None = None) -> dict[str, Any]:
    return plan.function()(obj, groups)


def _step(step: Step, obj: Any, groups: dict[str, dict[Any, list]] | None, out: dict[str, Any]) -> None:
    """One step the straight-line function does not inline: DRF's own field, a method field, a nested list
    from the prefetch cache, a hook."""
    name, kind, a, b = step
    if kind == ATTR:
        value = a(obj)
        out[name] = None if value is None else b(value)
    elif kind == CONST:
        out[name] = a
    elif kind == GROUP:
        out[name] = [render_row(b, row) for row in groups[a].get(obj.pk, ())]
    elif kind == MANY:
        related = a(obj)
        out[name] = None if related is None else [render_row(b, row) for row in related]
    elif kind == METHOD:
        out[name] = a(obj)
    elif kind == HOOK:
        out[name] = b(groups[a].get(obj.pk, ()))
    else:
        try:
            attribute = a.get_attribute(obj)
        except SkipField:
            return
        check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        out[name] = None if check is None else a.to_representation(attribute)


def _function(plan: Plan) -> Callable[[Any, Any], dict[str, Any]]:
    """The plan as one Python function with a line per key (compiled once): a column read inline
    (`obj.total`, or `obj["total"]` for a `.values()` row), its converter called only when it does more than
    DRF's `str()`/`int()` of a str/int, constants and related sets inline; any other step through `_step`.
    The keys come out in the plan's order, as DRF's serializer writes them."""
    names: dict[str, Any] = {"_step": _step, "str": str, "int": int}
    row_key = f"obj[{plan.pk!r}]" if plan.dicts else "obj.pk"
    lines = ["def render(obj, groups):", "    out = {}"]
    for i, step in enumerate(plan):
        name, kind, a, b = step
        key = repr(name)
        attname = plan.attnames.get(name) if kind == ATTR else None
        if attname is not None and attname.isidentifier():
            read = f"obj[{attname!r}]" if plan.dicts else f"obj.{attname}"
            if b is _identity:
                lines.append(f"    out[{key}] = {read}")
            elif b is _text:
                lines.append(f"    v = {read}")
                lines.append(f"    out[{key}] = v if v is None or v.__class__ is str else str(v)")
            elif b is _integer:
                lines.append(f"    v = {read}")
                lines.append(f"    out[{key}] = v if v is None or v.__class__ is int else int(v)")
            else:
                names[f"c{i}"] = b
                lines.append(f"    v = {read}")
                lines.append(f"    out[{key}] = None if v is None else c{i}(v)")
        elif kind == CONST:
            names[f"k{i}"] = a
            lines.append(f"    out[{key}] = k{i}")
        elif kind == GROUP:
            names[f"f{i}"] = b.function()
            lines.append(f"    out[{key}] = [f{i}(r, None) for r in groups[{a!r}].get({row_key}, ())]")
        elif kind == HOOK:
            names[f"h{i}"] = b
            lines.append(f"    out[{key}] = h{i}(groups[{a!r}].get({row_key}, ()))")
        else:
            names[f"s{i}"] = step
            lines.append(f"    _step(s{i}, obj, groups, out)")
    lines.append("    return out")
    exec(compile("\n".join(lines), f"<lean plan {id(plan):x}>", "exec"), names)  # noqa: S102
    return names["render"]


def compiles(serializer: serializers.Serializer) -> bool:
    """Whether `serializer` renders through its plan: it compiles, and its class still renders as it did
    when the plan was compiled (a test may patch `to_representation`: then DRF's own)."""
    return _same(serializer, "to_representation", serializers.Serializer) and plan_for(serializer) is not None


def render(serializer: serializers.Serializer, instance: Any, *, many: bool) -> Any:
    """`serializer.data` for `instance` (a list of rows when `many`) through the plan, with the related sets
    from the instances' prefetch caches; None when the serializer does not compile."""
    plan = plan_for(serializer)
    if plan is None:
        return None
    if many:
        return [render_row(plan, row) for row in instance]
    return render_row(plan, instance)


# ---- related sets: one query each, no per-row prefetch machinery --------------------------------------------


def value_of(row: Any, name: str) -> Any:
    """A column of a related row, whether it was read as a `.values()` dict or as an instance."""
    return row[name] if type(row) is dict else getattr(row, name)


@dataclass
class RelatedSet:
    """A reverse foreign key (`order.order_line_items`) that `Lean` reads itself: one query for all the rows
    of the page, grouped by the foreign key, as `.values()` dicts when every field that reads it is a column."""

    name: str
    model: type[models.Model]
    fk_attname: str
    fk_column: str
    columns: tuple[str, ...] | None  # None: read instances

    def rows(self, base: models.QuerySet, ids: list[Any]) -> dict[Any, list]:
        if connection.vendor == "postgresql":
            # One array parameter: the same statement text whatever the page size, and no per-id parameter
            # built and quoted by Django and psycopg (`__in` takes about a millisecond for 100 ids).
            column = (
                f"{connection.ops.quote_name(self.model._meta.db_table)}.{connection.ops.quote_name(self.fk_column)}"
            )
            queryset = base.filter(RawSQL(f"{column} = ANY(%s)", (ids,), output_field=models.BooleanField()))
        else:
            queryset = base.filter(**{f"{self.fk_attname}__in": ids})
        groups: dict[Any, list] = {}
        if self.columns is not None:
            columns = tuple(dict.fromkeys((*self.columns, self.fk_attname)))
            for row in queryset.prefetch_related(None).values(*columns):
                groups.setdefault(row[self.fk_attname], []).append(row)
        else:
            for row in queryset:
                groups.setdefault(getattr(row, self.fk_attname), []).append(row)
        return groups


def _reverse_fk(model: type[models.Model], name: str) -> tuple[type[models.Model], str, str] | None:
    """(related model, its foreign key's attname and column) when `name` is a one-to-many reverse relation of `model`
    onto its primary key; else None."""
    try:
        relation = model._meta.get_field(name)
    except Exception:
        return None
    if not (relation.one_to_many and relation.auto_created and not relation.concrete):
        return None
    if relation.get_accessor_name() != name or not relation.field.target_field.primary_key:
        return None
    return relation.related_model, relation.field.attname, relation.field.column


def _reads_its_parent(model: type[models.Model], name: str, field: Any) -> bool:
    """Whether the nested rows of relation `name` render a column of their parent through their foreign key (a
    BOM line's `bill_of_materials.number`): Django's prefetching hands each row its parent, the plan's own
    fetch does not, so such a set stays with the queryset's prefetching."""
    relation = model._meta.get_field(name)
    fk_name, related = relation.field.name, relation.related_model
    child = getattr(field, "child", None)
    fields = getattr(child, "fields", {}) if child is not None else {}
    pure = set(getattr(getattr(child, "Meta", None), "lean_expressions", {}))
    return any(
        f.source_attrs
        and (
            (len(f.source_attrs) > 1 and f.source_attrs[0] == fk_name)
            # a property of the row (`manufacture_order_number`) may read the parent through the foreign key
            or (f.source_attrs[0] not in pure and _is_model_property(related, f.source_attrs[0]))
        )
        for f in fields.values()
    )


def _is_model_property(model: type[models.Model], name: str) -> bool:
    """Whether `name` is computed on the model (a property or method) rather than a field or relation."""
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return callable(getattr(model, name, None)) or isinstance(getattr(model, name, None), property)
    return False


class Lean:
    """A serializer's plan for a queryset's rows, with the related sets its fields read (the nested lists, and
    fields declaring `lean_related`) fetched here: one query per set for the whole page, as `.values()` dicts
    where the nested serializer reads only columns, grouped by foreign key. Django's `prefetch_related` does
    the same number of queries but builds a related manager and a queryset clone per row and set, and a model
    instance per related row. Sets the plan cannot take over (a field reading the whole object, a nested
    lookup) stay with the queryset's own prefetching."""

    def __init__(
        self, serializer: serializers.Serializer, model: type[models.Model], lookups: tuple[str, ...], dicts: bool
    ):
        base = compile_plan(serializer, dicts=True, top=True) if dicts else plan_for(serializer)
        self.plan: Plan | None = None
        self.dicts = dicts
        self.sets: dict[str, RelatedSet] = {}
        if base is None:
            return
        fields = serializer.fields
        readers: dict[str, list[str]] = {}  # relation name -> fields that read it
        whole_object = False
        pure = set(getattr(getattr(serializer, "Meta", None), "lean_expressions", {}))
        for name, kind, _, _ in base:
            field = fields[name]
            if kind in (DRF, METHOD) and getattr(field, "lean_related", None) is None:
                if not field.source_attrs:
                    whole_object = True  # may read any relation
                elif field.source_attrs[0] not in pure and _is_model_property(model, field.source_attrs[0]):
                    # A property (CycleCount.part sums its lines) may read a related set through the instance:
                    # the sets stay with the queryset's prefetching, or each row would query its own.
                    whole_object = True
            source = getattr(field, "lean_related", None) or (field.source_attrs[:1] or [""])[0]
            readers.setdefault(source, []).append(name)
        nested = {lookup.split("__", 1)[0] for lookup in lookups if "__" in lookup}
        kinds = {name: kind for name, kind, _, _ in base}
        plan = Plan()
        plan.attnames, plan.dicts, plan.pk = base.attnames, dicts, model._meta.pk.attname
        for step in base:
            name, kind, a, b = step
            field = fields[name]
            hook = getattr(field, "lean_related", None)
            source = hook or (field.source_attrs[:1] or [""])[0]
            takeable = (
                not whole_object
                and (kind == MANY or (kind == DRF and hook))
                and source not in nested
                and _reverse_fk(model, source) is not None
                and not (kind == MANY and _reads_its_parent(model, source, field))
                and all(kinds[r] == MANY or getattr(fields[r], "lean_related", None) == source for r in readers[source])
            )
            if not takeable:
                plan.append(step)
                continue
            related = self.sets.get(source)
            if related is None:
                related = self.sets[source] = RelatedSet(source, *_reverse_fk(model, source), ())
            if kind == MANY:
                child = compile_plan(field.child, dicts=True)
                if child is None:
                    related.columns = None
                    child = b
                elif related.columns is not None:
                    related.columns = (*related.columns, *child.columns)
                plan.append((name, GROUP, source, child))
            else:
                if related.columns is not None:
                    related.columns = (*related.columns, *getattr(field, "lean_columns", ()))
                plan.append((name, HOOK, source, field.lean_represent))
        # A set read as instances by one reader is read so by all: re-plan the dict readers onto instances.
        for source, related in self.sets.items():
            if related.columns is None:
                plan[:] = [
                    (n, k, a, _object_plan(fields[n]) if k == GROUP and a == source else b) for n, k, a, b in plan
                ]
        if dicts and any(kind not in (ATTR, CONST, GROUP, HOOK) for _, kind, _, _ in plan):
            return  # a field needs the instance: not as `.values()` rows
        # As `.values()` rows: the primary key, every column a step reads, and the expressions.
        self.columns = tuple(dict.fromkeys((plan.pk, *base.columns))) if dicts else ()
        self.expressions = base.expressions if dicts else {}
        self.plan = plan

    def prepare(self, queryset: models.QuerySet) -> Prepared:
        """The queryset without the lookups this plan fetches itself, and what renders its rows."""
        bases: dict[str, models.QuerySet] = {}
        kept = []
        for lookup in queryset._prefetch_related_lookups:
            name = getattr(lookup, "prefetch_to", lookup)
            to_attr = getattr(lookup, "to_attr", None)
            if name in self.sets and not to_attr:
                queryset_ = getattr(lookup, "queryset", None)
                if queryset_ is not None:
                    bases[name] = queryset_
                continue
            kept.append(lookup)
        if len(kept) != len(queryset._prefetch_related_lookups):
            queryset = queryset.prefetch_related(None).prefetch_related(*kept)
        for name, related in self.sets.items():
            bases.setdefault(name, related.model._default_manager.all())
        if self.dicts:
            queryset = queryset.prefetch_related(None).values(*self.columns, **self.expressions)
        return Prepared(self, queryset, bases)


def _object_plan(field: serializers.ListSerializer) -> Plan:
    return plan_for(field.child)


@dataclass
class Prepared:
    lean: Lean
    queryset: models.QuerySet
    bases: dict[str, models.QuerySet]

    def render(self, rows: list[models.Model]) -> list[dict[str, Any]]:
        plan = self.lean.plan
        groups: dict[str, dict[Any, list]] = {}
        if rows and self.lean.sets:
            pk = self.lean.plan.pk
            ids = [row[pk] for row in rows] if self.lean.dicts else [row.pk for row in rows]
            groups = {name: related.rows(self.bases[name], ids) for name, related in self.lean.sets.items()}
        else:
            groups = dict.fromkeys(self.lean.sets, {})
        return [render_row(plan, row, groups) for row in rows]


def lean_for(serializer: serializers.Serializer, queryset: models.QuerySet, *, dicts: bool = False) -> Lean | None:
    """The serializer instance's `Lean` for querysets of this model and these lookups, built at first use;
    with `dicts`, one reading `.values()` rows when every field allows it (else the one reading instances)."""
    if not _same(serializer, "to_representation", serializers.Serializer):
        return None  # overridden since the plan was compiled (a test patching the class): DRF's own
    lookups = tuple(getattr(lookup, "prefetch_to", lookup) for lookup in queryset._prefetch_related_lookups)
    cache = serializer.__dict__.setdefault("_stateset_lean", {})
    key = (queryset.model, lookups, dicts)
    lean = cache.get(key)
    if lean is None:
        lean = cache[key] = Lean(serializer, queryset.model, lookups, dicts)
    if lean.plan is None:
        return lean_for(serializer, queryset) if dicts else None
    return lean
