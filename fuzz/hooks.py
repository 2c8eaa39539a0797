"""Schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS=fuzz.hooks by fuzz/run.py).

`json_answer`: every answer of the API is JSON, whatever its status. Schemathesis' own
`content_type_conformance` only looks at statuses the schema documents, so an HTML or text answer with an
undocumented status (a server's own 400/404/500 page) would pass it.
"""

import json

import schemathesis


@schemathesis.check
def json_answer(ctx, response, case):
    content_type = (response.headers.get("content-type") or [""])[0]
    if response.status_code in (204, 304) and not response.content:
        return True
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise AssertionError(f"Not a JSON answer: status {response.status_code}, Content-Type {content_type!r}")
    try:
        json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"The body is not JSON ({exc}): {response.content[:200]!r}") from None
    return True
