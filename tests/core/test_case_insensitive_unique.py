"""Identifiers unique regardless of case are guarded by the database (issue #14): a UNIQUE index on UPPER()
of each, the migration that refuses data already breaking it, and the lost race answered as the sequential
check answers (stateset/constraints.py)."""

import threading
from importlib import import_module

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, models, transaction
from django.db.models.functions import Upper

from crm import services as crm
from crm.models import Case, Customer, Lead
from inventory.models import CycleCount, InventoryItem, PackingList, PurchaseOrder
from manufacturing import services as mfg
from manufacturing.models import BillOfMaterials, ManufactureOrder, WorkOrder
from orders import services as orders
from orders.models import Order, Promotion, WholesaleOrder
from returns import services as returns
from returns.models import Return, Warranty
from stateset.constraints import (
    ANSWERS,
    CaseDuplicates,
    case_duplicates,
    constraint_name,
    lost_race_error,
    refuse_case_duplicates,
)
from tests.factories import (
    SYSTEM,
    api_client,
    make_bom,
    make_customer,
    make_cycle_count,
    make_item,
    make_order,
    make_packing_list,
    make_promotion,
    make_purchase_order,
    make_work_order,
)
from tests.helpers import assert_error

# (model, field, constraint, a maker of one row): every identifier the project treats as unique regardless of case.
CONSTRAINED = [
    (Order, "order_number", "orders_order_order_number_ci_unique", lambda: make_order(("CI", 1))),
    (
        WholesaleOrder,
        "order_number",
        "orders_wholesaleorder_order_number_ci_unique",
        lambda: orders.wholesale_order_create(
            by=SYSTEM, order_line_items=[{"sku": "CI", "quantity": 1, "unit_price": "1.00"}]
        ),
    ),
    (Promotion, "code", "orders_promotion_code_ci_unique", lambda: make_promotion()),
    (
        Return,
        "rma",
        "returns_return_rma_ci_unique",
        lambda: returns.return_create(by=SYSTEM, order=make_order(("CI", 1), status="shipped")),
    ),
    (
        Warranty,
        "warranty_number",
        "returns_warranty_warranty_number_ci_unique",
        lambda: returns.warranty_create(by=SYSTEM),
    ),
    (
        PurchaseOrder,
        "purchase_order_number",
        "inventory_purchaseorder_purchase_order_number_ci_unique",
        lambda: make_purchase_order([("CI", 1)]),
    ),
    (PackingList, "number", "inventory_packinglist_number_ci_unique", lambda: make_packing_list([("CI", 1)])),
    (
        CycleCount,
        "cycle_count_number",
        "inventory_cyclecount_cycle_count_number_ci_unique",
        lambda: make_cycle_count(["CI"]),
    ),
    (InventoryItem, "sku", "inventory_inventoryitem_sku_ci_unique", lambda: make_item()),
    (BillOfMaterials, "number", "manufacturing_billofmaterials_number_ci_unique", lambda: mfg.bom_create(by=SYSTEM)),
    (
        WorkOrder,
        "number",
        "manufacturing_workorder_number_ci_unique",
        lambda: make_work_order(make_bom("CI", [("CJ", 1)])),
    ),
    (
        ManufactureOrder,
        "number",
        "manufacturing_manufactureorder_number_ci_unique",
        lambda: mfg.manufacture_order_create(by=SYSTEM),
    ),
    (Case, "case_number", "crm_case_case_number_ci_unique", lambda: crm.case_create(by=SYSTEM, case_name="CI")),
    (Customer, "email", "crm_customer_email_ci_unique", lambda: make_customer()),
    (Customer, "sso_id", "crm_customer_sso_id_ci_unique", lambda: make_customer(sso_id="sso-ci")),
]
IDS = [f"{model.__name__}.{field}" for model, field, *_ in CONSTRAINED]


@pytest.fixture
def ci_parts(db):
    make_item("CI", on_hand=10)
    make_item("CJ", on_hand=10)


