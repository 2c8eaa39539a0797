"""The API conventions of contract §1, written once: every resource's viewset is built from these parts.

- `exception_handler`: the one error shape for every failure (§1.6);
- `ResourceSerializer`: documented names, `object`, money as "19.99", unknown and server-owned fields refused;
- `ResourceViewSet` and its mixins: envelopes (§1.4), list parameters from the query string or a JSON body on
  GET (§1.5), search, history, `If-Match`;
- `resource_action`: one line per action endpoint (`POST /v1/{resource}/{id}/{action}`, PUT too), which
  validates an input serializer, calls the service, and answers the action ack.

Views never hold rules: they parse, call one service with an Actor, and present the result.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, models, transaction
from django.db.models import ProtectedError, Q, RestrictedError, prefetch_related_objects
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import parse_etags, quote_etag
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from django_fsm_log.models import StateLog
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import set_rollback

from stateset.actors import Actor
from stateset.compiled import Compiled
from stateset.constraints import answers_lost_races
from stateset.errors import DomainError, NotFound
from stateset.fsm import lock
from stateset.ids import MAX_ID
from stateset.limits import DEFAULT_LIMIT, MAX_LIMIT, MAX_LINES
from stateset.middleware import current_request_id
from stateset.pagination import Page, check_offset, paginate
from stateset.prefetch import is_as_written

logger = logging.getLogger("stateset.api")


# --------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------


def error_body(
    *,
    status_code: int,
    type: str,
    code: str,
    message: str,
    path: str = "",
    detail: str | None = None,
    errors: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "type": type,
        "message": message,
        "code": code,
        "detail": detail if detail is not None else message,
        "path": path,
        "status": status_code,
        "errors": dict(errors or {}),
        "request_id": current_request_id(),
    }


def error_json_response(request, status_code: int, type: str, code: str, message: str, **kwargs) -> JsonResponse:
    """The error shape outside DRF views (middleware, unknown routes)."""
    body = error_body(status_code=status_code, type=type, code=code, message=message, path=request.path, **kwargs)
    return JsonResponse(body, status=status_code)


def _flatten(detail: Any) -> Any:
    """DRF's ErrorDetail lists into plain strings (one message per field, or a list for nested lines)."""
    if isinstance(detail, dict):
        return {k: _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        flat = [_flatten(v) for v in detail]
        if all(isinstance(v, str) for v in flat):
            return " ".join(flat)
        return flat
    return str(detail)


def _first_message(errors: Any) -> str:
    if isinstance(errors, dict):
        for field, value in errors.items():
            inner = _first_message(value)
            return inner if field == "non_field_errors" else f"{field}: {inner}"
    if isinstance(errors, list):
        for value in errors:
            if value:
                return _first_message(value)
    return str(errors)


def _codes(codes: Any) -> set[str]:
    if isinstance(codes, dict):
        return set().union(*(_codes(v) for v in codes.values())) if codes else set()
    if isinstance(codes, list):
        return set().union(*(_codes(v) for v in codes)) if codes else set()
    return {str(codes)}


RETRYABLE_DB_ERRORS = ("lock", "deadlock", "could not serialize", "database is locked", "canceling statement")
# What PostgreSQL (psycopg) and SQLite say when the database is gone or unreachable, rather than refusing a
# statement: a 503 the client retries (the next request opens a new connection, see CONN_HEALTH_CHECKS).
CONNECTION_LOST = (
    "server closed the connection",
    "terminating connection",
    "connection already closed",
    "the connection is closed",
    "connection is lost",
    "consuming input failed",
    "could not connect",
    "connection refused",
    "connection to server",
    "no connection to the server",
    "ssl connection has been closed",
    "unable to open database",
)
LOST_RETRY_AFTER = {"Retry-After": "1"}


class PreconditionFailed(exceptions.APIException):
    status_code = 412
    default_detail = "If-Match does not match the current version of the resource."


INVALID = "invalid_request_error"
CONFLICT = (409, "api_error", "conflict")
AUTH_CHALLENGE = {"WWW-Authenticate": 'Token realm="api"'}


@dataclass(frozen=True)
class ErrorRule:
    """How one kind of exception answers: status, type and code, and its message (fixed, or computed from the
    exception). `status=None` keeps the exception's own status_code; `headers` adds response headers; `when`
    narrows the rule to some instances; `warn` logs a warning (the 409s a retry cures)."""

    status: int | None
    type: str
    code: str
    message: str | Callable[[Any], str]
    headers: Callable[[Any], dict[str, str]] | None = None
    when: Callable[[Any], bool] | None = None
    warn: str = ""


def _detail(exc: exceptions.APIException) -> str:
    return str(exc.detail)


def _too_big(exc: Exception) -> str:
    return f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."


def _not_found(exc: Exception) -> str:
    return str(exc) if isinstance(exc, Http404) and str(exc) else "No such resource."


def _retry_after(exc: exceptions.Throttled) -> dict[str, str]:
    return {"Retry-After": str(max(1, int(exc.wait)))} if exc.wait is not None else {}


def _lock_clash(exc: Exception) -> bool:
    return any(s in str(exc).lower() for s in RETRYABLE_DB_ERRORS)


def connection_lost(exc: BaseException | None) -> bool:
    """The database connection is gone (an InterfaceError is always about the connection itself)."""
    if isinstance(exc, InterfaceError):
        return True
    return isinstance(exc, OperationalError) and any(s in str(exc).lower() for s in CONNECTION_LOST)


# Exception class → how it answers. The first row the exception is an instance of wins, so a subclass comes
# before its base (PreconditionFailed before APIException, ProtectedError before IntegrityError before
# DatabaseError). DomainError and the two ValidationErrors carry their own fields (see `_carried`); anything
# else is a 500.
ERROR_RULES: dict[type[Exception] | tuple[type[Exception], ...], ErrorRule] = {
    RequestDataTooBig: ErrorRule(413, INVALID, "request_too_large", _too_big),
    exceptions.ParseError: ErrorRule(
        400, INVALID, "validation_error", lambda exc: f"Malformed request body: {exc.detail}"
    ),
    exceptions.UnsupportedMediaType: ErrorRule(
        415,
        INVALID,
        "unsupported_media_type",
        lambda exc: f"{exc.detail} Send JSON with 'Content-Type: application/json'.",
    ),
    exceptions.NotAuthenticated: ErrorRule(
        401,
        "authentication_error",
        "missing_api_key",
        "No API key: send 'Authorization: Token <key>' or 'Authorization: Bearer <key>'.",
        headers=lambda exc: AUTH_CHALLENGE,
    ),
    exceptions.AuthenticationFailed: ErrorRule(
        401, "authentication_error", "invalid_api_key", _detail, headers=lambda exc: AUTH_CHALLENGE
    ),
    exceptions.PermissionDenied: ErrorRule(403, "permission_error", "insufficient_permissions", _detail),
    (Http404, exceptions.NotFound): ErrorRule(404, "not_found_error", "resource_not_found", _not_found),
    exceptions.MethodNotAllowed: ErrorRule(405, INVALID, "method_not_allowed", _detail),
    exceptions.Throttled: ErrorRule(
        429, "rate_limit_error", "rate_limited", "Too many requests; slow down.", headers=_retry_after
    ),
    PreconditionFailed: ErrorRule(412, INVALID, "precondition_failed", _detail),
    exceptions.APIException: ErrorRule(None, INVALID, "validation_error", _detail),
    ConcurrentTransition: ErrorRule(*CONFLICT, "The document changed while this request ran; retry it."),
    TransitionNotAllowed: ErrorRule(422, INVALID, "invalid_state_transition", str),
    # A delete that a service did not check first: still refused for good, so not a retryable 409.
    (ProtectedError, RestrictedError): ErrorRule(
        422, INVALID, "resource_in_use", "This record is referenced by other records and cannot be deleted."
    ),
    # The database went away (restarted, failed over, the connection killed): retryable, never a 500.
    (InterfaceError, OperationalError): ErrorRule(
        503,
        "api_error",
        "service_unavailable",
        "The database is unavailable; retry the request.",
        headers=lambda exc: LOST_RETRY_AFTER,
        when=connection_lost,
        warn="database connection lost, answered as 503: %s",
    ),
    # A unique or check constraint caught what validation could not see: a concurrent write won.
    IntegrityError: ErrorRule(
        *CONFLICT,
        "A concurrent change conflicted with this request; retry it.",
        warn="integrity error answered as 409: %s",
    ),
    DatabaseError: ErrorRule(
        *CONFLICT,
        "The data was locked by a concurrent request; retry it.",
        when=_lock_clash,
        warn="lock clash answered as 409: %s",
    ),
}


def _carried(exc: Exception) -> tuple[int, str, str, str, Any, str | None] | None:
    """(status, type, code, message, errors, detail) for the exceptions that carry per-field errors (or, for
    DomainError, everything); None for the others."""
    if isinstance(exc, DomainError):
        return exc.status, exc.type, exc.code, exc.message, exc.errors, exc.detail
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail})
        found = _codes(exc.get_codes())
        code = next((c for c in ("read_only_field", "unknown_field") if c in found), "validation_error")
        return 400, INVALID, code, _first_message(errors), errors, None
    if isinstance(exc, DjangoValidationError):
        errors = _flatten(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
        return 400, INVALID, "validation_error", _first_message(errors), errors, None
    return None


def _rule_for(exc: Exception) -> ErrorRule | None:
    for classes, rule in ERROR_RULES.items():
        if isinstance(exc, classes) and (rule.when is None or rule.when(exc)):
            return rule
    return None


@answers_lost_races  # a lost race on a case-insensitive unique identifier answers as the service's check
def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Map every exception a view can raise onto the contract's error shape. Nothing here is HTML."""
    request = context.get("request")
    path = request.path if request is not None else ""
    headers: dict[str, str] = {}

    carried = _carried(exc)
    if carried is not None:
        status_code, type_, code, message, errors, detail = carried
    elif (rule := _rule_for(exc)) is not None:
        if rule.warn:
            logger.warning(rule.warn, exc)
        status_code = exc.status_code if rule.status is None else rule.status
        type_, code, errors, detail = rule.type, rule.code, {}, None
        message = rule.message(exc) if callable(rule.message) else rule.message
        headers = dict(rule.headers(exc)) if rule.headers else {}
    else:
        logger.exception("unhandled error on %s", path)
        status_code, type_, code, errors, detail = 500, "api_error", "internal_error", {}, None
        message = f"Internal error. Quote request id {current_request_id()} when reporting it."

    set_rollback()
    body = error_body(
        status_code=status_code,
        type=type_,
        code=code,
        message=message,
        path=path,
        detail=detail,
        errors=errors,
    )
    return Response(body, status=status_code, headers=headers)


def is_api_path(path: str) -> bool:
    """The API is served at /v1, and at the root and under /api/ as aliases: all but the admin and static."""
    return not path.startswith(("/admin/", "/static/"))


def bad_request(request, exception):
    """handler400: Django refused the request before any view ran (an oversized body, a bad Host, ...).
    Under /v1 and /api in the error shape; elsewhere Django's own page."""
    if not is_api_path(request.path):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        message = f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        return error_json_response(request, 413, "invalid_request_error", "request_too_large", message)
    return error_json_response(request, 400, "invalid_request_error", "bad_request", "The request was refused.")


def server_error(request):
    """handler500: an error outside any view (a middleware). Under /v1 and /api in the error shape."""
    if not is_api_path(request.path):
        return defaults.server_error(request)
    if connection_lost(sys.exc_info()[1]):  # Django calls this handler while handling the exception
        message = "The database is unavailable; retry the request."
        response = error_json_response(request, 503, "api_error", "service_unavailable", message)
        response.headers.update(LOST_RETRY_AFTER)
        return response
    message = f"Internal error. Quote request id {current_request_id()} when reporting it."
    return error_json_response(request, 500, "api_error", "internal_error", message)


@csrf_exempt
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Unknown routes under /v1: the error shape, never Django's HTML page (nor its CSRF page for a write:
    the API's own views are exempt as DRF's are, and a route that does not exist changes nothing)."""
    return error_json_response(
        request, 404, "not_found_error", "resource_not_found", f"No route {request.method} {request.path}."
    )


# --------------------------------------------------------------------------------------------------------
# Serializers
# --------------------------------------------------------------------------------------------------------


class MoneyField(serializers.DecimalField):
    """Money in and out as a decimal string with two places; inputs rounded half-up to the cent."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("rounding", ROUND_HALF_UP)
        kwargs.setdefault("min_value", Decimal("0"))  # no amount of this API is negative
        super().__init__(**kwargs)

    def validate_precision(self, value: Decimal) -> Decimal:
        try:
            rounded = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            # More digits than the decimal context holds (`1e30`): far beyond max_digits, a 400 like any other.
            self.fail("max_digits", max_digits=self.max_digits)
        return super().validate_precision(rounded)


