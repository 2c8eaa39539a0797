"""A two-level product for the manufacturing tests: a FAN made of a HOUSING sub-assembly (its own active BOM:
2 PANEL + 8 BOLT), a MOTOR and 4 BOLT."""

from types import SimpleNamespace

import pytest

from tests.factories import make_bom, make_item


@pytest.fixture
def fan(db):
    bolt = make_item("BOLT", on_hand=100, unit_cost="0.10", description="Bolt")
    panel = make_item("PANEL", on_hand=20, unit_cost="5.00", description="Panel")
    motor = make_item("MOTOR", on_hand=5, unit_cost="30.00", description="Motor")
    housing = make_item("HOUSING", unit_cost="99.00", description="Housing")  # costed from its BOM, not this
    product = make_item("FAN", description="Fan")
    housing_bom = make_bom(housing, [(panel, 2), (bolt, 8)], name="Housing")
    fan_bom = make_bom(product, [(housing, 1), (motor, 1), (bolt, 4)], name="Fan")
    return SimpleNamespace(
        bolt=bolt, panel=panel, motor=motor, housing=housing, product=product, housing_bom=housing_bom, bom=fan_bom
    )