def _clone(obj: models.Model, **changes) -> None:
    """Insert a copy of `obj`'s row with `changes` (bulk_create: no service, no save(), only the database)."""
    copy = type(obj)._default_manager.get(pk=obj.pk)
    copy.pk = None
    for name, value in changes.items():
        setattr(copy, name, value)
    type(obj)._default_manager.bulk_create([copy])


@pytest.mark.parametrize(("model", "field", "name", "make"), CONSTRAINED, ids=IDS)
def test_the_database_refuses_a_case_variant_duplicate(ci_parts, model, field, name, make):
    """No service involved: the row is copied at the ORM level with only the case of the value changed. The
    UNIQUE index on UPPER(field) refuses it, on SQLite as on PostgreSQL, and names itself."""
    row = make()
    model._default_manager.filter(pk=row.pk).update(**{field: "Mixed-Case-1"})
    changes = {"email": "other@example.com", "sso_id": None} if model is Customer else {}  # clash on `field` only
    changes[field] = "mIXED-cASE-1"
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        _clone(row, **changes)
    assert constraint_name(caught.value) == name
    assert model._default_manager.filter(**{f"{field}__iexact": "MIXED-CASE-1"}).count() == 1


def test_every_case_insensitive_unique_constraint_is_listed_answered_and_checked_by_its_migration():
    """The list above, the constraints on the models, the answers registered for them and the fields each
    migration checks before adding them are the same set."""
    declared = {
        (model, constraint.expressions[0].source_expressions[0].name, constraint.name)
        for model in apps.get_models()
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint)
        and constraint.expressions
        and isinstance(constraint.expressions[0], Upper)
    }
    assert declared == {(model, field, name) for model, field, name, _ in CONSTRAINED}
    assert set(ANSWERS) == {name for *_, name, _ in CONSTRAINED}
    checked = set()
    for module in (
        "crm.migrations.0004_unique_case_insensitive_identifiers",
        "orders.migrations.0003_unique_case_insensitive_identifiers",
        "returns.migrations.0002_unique_case_insensitive_identifiers",
        "inventory.migrations.0004_unique_case_insensitive_identifiers",
        "manufacturing.migrations.0002_unique_case_insensitive_identifiers",
    ):
        migration = import_module(module)
        first = migration.Migration.operations[0]
        assert first.describe() == "Raw Python operation"  # the check runs before any constraint is added
        checked |= set(migration.TARGETS)
    assert checked == {(m._meta.app_label, m.__name__, field) for m, field, *_ in CONSTRAINED}


# ---- the migration's check ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_migration_check_lists_every_clash_and_renames_nothing():
    """Run on a field without the constraint (a lead's email), as on data migrated from before it."""
    first = crm.lead_create(by=SYSTEM, email="Ann@Example.com")
    second = crm.lead_create(by=SYSTEM, email="ann@example.com")
    third = crm.lead_create(by=SYSTEM, email="ANN@EXAMPLE.COM")
    crm.lead_create(by=SYSTEM, email="bob@example.com")
    crm.lead_create(by=SYSTEM, email="")
    crm.lead_create(by=SYSTEM, email="")
    assert case_duplicates(Lead, "email") == [  # by the upper-cased value, then id
        [(first.pk + 4, ""), (first.pk + 5, "")],
        [(first.pk, "Ann@Example.com"), (second.pk, "ann@example.com"), (third.pk, "ANN@EXAMPLE.COM")],
    ]
    with pytest.raises(CaseDuplicates) as caught:
        refuse_case_duplicates(apps, [("crm", "Lead", "email"), ("crm", "Customer", "email")])
    report = str(caught.value)
    assert report.splitlines()[1:] == [
        f"  crm.Lead.email: id {first.pk + 4} '', id {first.pk + 5} ''",
        f"  crm.Lead.email: id {first.pk} 'Ann@Example.com', id {second.pk} 'ann@example.com', "
        f"id {third.pk} 'ANN@EXAMPLE.COM'",
    ]
    assert "nothing was renamed" in report
    assert sorted(Lead.objects.values_list("email", flat=True)) == sorted(
        ["Ann@Example.com", "ann@example.com", "ANN@EXAMPLE.COM", "bob@example.com", "", ""]
    )