def schema_by_direction(*, request: dict, response: dict):
    """A field whose OpenAPI schema differs by direction: an input that takes several forms (an id or a code,
    an id or an inline object) and an output that is always one (the id). Read by
    `stateset.schema.ResourceAutoSchema`; `nullable`, `readOnly` and the help text are added from the field
    as usual. Use it on the class, or set `schema_by_direction` on an instance whose output depends on its
    arguments."""

    def decorate(cls):
        cls.schema_by_direction = {"request": request, "response": response}
        return cls

    return decorate


@extend_schema_field(OpenApiTypes.STR)
class ConstantField(serializers.Field):
    """The `object` key: the resource's type name."""

    def __init__(self, value: str, **kwargs):
        self.value = value
        kwargs["read_only"] = True
        kwargs["source"] = "*"
        super().__init__(**kwargs)

    def to_representation(self, _):
        return self.value


class StrictInputMixin:
    """Refuse keys the serializer does not write: 400 naming each one (`unknown_field` / `read_only_field`),
    and an integer (or primary key) that is neither a JSON integer nor a string of ASCII digits, and a list
    longer than MAX_LINES.

    `Meta.accepted_keys` lists keys tolerated and ignored (identity echoes such as `order_id`, checked by the
    view against the path).
    """

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": ["Expected a JSON object."]}, code="validation_error"
            )
        fields = self.fields
        # The key sets depend only on the fields, which an instance keeps (ResourceViewSet reuses one instance
        # per thread, and a list's child is one instance for every entry): computed once per instance.
        names = self.__dict__.get("_strict_names")
        if names is None or names[0] is not fields:
            names = self._strict_names = (
                fields,
                {f.field_name for f in fields.values() if not f.read_only},
                {f.field_name for f in fields.values() if f.read_only},
                set(getattr(getattr(self, "Meta", None), "accepted_keys", ())),
            )
        _, writable, read_only, accepted = names
        errors: dict[str, list[serializers.ErrorDetail]] = {}
        for key in data:
            if has_null_character(data[key]):
                # PostgreSQL stores no NUL in text or jsonb; DRF's CharField refuses it, other fields did not.
                errors[key] = [serializers.ErrorDetail(NULL_CHARACTER_MESSAGE, code="null_characters_not_allowed")]
                continue
            if key in fields and is_too_long(fields[key], data[key]):
                errors[key] = [serializers.ErrorDetail(TOO_MANY_LINES_MESSAGE, code="max_length")]
                continue
            if key in fields and is_loose_integer(fields[key], data[key]):
                errors[key] = [serializers.ErrorDetail(LOOSE_INTEGER_MESSAGE, code="invalid")]
                continue
            if key in writable or key in accepted:
                continue
            if key in read_only or key in SERVER_OWNED:
                errors[key] = [serializers.ErrorDetail(self.read_only_message(key), code="read_only_field")]
            else:
                errors[key] = [serializers.ErrorDetail(f"Unknown field '{key}'.", code="unknown_field")]
        if errors:
            raise serializers.ValidationError(errors)
        value = super().to_internal_value(data)
        ancient = [name for name, v in value.items() if isinstance(v, date) and v.year < MIN_YEAR]
        if ancient:  # each nested serializer checks its own fields the same way
            named = {f.source: f.field_name for f in fields.values() if not f.read_only}
            raise serializers.ValidationError(
                {named.get(n, n): [serializers.ErrorDetail(ANCIENT_DATE_MESSAGE, code="invalid")] for n in ancient}
            )
        return value

    def read_only_message(self, key: str) -> str:
        if key == "status":
            view = self.context.get("view")
            actions = ", ".join(getattr(view, "action_names", lambda: [])()) if view else ""
            hint = f" (POST /v1/<resource>/<id>/<action>; this resource's actions: {actions})" if actions else ""
            return f"'status' is owned by the server; change it by calling an action{hint}."
        return f"'{key}' is owned by the server and cannot be written."


