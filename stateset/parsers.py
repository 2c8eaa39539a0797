"""The API's JSON parser (DEFAULT_PARSER_CLASSES): its own module, as DRF imports it while importing its views."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import exceptions, parsers

MAX_JSON_DEPTH = 32


def json_depth(value: Any) -> int:
    """How deeply objects and lists nest in a JSON value (a scalar is 0)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, Mapping):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return deepest


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing a body nested deeper than MAX_JSON_DEPTH levels (no request of this API
    needs more; the recursive validators and serializers behind it would overflow): a 400, never a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        if json_depth(data) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        return data
