"""The manufacturing app's refusals. Shortages are inventory's InsufficientStock (422 insufficient_stock)."""

from stateset.errors import DomainError, ValidationFailed


class BomCycle(ValidationFailed):
    """A BOM line would make a part need itself, at any depth. The message names the path (A → B → C → A)."""

    code = "bom_cycle"


class ActiveBomExists(DomainError):
    """One active BOM per part: activating a second one is refused (or supersedes the first on request)."""

    code = "active_bom_exists"


class BomIncomplete(DomainError):
    """A BOM cannot be activated without a part or without lines that count."""

    code = "bom_incomplete"


class BomNotEditable(DomainError):
    """Lines and the part of a BOM change only while it is a draft; revise an active one."""

    code = "bom_not_editable"


class BomNotActive(DomainError):
    """Work orders and manufacture order lines are planned from active BOMs only."""

    code = "bom_not_active"


class DocumentNotEditable(DomainError):
    """A work order's plan (quantity, lines, location) or a manufacture order's lines are fixed once it moved on."""

    code = "document_not_editable"


class OverCompletion(DomainError):
    """Completed plus scrapped may not exceed the planned quantity."""

    code = "over_completion"


class ManufactureOrderEmpty(DomainError):
    code = "manufacture_order_empty"


class DuplicateNumber(ValidationFailed):
    code = "duplicate_number"


class DocumentInUse(DomainError):
    """A BOM that work orders or manufacture orders point at is kept (obsolete it instead)."""

    code = "document_in_use"
