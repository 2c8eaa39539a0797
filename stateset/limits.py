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

__all__ = ["COUNT_BOUND", "CURSOR_SETTLE_SECONDS", "DEFAULT_LIMIT", "MAX_ID", "MAX_LIMIT", "MAX_OFFSET", "MAX_QUANTITY"]
