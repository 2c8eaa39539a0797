"""OpenAPI for the envelopes: one AutoSchema that knows the shapes `stateset.api` produces.

Every operation documents its success body (object envelope, list page, delete ack, action ack) and the
error shape for the failures it can answer. Alias routes are left out (they are listed in the README).

The schema describes what the server answers and accepts, no more loosely (issue #14; the test suite checks
every response against it, see tests/openapi_check.py): request bodies the server checks key by key
(`StrictInputMixin`) forbid other keys, list parameters carry their bounds, fields answered in one form but
accepted in several are typed per direction (`stateset.api.schema_by_direction`).
"""

from __future__ import annotations

import copy

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import append_meta
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

from stateset.api import EmptyInput, HistorySerializer, InputSerializer, ResourceViewSet, StrictInputMixin
from stateset.ids import MAX_ID
from stateset.limits import COUNT_BOUND, MAX_LIMIT, MAX_OFFSET


class ErrorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=[
            "invalid_request_error",
            "authentication_error",
            "permission_error",
            "not_found_error",
            "rate_limit_error",
            "api_error",
        ]
    )
    message = serializers.CharField()
    code = serializers.CharField()
    detail = serializers.CharField()
    path = serializers.CharField()
    status = serializers.IntegerField()
    errors = serializers.DictField(help_text="Field names mapped to messages, for validation errors.")
    request_id = serializers.CharField()

    class Meta:
        ref_name = "Error"


# 400: a bad list or query parameter; 503: the database is unreachable (retryable, with Retry-After).
READ_ERRORS = (400, 401, 403, 404, 414, 429, 500, 503)  # 414: a URL past MAX_URL_LENGTH
# 413: a body above the upload limit; 415: a body that is not JSON.
WRITE_ERRORS = (400, 401, 403, 404, 405, 409, 412, 413, 414, 415, 422, 429, 500, 503)

_cache: dict[str, serializers.Serializer] = {}


def _named(name: str, fields: dict) -> serializers.Serializer:
    """inline_serializer, once per component name (drf-spectacular warns when one name gets two classes)."""
    if name not in _cache:
        _cache[name] = inline_serializer(name=name, fields=fields)
    return _cache[name]


def _title(view: ResourceViewSet) -> str:
    return "".join(part.capitalize() for part in view.singular.split("_"))