SERVER_OWNED = {"id", "object", "created_at", "updated_at", "status"}
# Dates are written with four-digit years ("%Y-%m-%d"), which strftime does not pad below the year 1000: no
# operations record is that old, so such a date is refused on the way in rather than answered malformed.
MIN_YEAR = 1000
ANCIENT_DATE_MESSAGE = f"Dates before the year {MIN_YEAR} are not accepted."
TOO_MANY_LINES_MESSAGE = f"At most {MAX_LINES} entries per request."


def is_too_long(field: serializers.Field, value: Any) -> bool:
    """A list of an input (a document's lines, an action's lines, ids, tags) longer than MAX_LINES: refused
    before any entry is validated, so a huge body costs nothing."""
    return (
        isinstance(field, serializers.ListSerializer | serializers.ListField)
        and not field.read_only
        and isinstance(value, list)
        and len(value) > MAX_LINES
    )


LOOSE_INTEGER_MESSAGE = "A whole number is required: a JSON integer or a string of the digits 0-9."
ASCII_INTEGER = re.compile(r"-?[0-9]+")


def is_loose_integer(field: serializers.Field, value: Any) -> bool:
    """A value an integer field (or a primary key, or a list of either) of an input would take only by loose
    parsing: DRF's IntegerField reads `1.0`, `1e2` (100.0), `"1.0"` and any Unicode digit (`int("１") == 1`).
    Integers are JSON integers, or strings of ASCII digits where a string is allowed."""
    if field.read_only or value is None:
        return False
    if isinstance(field, serializers.ListField | serializers.ManyRelatedField) and isinstance(value, list):
        child = field.child if isinstance(field, serializers.ListField) else field.child_relation
        return any(is_loose_integer(child, v) for v in value)
    if not isinstance(field, serializers.IntegerField | serializers.PrimaryKeyRelatedField):
        return False
    if isinstance(value, str):
        return ASCII_INTEGER.fullmatch(value) is None
    return isinstance(value, bool) or not isinstance(value, int)


