"""Background tasks of the inventory app (run by the Celery worker; scheduled by CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging

from inventory import selectors
from stateset.celery import app
from stateset.tasks import RETRY

logger = logging.getLogger(__name__)


@app.task(name="inventory.tasks.check_inventory", **RETRY)
def check_inventory() -> int:
    """Nightly: does the ledger explain every quantity? Logs each mismatching stock level at ERROR (the same
    check as `manage.py check_inventory`); writes nothing, so running it twice is harmless. Returns the
    number of mismatches."""
    mismatches = selectors.ledger_mismatches()
    for m in mismatches:
        logger.error(
            "check_inventory: MISMATCH %s at %s: on_hand %s, ledger %s; allocated %s, open allocations %s",
            m["sku"],
            m["location"],
            m["on_hand"],
            m["ledger"],
            m["allocated"],
            m["open_allocations"],
        )
    if not mismatches:
        logger.info("check_inventory: every stock level matches the ledger")
    return len(mismatches)
