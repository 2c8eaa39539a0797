"""The inventory vocabulary: movement reasons, allocation states, and the document statuses of this app."""

from django.db import models


class MovementReason(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    SHIPMENT = "shipment", "Shipment"
    RETURN_RESTOCK = "return_restock", "Return restock"
    ADJUSTMENT = "adjustment", "Adjustment"
    CYCLE_COUNT = "cycle_count", "Cycle count"
    PRODUCTION_CONSUME = "production_consume", "Production consume"
    PRODUCTION_OUTPUT = "production_output", "Production output"
    TRANSFER = "transfer", "Transfer"


class AllocationStatus(models.TextChoices):
    OPEN = "open", "Open"
    CONSUMED = "consumed", "Consumed"
    RELEASED = "released", "Released"


class LocationKind(models.TextChoices):
    WAREHOUSE = "warehouse", "Warehouse"
    SITE = "site", "Site"
    BIN = "bin", "Bin"


DEFAULT_LOCATION_CODE = "MAIN"
