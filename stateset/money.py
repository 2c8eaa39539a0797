"""Money: the cent, the one rounding rule, and the amounts that the services compute (quantity × price,
sums of lines) checked against the columns that store them.

Each input is bounded (MoneyField's digits, quantities up to MAX_QUANTITY), but a product or a sum can still
pass a column: PostgreSQL refuses it (numeric field overflow, a 500) and SQLite stores a row that no
response can show. Services check before they write, and answer a 400 naming the amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from stateset.errors import ValidationFailed

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def round_cents(value: Decimal | int | str) -> Decimal:
    """Round half-up to the cent: the one rounding rule for every amount the services compute."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def largest_amount(max_digits: int = 12, decimal_places: int = 2) -> Decimal:
    """The largest amount a DecimalField(max_digits, decimal_places) holds: 9999999999.99 for (12, 2)."""
    return Decimal(10) ** (max_digits - decimal_places) - Decimal(1).scaleb(-decimal_places)


def check_amounts_fit(amounts: Mapping[str, Decimal | None], *, what: str, max_digits: int = 12) -> None:
    """400 when any amount is past what a money column of `max_digits` (two places) holds."""
    largest = largest_amount(max_digits)
    too_large = {name: value for name, value in amounts.items() if value is not None and abs(value) > largest}
    if too_large:
        names = ", ".join(f"{name} {value}" for name, value in too_large.items())
        raise ValidationFailed(
            f"{what}: {names} is more than the largest amount, {largest}.",
            errors=dict.fromkeys(too_large, f"more than {largest}"),
        )
