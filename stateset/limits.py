"""Bounds on what one request may name, shared by the API, the admin and the commands.

They live here, below every interface, so that an admin form or a management command checks the same bound as
the API without importing the API module.
"""

from stateset.ids import MAX_ID

# List pages (contract §1.5).
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
# Lists stay cheap however long (issue #16; stateset.pagination): counted exactly up to COUNT_BOUND rows, paged
# by offset up to MAX_OFFSET (then by cursor), and a cursor page lists rows that settled CURSOR_SETTLE_SECONDS.
COUNT_BOUND = 10_000
MAX_OFFSET = 10_000
CURSOR_SETTLE_SECONDS = 1.0
# The most units one input may name (a line, an adjustment, a count): far above any real document, and far
# below what a quantity column holds (PostgreSQL's integer), so no input overflows one.
MAX_QUANTITY = 1_000_000
# The longest URL (path and query string) a request may have: a 414 in the error shape past it (gunicorn's own
# limit is off, gunicorn.conf.py, since it answers in plain text).
MAX_URL_LENGTH = 8190
# The most units one stock level may hold (on hand, allocated, incoming): a change past it is a 422
# `stock_limit_exceeded`. Far above any real warehouse, and far enough below PostgreSQL's integer (2,147,483,647)
# that a level plus any one change still fits the column, so the stock and ledger columns stay INTEGER.
MAX_STOCK = 1_000_000_000
# The most entries one list of a request body may hold: the lines of a document (an order, a purchase order, a
# BOM...), the lines of an action (receive, count, split), ids to merge, tags. A 10,000-line order held a worker
# for 30-40 s; 500 lines create in well under a second.
MAX_LINES = 500

__all__ = [
    "COUNT_BOUND",
    "CURSOR_SETTLE_SECONDS",
    "DEFAULT_LIMIT",
    "MAX_ID",
    "MAX_LIMIT",
    "MAX_LINES",
    "MAX_OFFSET",
    "MAX_QUANTITY",
    "MAX_STOCK",
    "MAX_URL_LENGTH",
]
