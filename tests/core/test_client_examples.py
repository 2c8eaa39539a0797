"""Issue #14: the README of the official Python client (`stateset-python==1.2.0`) runs against this server
with only its placeholders replaced (base URL, key, ids), whichever base URL style the client is given: a
host (its default, no /v1), a host ending in /api (its README's custom base URL) or /v1.

README examples covered (quoted from the distribution's METADATA):
- Quick Start: `orders.list(status="processing")` and `returns.create({order_id, customer_id, items:
  [{order_item_id, quantity}], shipping_address: {...}})`;
- Custom Base URL (`.../api`) and Custom Timeout or HTTPX Client (`httpx.AsyncClient(base_url=".../api")`);
- Error Handling: `returns.get("invalid_id")` inside the README's try/except;
- Custom Requests: `request("GET", "custom/endpoint", params={"expand": "items"})` and
  `request("POST", "custom/endpoint", data={"key": "value"})`, the endpoint and body being placeholders;
- Available Resources: orders, returns, inventory, warranties and the generic `purchase_orders` and
  `workorders`; `workflows`, `agents`, `channels`, `messages`, `rules`, `activities` are not
  served here and answer the JSON 404 of the error shape.
"""

import asyncio

import httpx
import pytest

from returns.models import Return
from tests.factories import api_client, make_customer, make_item, make_key, make_order, make_user
from tests.sdk import load_sdk

sdk = load_sdk()  # the client's import name is `stateset`, like this project's package (see tests/sdk.py)
Stateset = sdk.Stateset
StatesetError, StatesetAPIError, StatesetAuthenticationError = (
    sdk.StatesetError,
    sdk.StatesetAPIError,
    sdk.StatesetAuthenticationError,
)

BASE_URL_STYLES = ["", "/api", "/v1"]  # the client's default (a host), its README's `/api`, our canonical /v1
UNSERVED = ["workflows", "agents", "channels", "messages", "rules", "activities"]

pytestmark = pytest.mark.django_db(transaction=True)


def _key() -> str:
    return make_key(make_user(superuser=True, username="readme"))[1]


def test_quick_start_runs_with_its_placeholders_replaced(live_server):
    make_item("WIDGET", on_hand=10)
    customer = make_customer(email="ada@example.com")
    processing = make_order(("WIDGET", 1), status="processing")
    delivered = make_order(("WIDGET", 2, "19.99"), customer=customer, status="delivered")
    line = delivered.order_line_items.get()
    api_key = _key()

    async def main():
        # The README's code; placeholders replaced: the base URL (ours, without /v1, as the client's default
        # is), the key, "order_123", "cust_456" and "item_1" (as strings, like the placeholders).
        async with Stateset(api_key=api_key, base_url=live_server.url) as client:
            # Retrieve orders
            orders = await client.orders.list(status="processing")

            # Create a return
            new_return = await client.returns.create(
                {
                    "order_id": delivered.order_number,
                    "customer_id": str(customer.pk),
                    "items": [{"order_item_id": str(line.pk), "quantity": 1}],
                    "shipping_address": {
                        "name": "Ada Lovelace",
                        "address_line1": "123 Analytical Engine Way",
                        "city": "London",
                        "postal_code": "N1 9GU",
                        "country": "GB",
                    },
                }
            )
            return orders, new_return

    orders, new_return = asyncio.run(main())

    assert [o["id"] for o in orders["orders"]] == [processing.pk] and orders["total_count"] == 1
    body = new_return["return"]
    assert (body["status"], body["order_id"], body["customer_id"]) == ("requested", delivered.pk, customer.pk)
    assert [(i["order_line_item"], i["quantity"], i["amount"]) for i in body["return_line_items"]] == [
        (line.pk, 1, "19.99")
    ]
    address = {
        "name": "Ada Lovelace",
        "address_line1": "123 Analytical Engine Way",
        "city": "London",
        "postal_code": "N1 9GU",
        "country": "GB",
    }
    assert body["shipping_address"] == address
    row = Return.objects.get(pk=body["id"])
    assert (row.order_id, row.customer_id, row.shipping_address) == (delivered.pk, customer.pk, address)
    assert [(li.order_line_item_id, li.quantity) for li in row.return_line_items.all()] == [(line.pk, 1)]
    line.refresh_from_db()
    assert line.quantity_returned == 1


