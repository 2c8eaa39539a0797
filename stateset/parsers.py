"""The API's JSON parser (DEFAULT_PARSER_CLASSES): its own module, as DRF imports it while importing its views."""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers
from rest_framework.utils import json

MAX_JSON_DEPTH = 32
# A surrogate code point left alone after decoding: JSON's `\ud800` escape without its pair. It is no Unicode
# text, so PostgreSQL cannot store it (a 500 on insert) and the JSON renderer cannot echo it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(value: Any) -> bool:
    """A lone surrogate anywhere in a JSON value, keys of objects included (walked with a stack)."""
    stack = [value]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if LONE_SURROGATE.search(value):
                return True
        elif isinstance(value, Mapping):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


class DuplicateKey(ValueError):
    pass


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object_pairs_hook: an object naming a key twice is refused (json keeps the last one silently, so a
    client's first value would be dropped without a word)."""
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(f"duplicate key '{key}'")
            seen.add(key)
    return obj


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
    """DRF's JSON parser, refusing with a 400 (never a 500) a body nested deeper than MAX_JSON_DEPTH levels (no
    request of this API needs more; the recursive validators and serializers behind it would overflow), and a
    lone surrogate in any string, for every field at once, and an object that names a key twice."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.load(
                codecs.getreader(encoding)(stream),
                parse_constant=json.strict_constant if self.strict else None,
                object_pairs_hook=unique_keys,
            )
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}")
        except RecursionError:
            raise exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        if json_depth(data) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        if has_lone_surrogate(data):
            raise exceptions.ParseError("JSON parse error - a string holds a lone surrogate (\\ud800-\\udfff).")
        return data
