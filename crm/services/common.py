"""What the CRM services share: the check of the fields a service is given, and the wording of an `update`
history row."""

from __future__ import annotations

from typing import Any


def clean_fields(fields: dict[str, Any], allowed: set[str], kind: str) -> dict[str, Any]:
    """`fields` with a stripped email; a name outside `allowed` is a caller's bug (TypeError), not a 400."""
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"{kind} fields not known: {sorted(unknown)}")
    if fields.get("email"):
        fields["email"] = fields["email"].strip()
    return fields


def changed_note(names: Any) -> str:
    """The reason of an `update` history row, as orders and returns word it: the fields given."""
    return f"changed {', '.join(sorted(names)) or 'nothing'}"
