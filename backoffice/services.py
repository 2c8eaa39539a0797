"""Writes for the back office: the staff roles (groups) made to match the table of `backoffice.roles`."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from backoffice import roles
from stateset.actors import Actor


@dataclass(frozen=True)
class RoleResult:
    name: str
    created: bool
    permissions: int  # how many the group holds now
    added: tuple[str, ...]  # "app_label.codename", granted by this run
    removed: tuple[str, ...]  # taken away by this run (held but not in the table)
    missing: tuple[str, ...]  # in the table, but no such permission (an app whose models have not landed)


def roles_setup(*, by: Actor) -> list[RoleResult]:
    """Make each group of `backoffice.roles` hold exactly its permissions: create the groups that are missing,
    grant what the table gives and take away anything else. Running it again changes nothing. One
    transaction: either every group is set, or none is."""
    results = []
    with transaction.atomic():
        every = {(p.content_type.app_label, p.codename): p for p in Permission.objects.select_related("content_type")}
        for name in roles.ROLE_NAMES:
            wanted = roles.role_permissions(name)
            group, created = Group.objects.select_for_update().get_or_create(name=name)
            held = {(p.content_type.app_label, p.codename) for p in group.permissions.select_related("content_type")}
            found = {pair for pair in wanted if pair in every}
            group.permissions.set([every[pair] for pair in sorted(found)])
            results.append(
                RoleResult(
                    name=name,
                    created=created,
                    permissions=len(found),
                    added=tuple(f"{a}.{c}" for a, c in sorted(found - held)),
                    removed=tuple(f"{a}.{c}" for a, c in sorted(held - found)),
                    missing=tuple(f"{a}.{c}" for a, c in wanted if (a, c) not in every),
                )
            )
    return results
