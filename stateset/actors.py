"""Who is acting: the user, and through which door (an API key, the admin, a command).

Every service takes `by: Actor`. The audit rows (django-fsm-log's StateLog for transitions, the ledger's
`actor` for stock) record `actor.user` and `actor.label`, so a history line reads
"alice via API key 'warehouse-scanner' (sk_3f9a...)" or "bob in the admin" or "command import_inventory".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from stateset.models import ApiKey


@dataclass(frozen=True)
class Actor:
    user: AbstractBaseUser | None = None
    api_key: ApiKey | None = None
    channel: str = "system"  # api | admin | command | system
    name: str = ""  # the command's name, for channel "command"

    @classmethod
    def from_request(cls, request: Any) -> Actor:
        """An API request: DRF puts the ApiKey in request.auth when the key authenticated it."""
        from stateset.models import ApiKey

        user = getattr(request, "user", None)
        if user is not None and not user.is_authenticated:
            user = None
        auth = getattr(request, "auth", None)
        return cls(user=user, api_key=auth if isinstance(auth, ApiKey) else None, channel="api")

    @classmethod
    def admin(cls, request: Any) -> Actor:
        return cls(user=request.user, channel="admin")

    @classmethod
    def command(cls, name: str, user: AbstractBaseUser | None = None) -> Actor:
        return cls(user=user, channel="command", name=name)

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(channel="system", name=name)

    @property
    def is_privileged(self) -> bool:
        """Commands and internal steps run with the operator's authority, not a user's permissions."""
        return self.user is None and self.channel in {"command", "system"}

    def has_perm(self, perm: str) -> bool:
        if self.is_privileged:
            return True
        return bool(self.user and self.user.has_perm(perm))

    @property
    def label(self) -> str:
        who = self.user.get_username() if self.user else ""
        if self.channel == "api":
            via = f"API key '{self.api_key.name}' ({self.api_key.prefix}...)" if self.api_key else "API session"
            return f"{who} via {via}".strip()
        if self.channel == "admin":
            return f"{who} in the admin".strip()
        if self.channel == "command":
            return f"command {self.name}" + (f" as {who}" if who else "")
        return self.name or "system"

    def describe(self, reason: str = "") -> str:
        """The text stored on an audit row: the door, then the reason given."""
        return f"[{self.label}] {reason}".strip()