NULL_CHARACTER_MESSAGE = "Null characters are not allowed."


def has_null_character(value: Any) -> bool:
    """A NUL anywhere in a JSON value, keys of objects included (walked with a stack: no depth limit)."""
    stack = [value]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, Mapping):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


class InputSerializer(StrictInputMixin, serializers.Serializer):
    """Base for action inputs: strict, and MoneyField for money."""


class ResourceSerializer(StrictInputMixin, serializers.ModelSerializer):
    """Base for every resource's one output serializer (also its create/update input)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: MoneyField,
    }

    def get_fields(self):
        """ModelSerializer rebuilds every field from the model at each instantiation (about 2 ms for an order,
        several times a request). The fields depend only on the class, so they are built once per class and
        each instance gets its own deep copy."""
        cls = type(self)
        prototype = cls.__dict__.get("_field_prototype")
        if prototype is None:
            prototype = super().get_fields()
            cls._field_prototype = prototype
        return copy.deepcopy(prototype)

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if field_class is MoneyField:
            kwargs.pop("decimal_places", None)
            kwargs.pop("max_digits", None)
            kwargs["decimal_places"] = model_field.decimal_places
            kwargs["max_digits"] = model_field.max_digits
        return field_class, kwargs


# --------------------------------------------------------------------------------------------------------
# Lists
# --------------------------------------------------------------------------------------------------------


@dataclass
class ListParams:
    limit: int
    offset: int
    order_by: str
    descending: bool
    params: Any  # a QueryDict: the query string, completed by a JSON body sent on GET
    starting_after: int | None = None  # cursor paging (stateset.pagination)
    ending_before: int | None = None

    def page(self, queryset: models.QuerySet, *, settle_field: str | None = "created_at") -> Page:
        return paginate(
            queryset,
            order_by=self.order_by,
            descending=self.descending,
            limit=self.limit,
            offset=self.offset,
            starting_after=self.starting_after,
            ending_before=self.ending_before,
            settle_field=settle_field,
        )

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


def has_body(request) -> bool:
    return bool(request._request.body.strip())


def _param_text(value: Any) -> str:
    """A JSON body value as the query string would carry it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_param_text(v) for v in value)
    return str(value)


def _int_param(raw: Any, name: str, *, minimum: int, maximum: int | None = None) -> int:
    try:
        value = int(str(raw))
    except (TypeError, ValueError):
        raise exceptions.ValidationError({name: [f"'{name}' must be an integer."]})
    if value < minimum:
        raise exceptions.ValidationError({name: [f"'{name}' must be at least {minimum}."]})
    if maximum is not None and value > maximum:
        raise exceptions.ValidationError({name: [f"'{name}' must be at most {maximum}."]})
    return value