class ResourceAutoSchema(AutoSchema):
    def _resource_view(self) -> ResourceViewSet | None:
        return self.view if isinstance(self.view, ResourceViewSet) else None

    def _is_list_view(self, serializer=None) -> bool:
        # Lists answer an envelope object ({"customers": [...], "total_count": ...}), never a bare array.
        if self._resource_view() is not None:
            return False
        return super()._is_list_view(serializer)

    def get_operation_id(self) -> str:
        view = self._resource_view()
        if view is None:
            return super().get_operation_id()
        # Actions answer POST and PUT alike; the PUT twin needs its own id.
        suffix = "_put" if self.method == "PUT" and view.action != "update" else ""
        return f"{view.plural}_{view.action}{suffix}"

    def get_tags(self) -> list[str]:
        view = self._resource_view()
        return [view.plural] if view else super().get_tags()

    def get_response_serializers(self):
        view = self._resource_view()
        if view is None:
            return super().get_response_serializers()
        name = _title(view)
        item = view.get_serializer_class()
        action = view.action
        errors = WRITE_ERRORS if self.method in ("POST", "PUT", "PATCH", "DELETE") else READ_ERRORS
        error_responses = dict.fromkeys(errors, ErrorSerializer)
        page_fields = {
            "total_count": serializers.IntegerField(
                help_text=f"Exact up to {COUNT_BOUND}; above it an estimate (see total_count_exact)."
            ),
            "total_count_exact": serializers.BooleanField(
                help_text=f"false when the list holds more than {COUNT_BOUND} rows and total_count is an estimate."
            ),
            "limit": serializers.IntegerField(),
            "offset": serializers.IntegerField(),
            "has_more": serializers.BooleanField(),
        }
        if action in ("list", "search"):
            body = _named(f"{name}List", {view.plural: item(many=True), **page_fields})
            return {200: body, 400: ErrorSerializer, **error_responses}
        if action == "history":
            body = _named("HistoryList", {"history": HistorySerializer(many=True), **page_fields})
            return {200: body, **error_responses}
        if action == "destroy":
            body = _named(
                "DeleteAck",
                {
                    "id": serializers.IntegerField(),
                    "object": serializers.CharField(),
                    "deleted": serializers.BooleanField(),
                },
            )
            return {200: body, **error_responses}
        envelope = _named(f"{name}Envelope", {view.singular: item()})
        custom = getattr(view, "custom_response_schemas", {}).get(action)
        if action == "create" and custom is not None:  # a create that answers more (a secret shown once)
            return {201: custom, **error_responses}
        if action == "create":
            return {201: envelope, **error_responses}
        if action in ("retrieve", "update", "partial_update"):
            return {200: envelope, **error_responses}
        handler = getattr(view, action, None)
        meta = getattr(handler, "resource_action", None)
        if meta:
            extra = getattr(view, "action_extra_schema", {}).get(action, {})
            body = _named(
                f"{name}{''.join(p.capitalize() for p in action.split('_'))}Ack",
                {
                    "id": serializers.IntegerField(),
                    "object": serializers.CharField(),
                    meta["done"]: serializers.BooleanField(),
                    "success": serializers.BooleanField(),
                    view.singular: item(),
                    **extra,
                },
            )
            return {200: body, **error_responses}
        custom = getattr(view, "custom_response_schemas", {}).get(action)
        if custom is not None:
            return {200: custom, **error_responses}
        return super().get_response_serializers()

    def get_request_serializer(self):
        view = self._resource_view()
        if view is not None and self.method in ("POST", "PUT", "PATCH"):
            if view.action == "create" and view.create_serializer_class:
                return view.create_serializer_class
            if view.action in ("update", "partial_update") and view.update_serializer_class:
                return view.update_serializer_class
            meta = getattr(getattr(view, view.action, None), "resource_action", None)
            if meta is not None:
                return meta["input"] or EmptyInput
        return super().get_request_serializer()

    def get_serializer_name(self, serializer, direction) -> str:
        # Action inputs share short names across apps (every app has a ReasonInput): prefix the app.
        name = super().get_serializer_name(serializer, direction)
        if isinstance(serializer, InputSerializer) and not isinstance(serializer, EmptyInput):
            app = type(serializer).__module__.split(".")[0]
            return f"{app.capitalize()}{name}"
        return name

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        by_direction = getattr(field, "schema_by_direction", None)
        if by_direction is not None:
            schema = copy.deepcopy(by_direction[direction])
            return append_meta(schema, self._get_serializer_field_meta(field, direction))
        return super()._map_serializer_field(field, direction, bypass_extensions)

    def _map_basic_serializer(self, serializer, direction):
        """A request body the server checks key by key refuses any other key with a 400 (`unknown_field`):
        `additionalProperties: false`. The keys it tolerates besides its fields are documented too: twins of
        a field (`input_aliases`) and identity echoes (`Meta.accepted_keys`)."""
        schema = super()._map_basic_serializer(serializer, direction)
        if direction != "request" or not isinstance(serializer, StrictInputMixin):
            return schema
        properties = schema.setdefault("properties", {})

        def unwritten(key):  # read-only properties are still here; they are dropped from request components later
            return key not in properties or properties[key].get("readOnly")

        for alias, canonical in getattr(serializer, "input_aliases", {}).items():
            if unwritten(alias) and not unwritten(canonical):
                properties[alias] = {**copy.deepcopy(properties[canonical]), "description": f"The same as {canonical}."}
        for key in getattr(getattr(serializer, "Meta", None), "accepted_keys", ()):
            if unwritten(key):
                properties[key] = {"description": "Tolerated and ignored (checked against the path)."}
        schema["additionalProperties"] = False
        return schema

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        view = self._resource_view()
        if view is None or self.method != "GET":
            return params
        if (
            view.action in ("list", "search", "history")
            or getattr(view, "paginated_actions", ())
            and (view.action in view.paginated_actions)
        ):
            params += [
                OpenApiParameter(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                    description=f"1 to {MAX_LIMIT} (default 10; a larger one is read as {MAX_LIMIT})",
                ),
                OpenApiParameter(
                    "offset",
                    {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                    description=f"default 0; at most {MAX_OFFSET} (page further with starting_after)",
                ),
                OpenApiParameter(
                    "starting_after",
                    {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                    description="cursor: the page after this row's id, in the list's order",
                ),
                OpenApiParameter(
                    "ending_before",
                    {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                    description="cursor: the page before this row's id, in the list's order",
                ),
                OpenApiParameter("order_direction", str, enum=["asc", "desc"], description="default desc"),
            ]
        if view.action in ("list", "search"):
            params.append(
                OpenApiParameter("order_by", str, enum=list(view.ordering_fields), description="default created_at")
            )
            params.append(OpenApiParameter("query" if view.action == "search" else "search", str))
            if view.filterset_class is not None:
                for fname, ffield in view.filterset_class.base_filters.items():
                    params.append(
                        OpenApiParameter(fname, _filter_type(ffield), description=str(ffield.label or "") or None)
                    )
        return params


def _filter_type(ffield):
    import django_filters

    if isinstance(ffield, django_filters.BooleanFilter):
        return OpenApiTypes.BOOL
    from stateset.filters import IdFilter

    if isinstance(ffield, (django_filters.NumberFilter, django_filters.ModelChoiceFilter, IdFilter)):
        return OpenApiTypes.INT
    if isinstance(ffield, (django_filters.IsoDateTimeFilter, django_filters.DateTimeFilter)):
        return OpenApiTypes.DATETIME
    return OpenApiTypes.STR


def drop_alias_routes(endpoints):
    """Alias routes serve the same views under documented variant paths; the schema lists each view once."""
    from stateset.urls import is_alias_path

    return [endpoint for endpoint in endpoints if not is_alias_path(endpoint[0])]


def tighten_unions(result, generator, request, public):
    """Postprocessing: unions as a validator reads them.

    - A blank-or-format string (`oneOf: [{format: uri}, {maxLength: 0}]`, drf-spectacular's form for a URL
      field that allows blank) becomes `anyOf`: a validator that does not check formats finds "" valid under
      both branches, which `oneOf` forbids.
    - `nullable` beside a `oneOf` with no `type` means nothing in OpenAPI 3.0 (null matches no branch), so it
      moves onto the first typed branch.
    """

    def visit(node):
        if isinstance(node, dict):
            one_of = node.get("oneOf")
            if isinstance(one_of, list):
                if any(branch == {"type": "string", "maxLength": 0} for branch in one_of):
                    node["anyOf"] = node.pop("oneOf")
                elif node.get("nullable") and "type" not in node:
                    typed = next((b for b in one_of if isinstance(b, dict) and "type" in b), None)
                    if typed is not None:
                        typed["nullable"] = True
                        del node["nullable"]
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(result)
    return result