@pytest.mark.parametrize("style", BASE_URL_STYLES)
def test_the_client_lists_orders_with_each_base_url_style(live_server, style):
    make_item("WIDGET", on_hand=5)
    order = make_order(("WIDGET", 1), status="processing")
    api_key = _key()

    async def main():
        # Custom Base URL: `base_url="https://your-custom-stateset-instance.com/api"` (and the other styles).
        async with Stateset(api_key=api_key, base_url=live_server.url + style) as client:
            return await client.orders.list(status="processing"), await client.orders.get(str(order.pk))

    listed, got = asyncio.run(main())
    assert [o["id"] for o in listed["orders"]] == [order.pk]
    assert got["order"]["order_number"] == order.order_number


def test_custom_httpx_client_example(live_server):
    make_item("WIDGET", on_hand=5)
    order = make_order(("WIDGET", 1), status="processing")
    api_key = _key()

    async def main():
        async_client = httpx.AsyncClient(base_url=live_server.url + "/api", timeout=60.0)
        client = Stateset(api_key=api_key, client=async_client)  # SDK will not close externally supplied clients
        listed = await client.orders.list(status="processing")
        await async_client.aclose()
        return listed

    assert [o["id"] for o in asyncio.run(main())["orders"]] == [order.pk]


@pytest.mark.parametrize("style", BASE_URL_STYLES)
def test_error_handling_example(live_server, style):
    api_key = _key()

    async def main():
        outcome = None
        async with Stateset(api_key=api_key, base_url=live_server.url + style) as client:
            try:
                await client.returns.get("invalid_id")
            except StatesetAuthenticationError:
                outcome = "Authentication failed"
            except StatesetAPIError as e:
                outcome = f"API error: {e}"
            except StatesetError as e:
                outcome = e
        # Without a valid key, on a route that exists (an unknown route is a 404 before authentication).
        async with Stateset(api_key="not-a-key", base_url=live_server.url + style) as client:
            try:
                await client.returns.get("1")
            except StatesetAuthenticationError:
                return outcome, "Authentication failed"

    error, unauthenticated = asyncio.run(main())
    assert isinstance(error, sdk.errors.StatesetNotFoundError), error
    assert (error.status_code, error.path) == (404, f"{style}/returns/invalid_id")
    assert unauthenticated == "Authentication failed"


def test_custom_requests_example(live_server):
    make_item("WIDGET", on_hand=5)
    order = make_order(("WIDGET", 1), status="delivered")
    api_key = _key()

    async def main():
        async with Stateset(api_key=api_key, base_url=live_server.url) as client:
            # Custom GET request ("custom/endpoint" replaced by a real one; `expand` is not a list parameter
            # of ours and is ignored, as unknown query parameters are)
            listed = await client.request("GET", "orders", params={"expand": "items"})
            # Custom POST request (endpoint and body replaced)
            created = await client.request("POST", "customers", data={"email": "readme@example.com"})
            # The placeholder endpoint itself is not a route: the JSON 404 of the error shape
            with pytest.raises(sdk.errors.StatesetNotFoundError) as missing:
                await client.request("GET", "custom/endpoint", params={"expand": "items"})
            with pytest.raises(sdk.errors.StatesetNotFoundError) as missing_post:
                await client.request("POST", "custom/endpoint", data={"key": "value"})
            return listed, created, missing.value, missing_post.value

    listed, created, missing, missing_post = asyncio.run(main())
    assert [o["id"] for o in listed["orders"]] == [order.pk]
    assert created["customer"]["email"] == "readme@example.com"
    assert (missing.status_code, missing.code, missing.path) == (404, "resource_not_found", "/custom/endpoint")
    assert (missing_post.status_code, missing_post.code) == (404, "resource_not_found")


@pytest.mark.parametrize("style", ["", "/api"])
def test_available_resources_we_serve(live_server, style):
    item = make_item("WIDGET", on_hand=5)
    order = make_order(("WIDGET", 1), status="delivered")
    api_key = _key()

    async def main():
        async with Stateset(api_key=api_key, base_url=live_server.url + style) as client:
            inventory = await client.inventory.list()
            one = await client.inventory.get(str(item.pk))
            adjusted = await client.inventory.adjust(str(item.pk), quantity=2, reason="found")
            claim = await client.warranties.create({"order_id": order.pk, "warranty_line_items": [{"sku": "WIDGET"}]})
            changed = await client.warranties.change_status(claim["warranty"]["id"], "approved")
            warranties = await client.warranties.list()
            purchase_orders = await client.purchase_orders.list()  # GET purchase-orders
            work_orders = await client.workorders.list()  # GET work-orders
            returns = await client.returns.list()
            return inventory, one, adjusted, changed, warranties, purchase_orders, work_orders, returns

    inventory, one, adjusted, changed, warranties, purchase_orders, work_orders, returns = asyncio.run(main())
    assert [i["sku"] for i in inventory["inventory_items"]] == ["WIDGET"]
    assert one["inventory_item"]["id"] == item.pk
    assert adjusted["adjusted"] is True
    assert changed["warranty"]["status"] == "approved"
    assert warranties["total_count"] == 1
    assert (purchase_orders["total_count"], work_orders["total_count"], returns["total_count"]) == (0, 0, 0)