def list_params(request, *, ordering_fields: tuple[str, ...], default_order: str = "created_at") -> ListParams:
    """Parameters from the query string; a JSON body on GET fills in any the query string lacks (§1.3)."""
    params = request.query_params.copy()
    body = request.data if request.method == "GET" and has_body(request) else {}
    if body:
        if not isinstance(body, Mapping):
            raise exceptions.ValidationError({"non_field_errors": ["A list request body must be a JSON object."]})
        for key, value in body.items():
            if key not in params and value is not None:
                params[key] = _param_text(value)

    for key, values in params.lists():
        if any("\x00" in value for value in values):
            raise exceptions.ValidationError({key: [NULL_CHARACTER_MESSAGE]})

    limit = min(_int_param(params.get("limit", DEFAULT_LIMIT), "limit", minimum=1), MAX_LIMIT)
    # Above MAX_OFFSET a 400 that points to the cursor (`check_offset` below), so no offset reaches SQL's BIGINT.
    offset = _int_param(params.get("offset", 0), "offset", minimum=0)
    direction = str(params.get("order_direction") or params.get("sort_order") or "desc").lower()
    if direction not in ("asc", "desc"):
        raise exceptions.ValidationError({"order_direction": ["'order_direction' must be 'asc' or 'desc'."]})
    order_by = str(params.get("order_by") or params.get("sort_by") or default_order)
    if order_by not in ordering_fields:
        raise exceptions.ValidationError({"order_by": [f"'order_by' must be one of: {', '.join(ordering_fields)}."]})
    cursors = {
        name: _int_param(params[name], name, minimum=1, maximum=MAX_ID)
        for name in ("starting_after", "ending_before")
        if params.get(name) not in (None, "")
    }
    if len(cursors) > 1 or (cursors and offset):
        raise exceptions.ValidationError(
            {next(iter(cursors)): ["Send one of 'starting_after', 'ending_before' and 'offset', not several."]}
        )
    check_offset(offset)
    return ListParams(
        limit=limit, offset=offset, order_by=order_by, descending=direction == "desc", params=params, **cursors
    )


def search_filter(queryset: models.QuerySet, fields: tuple[str, ...], text: str) -> models.QuerySet:
    """Every word must appear in at least one of the fields (case-insensitive); a word that is an address
    (an `@` after its first character) matches an email field from its start (`ann@exam` finds
    ann@example.org, not joann@example.org), and still anywhere in the other fields.

    A word's rows are `pk IN (SELECT ... UNION SELECT ...)`, one arm per table the fields live on (the row's
    own columns; its customer's; its lines'), each arm an OR of `UPPER(col) LIKE UPPER('%word%')` on that one
    table. On PostgreSQL each arm is served by the table's trigram index (a BitmapOr), where one OR across
    joined tables could only scan; and a row matched through several lines comes once. An address's email
    arm is `LIKE 'WORD%'`, served by a btree on `UPPER(email)`: every address shares the trigrams of its
    domain, so the trigram index reads a posting list of nearly every row for it (docs/reads.md)."""
    groups: dict[str, list[str]] = {}
    for field in fields:
        groups.setdefault(field.rpartition("__")[0], []).append(field)
    manager = queryset.model._base_manager
    for term in text.split():
        address = "@" in term[1:]
        arms = []
        for group in groups.values():
            q = Q()
            for field in group:
                lookup = "istartswith" if address and field.rpartition("__")[2].endswith("email") else "icontains"
                q |= Q(**{f"{field}__{lookup}": term})
            arms.append(manager.filter(q).order_by().values("pk"))
        queryset = queryset.filter(pk__in=arms[0].union(*arms[1:]) if len(arms) > 1 else arms[0])
    return queryset


# --------------------------------------------------------------------------------------------------------
# Viewsets
# --------------------------------------------------------------------------------------------------------


