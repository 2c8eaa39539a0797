"""Back office tests: a demo database (seed_demo, the roles, a few extra rows of every kind)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from tests.backoffice.support import add_extra_rows


@pytest.fixture
def demo(db):
    """seed_demo's data, the roles, and extra rows so that every changelist has several."""
    call_command("seed_demo", "--quiet", "--no-history", stdout=StringIO())
    call_command("setup_roles", stdout=StringIO(), stderr=StringIO())
    add_extra_rows()
