"""Primary keys as clients write them: `42` or `"42"`, in filters and in fields that take an id or a code."""

from __future__ import annotations

import re
from typing import Any

# The largest primary key a BIGINT holds; SQLite cannot even bind a larger Python int (OverflowError).
MAX_ID = 2**63 - 1
_ID_TEXT = re.compile(r"[0-9]{1,19}")


def as_id(value: Any) -> int | None:
    """The primary key `value` names, or None when it names none: not a whole number, or one out of a
    BIGINT's range, or a text `str.isdigit` takes for digits but `int` refuses (`"²"`)."""
    if isinstance(value, bool):
        return None
    text = str(value).strip() if not isinstance(value, int) else str(value)
    if _ID_TEXT.fullmatch(text) and 0 < int(text) <= MAX_ID:
        return int(text)
    return None