@pytest.mark.parametrize("style", ["", "/api"])
def test_client_resources_we_do_not_serve_are_a_json_404(live_server, style):
    api_key = _key()

    async def main():
        errors = {}
        async with Stateset(api_key=api_key, base_url=live_server.url + style) as client:
            for name in UNSERVED:
                with pytest.raises(sdk.errors.StatesetNotFoundError) as listed:
                    await getattr(client, name).list()
                with pytest.raises(sdk.errors.StatesetNotFoundError) as created:
                    await getattr(client, name).create({"name": "x"})
                errors[name] = (listed.value, created.value)
        return errors

    for name, (listed, created) in asyncio.run(main()).items():
        assert (listed.status_code, listed.type, listed.code, listed.path) == (
            404,
            "not_found_error",
            "resource_not_found",
            f"{style}/{name}",
        )
        assert (created.status_code, created.code) == (404, "resource_not_found")


# ---- the aliases through the test client ------------------------------------------------------------------


def test_root_and_api_aliases_answer_with_and_without_a_trailing_slash():
    make_item("WIDGET", on_hand=5)
    order = make_order(("WIDGET", 1))
    api = api_client()
    for prefix in ("", "/api", "/v1"):
        for path in (f"{prefix}/orders", f"{prefix}/orders/", f"{prefix}/order/{order.pk}/retrieve/"):
            response = api.get(path)
            assert response.status_code == 200, (path, response.content)
        created = api.post(f"{prefix}/customers/", {"email": f"slash{prefix.strip('/')}@example.com"}, format="json")
        assert created.status_code == 201
        assert created["Location"].endswith(f"/v1/customers/{created.json()['customer']['id']}")  # canonical


@pytest.mark.parametrize("path", ["/nope", "/api/nope", "/api", "/", "/orders/1/nope", "/schema", "/api/docs"])
def test_unknown_paths_outside_v1_are_the_json_404(path):
    api = api_client()
    for method in (api.get, api.post):
        response = method(path)
        assert response.status_code == 404
        assert response.json()["code"] == "resource_not_found" and response.json()["path"] == path


def test_the_aliases_shadow_nothing(client, admin_client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/admin/").status_code == 302  # the admin's login, not the API
    assert admin_client.get("/admin/").status_code == 200
    assert client.get("/admin/nope/").headers["Content-Type"].startswith("text/html")
    assert api_client().get("/v1/schema").status_code == 200


def test_aliases_take_idempotency_keys():
    api = api_client()
    body = {"email": "idem@example.com"}
    first = api.post("/customers", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = api.post("/customers", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_the_return_shape_aliases_refuse_what_they_cannot_mean():
    make_item("WIDGET", on_hand=5)
    order = make_order(("WIDGET", 2), status="delivered")
    line = order.order_line_items.get()
    api = api_client()
    clash = {
        "order_id": order.pk,
        "items": [{"order_item_id": line.pk, "quantity": 1}],
        "return_line_items": [{"order_line_item": line.pk, "quantity": 2}],
    }
    not_an_object = {"order_id": order.pk, "shipping_address": "123 Analytical Engine Way"}
    typo = {"order_id": order.pk, "items": [{"order_item": line.pk, "quantity": 1}]}
    for body, key in ((clash, "items"), (not_an_object, "shipping_address"), (typo, "return_line_items")):
        response = api.post("/returns", body, format="json")
        assert response.status_code == 400, response.content
        assert key in response.json()["errors"], response.json()
    assert not Return.objects.exists()
    # An update may change the address; the lines stay fixed whichever name they come under.
    body = {"order_id": order.pk, "items": [{"order_item_id": line.pk, "quantity": 1}]}
    created = api.post("/v1/returns", body, format="json")
    rid = created.json()["return"]["id"]
    assert api.patch(f"/api/returns/{rid}", {"shipping_address": {"city": "Paris"}}, format="json").status_code == 200
    assert Return.objects.get(pk=rid).shipping_address == {"city": "Paris"}
    refused = api.patch(f"/returns/{rid}", {"items": []}, format="json")
    assert refused.status_code == 400 and "return_line_items" in refused.json()["errors"]  # named canonically