@pytest.mark.django_db
def test_the_migration_check_passes_clean_data_and_ignores_nulls():
    make_customer(email="a@example.com")
    make_customer(email="b@example.com")  # both without sso_id: NULLs never clash
    refuse_case_duplicates(apps, [("crm", "Customer", "email"), ("crm", "Customer", "sso_id")])


# ---- the answer ----------------------------------------------------------------------------------------------


class _Request:
    def __init__(self, data):
        self.data = data


def _violation(make) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        make()
    return caught.value


@pytest.mark.django_db
def test_a_violation_answers_as_the_sequential_check_with_the_value_sent():
    make_item("ABC-1")
    exc = _violation(lambda: InventoryItem.objects.create(sku="abc-1"))
    error = lost_race_error(exc, _Request({"sku": " abc-1 "}))
    assert (error.status, error.code, error.message, error.errors) == (
        400,
        "validation_error",
        "An item with SKU 'abc-1' already exists.",
        {"sku": "already exists"},
    )


@pytest.mark.django_db
def test_a_violation_without_the_value_in_the_body_or_of_another_constraint_is_left_to_the_handler():
    """A generated number's clash (nothing sent) stays the generic retryable 409; so does any other
    IntegrityError."""
    make_item("ABC-1")
    exc = _violation(lambda: InventoryItem.objects.create(sku="abc-1"))
    assert lost_race_error(exc, _Request({})) is None
    assert lost_race_error(exc, None) is None
    make_promotion(code="P", usage_limit=1)
    other = _violation(lambda: Promotion.objects.update(times_used=2))  # a CHECK constraint
    assert lost_race_error(other, _Request({"code": "P"})) is None


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_a_body_value_other_than_the_clashing_one_is_not_blamed():
    """PostgreSQL reports the clashing key (`Key (upper((sku)::text))=(ABC-1) already exists.`): a body whose
    value is not that one (another document's number, a generated number's clash) keeps the generic 409."""
    make_item("ABC-1")
    exc = _violation(lambda: InventoryItem.objects.create(sku="abc-1"))
    assert lost_race_error(exc, _Request({"sku": "XYZ"})) is None
    assert lost_race_error(exc, _Request({"sku": "Abc-1"})).message == "An item with SKU 'Abc-1' already exists."


@pytest.mark.parametrize(
    ("path", "first", "variant", "field"),
    [
        # The services compare SKUs and sso_ids exactly: a case variant passes their check and meets the index.
        ("/v1/inventory_items", {"sku": "ABC-1"}, {"sku": "abc-1"}, "sku"),
        (
            "/v1/customers",
            {"email": "s@example.com", "sso_id": "SSO-A"},
            {"email": "t@example.com", "sso_id": "sso-a"},
            "sso_id",
        ),
    ],
    ids=["sku", "sso_id"],
)
def test_a_case_variant_that_only_the_database_catches_answers_as_a_duplicate(api, path, first, variant, field):
    """The same 400 (code, message, errors) as an exact duplicate of the same value, and nothing written."""
    assert api.post(path, first, format="json").status_code == 201
    refused = assert_error(api.post(path, variant, format="json"), 400, "invalid_request_error", "validation_error")
    model = InventoryItem if field == "sku" else Customer
    model.objects.update(**{field: variant[field]})  # now the exact value exists: the service's check sees it
    duplicate = assert_error(api.post(path, variant, format="json"), 400, "invalid_request_error", "validation_error")
    assert _without_request_id(refused) == _without_request_id(duplicate)
    assert model.objects.count() == 1


def _without_request_id(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "request_id"}


# ---- the lost race (PostgreSQL) --------------------------------------------------------------------------------


