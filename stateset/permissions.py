"""Django's model permissions, per method and per action.

- GET (list, retrieve, search, history, sub-lists): `view_<model>`
- POST create: `add_<model>`; PUT/PATCH update and every POST action: `change_<model>`; DELETE: `delete_<model>`
- actions that move money or stock also need their named permission (`orders.cancel_order`, ...), declared
  once on the model's transition and checked by the service (stateset.fsm.check_transition), so the admin and
  the commands obey the same rule.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

STANDARD = {"create": "add", "update": "change", "partial_update": "change", "destroy": "delete"}


def required_model_permission(model, action: str | None, method: str) -> str:
    if action in STANDARD:
        verb = STANDARD[action]
    elif method in ("GET", "HEAD", "OPTIONS"):
        verb = "view"
    else:
        verb = "change"
    return f"{model._meta.app_label}.{verb}_{model._meta.model_name}"


class ModelPermissions(BasePermission):
    message = "Your role lacks the permission for this request."

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        model = getattr(view, "permission_model", None) or getattr(getattr(view, "queryset", None), "model", None)
        if model is None:
            return True  # views that are not about a model (schema, docs) need only a login
        perm = required_model_permission(model, getattr(view, "action", None), request.method)
        if user.has_perm(perm):
            return True
        self.message = f"Your role lacks the permission '{perm}'."
        return False