class ResourceViewSet(viewsets.GenericViewSet):
    """The base of every resource. Subclasses set:

    singular / plural      envelope keys (`customer` / `customers`); `object_type` defaults to `singular`
    serializer_class       the one output serializer (also the create/update input unless overridden)
    filterset_class        django-filter FilterSet for the list
    search_fields          fields searched by `?search=` and `/search?query=`
    ordering_fields        values allowed for `order_by`
    service_param          the keyword the services take the object by (defaults to `singular`)
    create_service / update_service / delete_service   the services behind POST / PUT+PATCH / DELETE
    """

    singular: str = ""
    plural: str = ""
    object_type: str = ""
    service_param: str = ""
    filterset_class = None
    search_fields: tuple[str, ...] = ()
    ordering_fields: tuple[str, ...] = ("created_at", "updated_at", "id")
    default_order = "created_at"
    lookup_value_regex = r"[0-9]+"  # not \d: it matches any Unicode digit, and int("１") == 1
    identity_keys: tuple[str, ...] = ()
    create_serializer_class = None
    update_serializer_class = None
    # `get_queryset` does not depend on the request: an action's object is read by a compiled statement.
    compiled_lookup = True
    create_service: Callable[..., Any] | None = None
    update_service: Callable[..., Any] | None = None
    delete_service: Callable[..., Any] | None = None

    # ---- helpers --------------------------------------------------------------------------------------

    @property
    def actor(self) -> Actor:
        return Actor.from_request(self.request)

    @classmethod
    def get_object_type(cls) -> str:
        return cls.object_type or cls.singular

    @classmethod
    def action_names(cls) -> list[str]:
        return sorted({fn.resource_action["name"] for _, fn in vars_all(cls) if getattr(fn, "resource_action", None)})

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["object_type"] = self.get_object_type()
        return context

    def present(self, obj: models.Model) -> dict[str, Any]:
        """One object in its output shape. An object a service marked `as_written` (stateset.prefetch) is
        rendered from memory, with one query for each related set of the list queryset it does not hold yet;
        any other is re-read through the list queryset (its select/prefetch)."""
        return self.rendered(obj)[0]

    def rendered(self, obj: models.Model) -> tuple[dict[str, Any], str]:
        """`present(obj)` and the ETag of the version rendered (the `ETag` header a write answers with)."""
        queryset = self.base_queryset()
        if is_as_written(obj) and _holds_related(obj, queryset):
            prefetch_related_objects([obj], *queryset._prefetch_related_lookups)
        else:
            obj = queryset.get(pk=obj.pk)
        return self.render(obj), etag_for(obj)

    def validate_input(self, serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
        """`data` validated by `serializer_class` (a 400 otherwise), through this thread's one instance of it,
        as `render` does: its fields are built once. Only the data, the context and the results change
        between uses. For inputs without an instance (creates and actions); an update binds its instance."""
        inputs = _renderers.__dict__.setdefault("inputs", {})
        serializer = inputs.get(serializer_class)
        if serializer is None:
            serializer = inputs[serializer_class] = serializer_class(data={}, context={})
        serializer.initial_data = data
        serializer._context = self.get_serializer_context()
        try:
            serializer.is_valid(raise_exception=True)
            return dict(serializer.validated_data)
        finally:
            for name in ("_validated_data", "_errors", "_data"):
                serializer.__dict__.pop(name, None)
            serializer.initial_data, serializer._context = {}, {}

    def render(self, instance: Any, *, many: bool = False) -> Any:
        """`instance` (or a list, `many`) in the output shape, through this thread's one instance of the
        serializer class: its fields are built and bound once, not copied field by field for every response
        (DRF copies each declared field on every instantiation: milliseconds for an order). Only the context
        and the instance change between uses; every field reads its context from the root."""
        if not many:  # one object (a write's answer, an event): the serializer's compiled plan (stateset.lean)
            from stateset import lean

            serializer = self._single_serializer()
            if lean.compiles(serializer):
                serializer._context = self.get_serializer_context()
                try:
                    return lean.render(serializer, instance, many=False)
                finally:
                    serializer._context = {}
        serializers_ = _renderers.__dict__.setdefault("serializers", {})
        key = (self.get_serializer_class(), many)
        serializer = serializers_.get(key)
        if serializer is None:
            serializer = serializers_[key] = key[0](many=many, context={})
        serializer._context = self.get_serializer_context()
        serializer.instance = instance
        serializer.__dict__.pop("_data", None)
        try:
            return serializer.data
        finally:
            serializer.instance, serializer._context = None, {}

    def lean(self, queryset: models.QuerySet, *, rows: bool = False) -> Any:
        """The lean read path for `queryset` (stateset.lean): a `Prepared` whose `queryset` leaves out the
        related sets it fetches itself (and, with `rows`, reads `.values()` rows when the serializer allows),
        or None when the serializer does not compile (then `render`)."""
        from stateset import lean

        serializer = self._single_serializer()
        found = lean.lean_for(serializer, queryset, dicts=rows)
        return found.prepare(queryset) if found is not None else None

    def render_lean(self, prepared: Any, rows: list[models.Model]) -> list[dict[str, Any]]:
        """`rows` in the output shape through `prepared` (from `lean`): what `render(rows, many=True)` answers."""
        serializer = self._single_serializer()
        serializer._context = self.get_serializer_context()
        try:
            return prepared.render(rows)
        finally:
            serializer._context = {}

    def _single_serializer(self) -> serializers.Serializer:
        serializers_ = _renderers.__dict__.setdefault("serializers", {})
        key = (self.get_serializer_class(), False)
        serializer = serializers_.get(key)
        if serializer is None:
            serializer = serializers_[key] = key[0](context={})
        return serializer

    def unwrap(self, data: Any, obj: models.Model | None = None) -> Any:
        """Accept `{"customer": {...}}` or `{"return_id": 7, "return": {...}}` as well as the flat form."""
        if isinstance(data, Mapping) and isinstance(data.get(self.singular), Mapping):
            outer = {k: v for k, v in data.items() if k != self.singular}
            self.check_identity(outer, obj, strict=True)
            return dict(data[self.singular])
        return data

    def identity_names(self) -> tuple[str, ...]:
        return ("id", f"{self.singular}_id", *self.identity_keys)

    def check_identity(self, data: Mapping[str, Any], obj: models.Model | None, *, strict: bool = False) -> None:
        """An action or update body may repeat the path's id (`{"order_id": 42}`); a different one is a 400."""
        for key in list(data):
            if key not in self.identity_names():
                if strict:
                    raise exceptions.ValidationError({key: [f"Unknown field '{key}'."]}, code="unknown_field")
                continue
            if obj is None:
                continue
            attr = "pk" if key in ("id", f"{self.singular}_id") else key
            if str(data[key]) != str(getattr(obj, attr)):
                raise exceptions.ValidationError(
                    {key: [f"'{key}' is {data[key]} but the path names {getattr(obj, attr)}."]}
                )

    def get_object(self, *, light: bool = False, prepare: Callable[[models.QuerySet], models.QuerySet] | None = None):
        """The object of the path. `light` loads the row alone (its joins, none of its prefetched sets): for an
        action, whose service locks and re-reads the row, and whose answer is rendered afterwards. `prepare`
        turns the queryset into the one to load it from (the lean retrieve's, stateset.lean)."""
        if (self.lookup_url_kwarg or self.lookup_field) not in self.kwargs:
            # A list route asked for an object: OPTIONS describes PUT by loading one, and `/v1/orders/merge`
            # takes PUT (as every action does) without an id. DRF's metadata skips PUT on this error.
            raise exceptions.NotFound()
        try:
            if light or prepare is not None:
                lookup = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
                if light:
                    obj = self._light_object(lookup)
                else:
                    queryset = prepare(self.filter_queryset(self.get_queryset()))
                    obj = get_object_or_404(queryset, **{self.lookup_field: lookup})
                self.check_object_permissions(self.request, obj)
            else:
                obj = super().get_object()
        except Http404:
            pk = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
            raise NotFound(f"{self.get_object_type().replace('_', ' ').capitalize()} {pk} does not exist.")
        return obj

    def base_queryset(self) -> models.QuerySet:
        """`get_queryset()`, built once per class when it does not depend on the request (`compiled_lookup`):
        for reading its model, joins and prefetches, and cloning (never evaluated itself)."""
        if not self.compiled_lookup:
            return self.get_queryset()
        cls = type(self)
        queryset = cls.__dict__.get("_base_queryset")
        if queryset is None:
            queryset = cls._base_queryset = self.get_queryset()
        return queryset

    def _light_queryset(self) -> models.QuerySet:
        return self.filter_queryset(self.get_queryset()).prefetch_related(None)

    def _light_object(self, lookup: Any) -> models.Model:
        """The row of `get_object(light=True)`. By id, the statement is compiled once per viewset class
        (stateset.compiled: the list queryset's joins make it long); the viewset's queryset must then not depend
        on the request, which `compiled_lookup = False` declares."""
        text = str(lookup)
        if self.compiled_lookup and self.lookup_field == "pk" and text.isascii() and text.isdigit():
            pk = int(text)
            if 0 < pk <= MAX_ID:
                cls = type(self)
                compiled = cls.__dict__.get("_light_compiled")
                if compiled is None:
                    compiled = cls._light_compiled = Compiled(lambda pk: cls()._light_queryset().filter(pk=pk))
                found = compiled(pk)
                if not found:
                    raise Http404
                return found[0]
        return get_object_or_404(self._light_queryset(), **{self.lookup_field: lookup})

    def if_match(self) -> list[str] | None:
        """The ETags the request's `If-Match` accepts: None without the header or with `*` (any version); an
        empty list for a header that names no well-formed ETag, which no version matches."""
        header = self.request.headers.get("If-Match", "").strip()
        if not header:
            return None
        etags = parse_etags(header)
        return None if "*" in etags else etags

    @contextmanager
    def precondition(self, obj: models.Model | None) -> Iterator[None]:
        """Run the write on `obj` in its block under the request's `If-Match` (contract §1.6, principle 5):
        open the transaction, lock the row (`SELECT ... FOR UPDATE OF` it), compare its ETag there (412 and
        nothing written if it differs), and keep the lock through the write. The service's own lock of the
        row then re-reads it without waiting and its transaction becomes a savepoint of this one, so two
        writes sent with the same ETag cannot both pass. Without If-Match (or with `*`) the block runs as it
        is: no transaction, no lock, no query."""
        expected = self.if_match()
        if expected is None or obj is None:
            yield
            return
        with transaction.atomic():
            if etag_for(lock(type(obj), obj.pk)) not in expected:
                raise PreconditionFailed()
            yield


_renderers = threading.local()


def _holds_related(obj: models.Model, queryset: models.QuerySet) -> bool:
    """Whether every relation the queryset joins (select_related) is already cached on `obj`, or empty."""
    joined = queryset.query.select_related
    return joined is not True and _holds_joins(obj, joined or {})


def _holds_joins(obj: models.Model, joins: Mapping[str, Any]) -> bool:
    for name, deeper in joins.items():
        field = obj._meta.get_field(name)
        if not hasattr(field, "attname"):  # a reverse one-to-one: not known from the row itself
            return False
        if getattr(obj, field.attname) is None:
            continue
        if not field.is_cached(obj) or not _holds_joins(getattr(obj, name), deeper):
            return False
    return True


def etag_for(obj: models.Model) -> str:
    stamp = getattr(obj, "updated_at", None)
    return quote_etag(f"{obj.pk}-{stamp.timestamp() if stamp else 0}")


def vars_all(cls) -> list[tuple[str, Any]]:
    seen: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        seen.update(vars(klass))
    return list(seen.items())


class ListMixin:
    def list(self, request, *args, **kwargs):
        params = list_params(request, ordering_fields=self.ordering_fields, default_order=self.default_order)
        queryset = self.filtered_queryset(params)
        prepared = self.lean(queryset, rows=True)
        page = params.page(prepared.queryset if prepared is not None else queryset)
        data = self.render_lean(prepared, page.rows) if prepared is not None else self.render(page.rows, many=True)
        return Response(page.envelope(self.plural, data, limit=params.limit, offset=params.offset))

    def filtered_queryset(self, params: ListParams) -> models.QuerySet:
        queryset = self.get_queryset()
        if self.filterset_class is not None:
            filterset = self.filterset_class(data=params.params, queryset=queryset, request=self.request)
            if not filterset.is_valid():
                raise exceptions.ValidationError(_flatten(filterset.errors))
            queryset = filterset.qs
        text = params.get("search") or params.get("query")
        if text and self.search_fields:
            queryset = search_filter(queryset, self.search_fields, str(text))
        return queryset


class SearchMixin:
    @action(detail=False, methods=["get"], url_path="search")
    def search(self, request, *args, **kwargs):
        """`GET /v1/{resource}/search?query=...`: the list, narrowed by the words of `query`."""
        return self.list(request, *args, **kwargs)


class RetrieveMixin:
    def retrieve(self, request, *args, **kwargs):
        prepared = None

        def prepare(queryset: models.QuerySet) -> models.QuerySet:
            nonlocal prepared
            prepared = self.lean(queryset)
            return prepared.queryset if prepared is not None else queryset

        obj = self.get_object(prepare=prepare)  # loaded once, with the list queryset's joins and related sets
        data = self.render_lean(prepared, [obj])[0] if prepared is not None else self.render(obj)
        body = {self.singular: data}
        return Response(body, headers={"ETag": etag_for(obj)})


class CreateMixin:
    def create(self, request, *args, **kwargs):
        data = self.unwrap(request.data)
        validated = self.validate_input(self.create_serializer_class or self.get_serializer_class(), data)
        obj = type(self).create_service(by=self.actor, **validated)
        data, etag = self.rendered(obj)
        # The canonical URL, whichever alias served the create (`POST /v1/return_line_items/create`).
        location = request.build_absolute_uri(reverse(f"{self.singular}-detail", kwargs={"pk": obj.pk}))
        return Response(
            {self.singular: data}, status=status.HTTP_201_CREATED, headers={"Location": location, "ETag": etag}
        )


class UpdateMixin:
    def update(self, request, *args, **kwargs):
        obj = self.get_object()
        data = self.unwrap(request.data, obj)
        serializer = (self.update_serializer_class or self.get_serializer_class())(
            obj, data=data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        param = self.service_param or self.singular
        with self.precondition(obj):
            obj = type(self).update_service(**{param: obj}, by=self.actor, **serializer.validated_data)
        data, etag = self.rendered(obj)
        return Response({self.singular: data}, headers={"ETag": etag})

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)


class DestroyMixin:
    def destroy(self, request, *args, **kwargs):
        obj = self.get_object()
        pk = obj.pk
        param = self.service_param or self.singular
        with self.precondition(obj):
            type(self).delete_service(**{param: obj}, by=self.actor)
        return Response({"id": pk, "object": self.get_object_type(), "deleted": True})


class HistoryMixin:
    @action(detail=True, methods=["get"], url_path="history")
    def history(self, request, *args, **kwargs):
        """Every transition and action on this document: who, when, from, to, which, why (§1.8)."""
        obj = self.get_object()
        params = list_params(request, ordering_fields=("timestamp",), default_order="timestamp")
        page = params.page(StateLog.objects.for_(obj).select_related("by"), settle_field="timestamp")
        data = HistorySerializer(page.rows, many=True).data
        return Response(page.envelope("history", data, limit=params.limit, offset=params.offset))


class HistorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    object = serializers.SerializerMethodField()
    transition = serializers.CharField()
    source_state = serializers.CharField(allow_null=True)
    state = serializers.CharField()
    by = serializers.SerializerMethodField()
    description = serializers.CharField(allow_null=True)
    timestamp = serializers.DateTimeField()

    def get_object(self, _) -> str:
        return "transition"

    def get_by(self, log) -> str | None:
        return log.by.get_username() if log.by else None


class CrudViewSet(ListMixin, SearchMixin, RetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ResourceViewSet):
    """Every standard route of §1.1."""


class DocumentViewSet(HistoryMixin, CrudViewSet):
    """A stateful document: the standard routes plus `/history`."""


# --------------------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------------------


def resource_action(
    name: str,
    *,
    done: str,
    service: Callable[..., Any],
    input: type[serializers.Serializer] | None = None,
    detail: bool = True,
    present: Callable[[ResourceViewSet, Any], dict[str, Any]] | None = None,
    methods: tuple[str, ...] = ("post", "put"),
    description: str = "",
    url_path: str | None = None,
):
    """An action endpoint in one line: `POST /v1/{resource}/{id}/{name}` (and PUT), answering the ack

        {"id": 42, "object": "order", "<done>": true, "success": true, "<singular>": {...}}

    `service` is called as `service(<service_param>=obj, by=actor, **validated_input)` and returns the object
    (or, with `present`, whatever `present(view, result)` turns into extra keys of the ack).
    For `detail=False` the service gets no object. `url_path` serves the action under another path than its
    attribute name (`return_` at `.../return`; a detail and a list action both at `.../merge`).
    """
    from drf_spectacular.utils import extend_schema

    def handler(self, request, *args, **kwargs):
        obj = self.get_object(light=True) if detail else None
        raw = request.data if has_body(request) else {}
        if raw is None or (isinstance(raw, Mapping) and not raw):
            raw = {}
        if isinstance(raw, Mapping):
            raw = dict(raw)
            identity = {k: raw.pop(k) for k in list(raw) if k in self.identity_names()}
            self.check_identity(identity, obj)
        kwargs_ = self.validate_input(input or EmptyInput, raw)
        if detail:
            kwargs_[self.service_param or self.singular] = obj
        with self.precondition(obj):
            result = service(by=self.actor, **kwargs_)
        # The ack shows the document the action is about: the returned object when it is one of this
        # resource's (a merge answers its target), else the object of the path (an adjust returns a ledger row).
        model = self.base_queryset().model
        subject = result if isinstance(result, model) else obj
        body: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if subject is not None:
            body = {"id": subject.pk, "object": self.get_object_type()}
        body.update({done: True, "success": True})
        if subject is not None:
            body[self.singular], etag = self.rendered(subject)
            if obj is not None and subject.pk == obj.pk:
                headers["ETag"] = etag  # the new version of the path's object (not a split's new order)
        if present is not None:
            body.update(present(self, result))
        return Response(body, headers=headers)

    handler.__name__ = name
    handler.__doc__ = description or f"{name.replace('_', ' ').capitalize()} (ack `{done}`)."
    handler.resource_action = {"name": url_path or name, "done": done, "input": input}
    handler = action(detail=detail, methods=list(methods), url_path=url_path or name)(handler)
    # The request body's schema is the input serializer: stateset.schema.ResourceAutoSchema reads it from
    # `handler.resource_action`.
    return extend_schema(summary=handler.__doc__.split("\n")[0])(handler)


class EmptyInput(InputSerializer):
    """An action that takes no input (an empty body, or no body at all)."""