def _order(number):
    return {
        "order_number": number,
        "order_line_items": [{"sku": "CI", "quantity": 1, "unit_price": "9.99"}],
    }


RACES = [
    # (path, table, one body, the other body, model, field, the body's key for it)
    (
        "/v1/orders",
        "orders_order",
        _order("ORDNUM-0B46937B"),
        _order("ordnum-0b46937b"),
        Order,
        "order_number",
        "order_number",
    ),
    (
        "/v1/customers",
        "crm_customer",
        {"email": "Race.Case@Example.com"},
        {"email": "race.case@example.COM"},
        Customer,
        "email",
        "email",
    ),
    (
        "/v1/customers",
        "crm_customer",
        {"email": "r1@example.com", "sso_id": "SSO-RACE"},
        {"email": "r2@example.com", "sso_id": "sso-race"},
        Customer,
        "sso_id",
        "sso_id",
    ),
    (
        "/v1/inventory_items",
        "inventory_inventoryitem",
        {"sku": "RACE-SKU-A"},
        {"sku": "race-sku-a"},
        InventoryItem,
        "sku",
        "sku",
    ),
    (
        "/v1/promotions",
        "orders_promotion",
        {"code": "RACE10", "type": "fixed", "value": 1},
        {"code": "race10", "type": "fixed", "value": 1},
        Promotion,
        "code",
        "code",
    ),
    (
        "/v1/cases",
        "crm_case",
        {"caseName": "A", "caseNumber": "CASE-RACE"},
        {"caseName": "B", "caseNumber": "case-race"},
        Case,
        "case_number",
        "caseNumber",
    ),
]


def _race_inserts(table: str, calls) -> list:
    """Run each call in its own thread; each thread's INSERT INTO `table` waits until every thread has reached
    its own, so all have passed the service's check before any row exists: the race the check cannot see."""
    barrier = threading.Barrier(len(calls), timeout=20)
    results = [None] * len(calls)

    def hold(execute, sql, params, many, context):
        if sql.startswith(f'INSERT INTO "{table}" '):  # not orders_orderlineitem
            barrier.wait()
        return execute(sql, params, many, context)

    def worker(i, call):
        try:
            with connection.execute_wrapper(hold):
                results[i] = call()
        except Exception as exc:  # a crash is a result too: the assertions will show it
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "table", "one", "other", "model", "field", "key"), RACES, ids=[f"{r[4].__name__}.{r[5]}" for r in RACES]
)
def test_two_requests_racing_case_variants_make_one_row_and_the_loser_gets_the_sequential_400(
    path, table, one, other, model, field, key
):
    """Both requests pass the service's iexact check (neither row exists yet); the UNIQUE index lets one
    insert and the other, once the first commits, meets the IntegrityError. It answers exactly what the same
    request gets when it comes second: the 400 of the service's check (status, type, code, message, errors)."""
    make_item("CI", on_hand=10)
    if model is Order:  # an existing customer: two racing inline ones would wait on each other's email
        customer = make_customer()
        one, other = {**one, "customer": customer.pk}, {**other, "customer": customer.pk}
    clients = [api_client(), api_client()]
    responses = _race_inserts(
        table, [lambda: clients[0].post(path, one, format="json"), lambda: clients[1].post(path, other, format="json")]
    )

    assert sorted(getattr(r, "status_code", repr(r)) for r in responses) == [201, 400], [
        getattr(r, "content", r) for r in responses
    ]
    assert model.objects.filter(**{f"{field}__iexact": one[key]}).count() == 1
    loser = 0 if responses[0].status_code == 400 else 1
    raced = assert_error(responses[loser], 400, "invalid_request_error", responses[loser].json()["code"])
    sequential = clients[loser].post(path, (one, other)[loser], format="json")
    assert sequential.status_code == 400
    assert _without_request_id(raced) == _without_request_id(sequential.json())
    assert model.objects.filter(**{f"{field}__iexact": one[key]}).count() == 1
