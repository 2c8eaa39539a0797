"""Writes for API access: keys, stored idempotent responses, and the staff roles (groups)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from stateset.actors import Actor
from stateset.errors import NotFound
from stateset.models import ApiKey, IdempotencyRecord


def api_key_create(*, user, name: str, expires_at: datetime | None = None, by: Actor) -> tuple[ApiKey, str]:
    """Create a key for `user`. Returns the row and the raw key, which is never stored and cannot be shown again."""
    raw, prefix, hashed = ApiKey.new_secret()
    key = ApiKey.objects.create(user=user, name=name, prefix=prefix, hashed_key=hashed, expires_at=expires_at)
    return key, raw


def api_key_create_for_username(*, username: str, name: str, by: Actor) -> tuple[ApiKey, str]:
    try:
        user = get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise NotFound(f"User '{username}' does not exist.")
    return api_key_create(user=user, name=name, by=by)


def api_key_revoke(*, api_key: ApiKey, by: Actor) -> ApiKey:
    """Revoke a key at once; requests with it answer 401 from now on. Revoking twice is harmless."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if not key.revoked:
            key.revoked = True
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked", "revoked_at"])
    return key


def idempotency_purge(*, older_than: timedelta | None = None, by: Actor) -> int:
    """Delete stored responses older than `older_than` (default: the retention, IDEMPOTENCY_TTL_HOURS; 0
    means all of them), and claims whose lease has expired (their worker died mid-request; nothing of theirs
    was committed). A claim in flight under a live lease is kept unless it is older than the retention:
    deleting a live claim would let a retry run the request a second time (and its holder, fenced on the
    lease, would then commit nothing). Returns how many went."""
    ttl = timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    older_than = ttl if older_than is None else older_than
    if older_than < timedelta(0):
        raise ValueError("older_than must not be negative")
    now = timezone.now()
    done = Q(state=IdempotencyRecord.COMPLETE, created_at__lt=now - older_than)
    abandoned = Q(state=IdempotencyRecord.IN_FLIGHT, lease_expires_at__lt=now)
    stuck = Q(created_at__lt=now - max(older_than, ttl))
    deleted, _ = IdempotencyRecord.objects.filter(done | abandoned | stuck).delete()
    return deleted


@dataclass(frozen=True)
class RoleResult:
    name: str
    created: bool
    permissions: int  # how many the group holds now
    added: tuple[str, ...]  # "app_label.codename", granted by this run
    removed: tuple[str, ...]  # taken away by this run (held but not in the table)
    missing: tuple[str, ...]  # in the table, but no such permission (an app whose models have not landed)


def roles_setup(*, by: Actor) -> list[RoleResult]:
    """Make each group of `stateset.roles` hold exactly its permissions: create the groups that are missing,
    grant what the table gives and take away anything else. Running it again changes nothing. One
    transaction: either every group is set, or none is."""
    from django.contrib.auth.models import Group, Permission

    from stateset import roles

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
