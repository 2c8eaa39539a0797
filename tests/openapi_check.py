"""Every answer the suite receives from the API is checked against the OpenAPI schema the API serves.

A test-only middleware (outermost, so it sees the final response: idempotent replays, the request id, the
error handler's 500s) validates each /v1 response against the operation the schema documents for its route,
with openapi-core, validating only (no unmarshalling). The validator is built once per test session from
the schema drf-spectacular generates. Mismatches are collected and `tests/conftest.py` fails the test that
received them (the live-server tests included: their requests are served by another thread).

Alias routes (contract §0) are mapped onto the canonical path the schema lists; /v1/schema and /v1/docs are
exempt. A response to a method the schema does not document on a route it does (405, an OPTIONS request) is
checked against the Error component when it is an error; otherwise it is not checked.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cached_property

from werkzeug.datastructures import Headers

EXEMPT = ("/v1/schema", "/v1/docs")
HOST = "http://testserver"

mismatches: list[str] = []  # filled by the middleware, emptied by the conftest fixture around each test
_lock = threading.Lock()


@dataclass
class _Request:
    """The request side openapi-core needs to find the operation: the schema's path, not the served one."""

    path: str
    path_pattern: str
    method: str
    host_url: str = HOST


@dataclass
class _Response:
    data: bytes
    status_code: int
    content_type: str
    headers: Headers


class SchemaChecker:
    """The served schema, its openapi-core validator, and a map from request paths to its paths."""

    def __init__(self, schema: dict):
        from openapi_core import Config, OpenAPI

        self.schema = schema
        # The schema's own validity is test_schema's (`spectacular --validate`); checking it again here would
        # cost two seconds a session.
        self.openapi = OpenAPI.from_dict(schema, config=Config(spec_validator_cls=None))
        self.validator = self.openapi.response_validator  # V30ResponseValidator: validates, does not unmarshal
        templates = []
        for schema_path in schema["paths"]:
            regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(schema_path))
            templates.append((schema_path.count("{"), re.compile(f"^{regex}$"), schema_path))
        # Literal segments win over parameters: /v1/orders/search before /v1/orders/{id}.
        self.templates = sorted(templates, key=lambda t: t[0])
        self.aliases = _alias_rewrites()

    @classmethod
    def from_generator(cls) -> SchemaChecker:
        from drf_spectacular.generators import SchemaGenerator

        return cls(SchemaGenerator().get_schema(request=None, public=True))

    @cached_property
    def error_validator(self):
        from jsonschema_path import SchemaPath
        from openapi_core.validation.schemas import oas30_read_schema_validators_factory

        spec = SchemaPath.from_dict(self.schema)
        return oas30_read_schema_validators_factory.create(spec, spec / "components" / "schemas" / "Error").validator

    def schema_path(self, path: str) -> str | None:
        """The schema's path for a request path (aliases mapped onto their canonical routes), or None."""
        path = path.rstrip("/") or "/"
        for regex, rewrite in self.aliases:
            match = regex.match(path)
            if match:
                path = rewrite(match)
                break
        for _, regex, schema_path in self.templates:
            if regex.match(path):
                return schema_path
        return None

    def errors(self, method: str, path: str, status: int, content_type: str, content: bytes, headers) -> list[str]:
        """What is wrong with this response by the schema (an empty list when it conforms or is exempt)."""
        if not path.startswith(("/v1/", "/api/")) or path.rstrip("/") in EXEMPT:
            return []
        schema_path = self.schema_path(path)
        if schema_path is None:
            return []
        where = f"{method.upper()} {path} -> {status} (schema: {method.lower()} {schema_path})"
        if method.lower() not in self.schema["paths"][schema_path]:
            if status < 400:
                return []
            return self._error_shape_errors(where, content_type, content)
        request = _Request(path=path, path_pattern=schema_path, method=method.lower())
        response = _Response(data=content, status_code=status, content_type=content_type, headers=Headers(headers))
        return [f"{where}: {_describe(e)}" for e in self.validator.iter_errors(request, response)]

    def _error_shape_errors(self, where: str, content_type: str, content: bytes) -> list[str]:
        import json

        if not content_type.startswith("application/json"):
            return [f"{where}: an error answered as {content_type!r}, not the JSON error shape"]
        body = json.loads(content)
        return [
            f"{where}: not the Error shape: {e.message} at {list(e.absolute_path)}"
            for e in self.error_validator.iter_errors(body)
        ]


def _alias_rewrites():
    """(regex on a served alias path, its canonical path) for every alias in stateset.urls."""
    from stateset.urls import PREFIX_ALIASES, ROOT_ALIASES, ROUTE_ALIASES

    def route_regex(route: str) -> re.Pattern[str]:
        segments = ("(?P<id>[^/]+)" if seg.startswith("<") else re.escape(seg) for seg in route.strip("/").split("/"))
        return re.compile("^/" + "/".join(segments) + "$")

    def canonical_route(resource: str, actions: dict[str, str]):
        detail = any(a in ("retrieve", "update", "partial_update", "destroy") for a in actions.values())
        return lambda m: f"/v1/{resource}/{m['id']}" if detail else f"/v1/{resource}"

    rewrites = [
        (route_regex(f"v1/{alias}"), canonical_route(resource, actions)) for alias, resource, actions in ROUTE_ALIASES
    ]
    rewrites += [(route_regex(full), canonical_route(resource, actions)) for full, resource, actions in ROOT_ALIASES]
    for alias, resource in PREFIX_ALIASES.items():
        rewrites.append(
            (re.compile(rf"^/v1/{re.escape(alias)}(?P<rest>/.*)?$"), lambda m, r=resource: f"/v1/{r}{m['rest'] or ''}")
        )
    return rewrites


def _describe(error: Exception) -> str:
    """openapi-core's error, or the JSON Schema errors under it (which field, which rule)."""
    details = getattr(error.__cause__, "schema_errors", None) or []
    if not details:
        return f"{type(error).__name__}: {error}"[:2000]
    return "".join(f"\n    at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in details)


_checker: SchemaChecker | None = None


def checker() -> SchemaChecker:
    """The session's one checker, built on first use."""
    global _checker
    with _lock:
        if _checker is None:
            _checker = SchemaChecker.from_generator()
    return _checker


class SchemaValidationMiddleware:
    """Test-only: validates each /v1 response against the schema; mismatches go to `mismatches`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        path = request.path
        if not path.startswith(("/v1/", "/api/")) or getattr(response, "streaming", False):
            return response
        problems = checker().errors(
            request.method,
            path,
            response.status_code,
            response.get("Content-Type", ""),
            response.content,
            response.headers.items(),
        )
        if problems:
            with _lock:
                mismatches.extend(problems)
        return response
