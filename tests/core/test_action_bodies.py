"""Action bodies (contract §1.3): an empty body wherever every input is optional, and a body that repeats the
path's id (`{"order_id": 42}`) or number (`{"rma": "RMA-000001"}`), on every action of every resource."""

import pytest
from django.core.management import call_command

from stateset.api import EmptyInput, vars_all
from stateset.urls import RESOURCES
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

# Actions whose inputs are each optional but which need one of them (`tags` or `tag_name`, `splits`, `items`
# or `return_all`, `promotion_id` or `code`): an empty body is rightly a 400 there.
ONE_OF_REQUIRED = {"tag", "untag", "split", "return", "apply_promotion"}
WITH_ACTIONS = [(prefix, viewset) for prefix, viewset in RESOURCES if viewset.action_names()]


def _actions(viewset):
    """(name, every input optional) for each detail action."""
    for _, fn in vars_all(viewset):
        spec = getattr(fn, "resource_action", None)
        if spec is not None and fn.detail:
            fields = (spec["input"] or EmptyInput)().fields.values()
            yield spec["name"], not any(field.required for field in fields)


def _one_per_status(viewset):
    seen, objects = set(), []
    for obj in viewset.queryset.model.objects.order_by("pk"):
        status = getattr(obj, "status", None)
        if status not in seen:
            seen.add(status)
            objects.append(obj)
    return objects


def _bodies(viewset, obj):
    """The forms of an empty body, and of one that repeats the path's identity."""
    echo = {f"{viewset.singular}_id": obj.pk, **{key: getattr(obj, key) for key in viewset.identity_keys}}
    return [
        ("post", None, None),
        ("post", "", "application/json"),
        ("post", "null", "application/json"),
        ("post", "{}", "application/json"),
        ("put", None, None),
        ("post", echo, "json"),
        ("put", {"id": str(obj.pk)}, "json"),
    ]


@pytest.mark.parametrize(("prefix", "viewset"), WITH_ACTIONS, ids=[p for p, _ in WITH_ACTIONS])
def test_action_bodies(api, prefix, viewset):
    call_command("seed_demo", "--quiet", "--no-history")
    objects = _one_per_status(viewset)
    assert objects

    # A body naming another document than the path is a 400 naming the key, on every action.
    first = objects[0]
    others = {f"{viewset.singular}_id": first.pk + 1000, "id": first.pk + 1000}
    others.update(dict.fromkeys(viewset.identity_keys, "NOPE-000000"))
    for name, _ in _actions(viewset):
        for key, value in others.items():
            response = api.post(f"/v1/{prefix}/{first.pk}/{name}", {key: value}, format="json")
            body = assert_error(response, 400, "invalid_request_error", "validation_error")
            assert key in body["errors"], (name, body)

    # An empty body, or one repeating the path's identity, where every input is optional: on one object per
    # status the action answers 200, or 422 when the status forbids it; never a 400 for the body.
    for name, optional in _actions(viewset):
        if not optional or name in ONE_OF_REQUIRED:
            continue
        for obj in objects:
            for method, body, content_type in _bodies(viewset, obj):
                path = f"/v1/{prefix}/{obj.pk}/{name}"
                if content_type == "json":
                    response = getattr(api, method)(path, body, format="json")
                elif content_type:
                    response = api.generic(method.upper(), path, body, content_type=content_type)
                else:
                    response = getattr(api, method)(path)
                assert response.status_code in (200, 422), (path, method, body, response.content)
