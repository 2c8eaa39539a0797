"""Every existing shipment was the whole order's (ship took everything): it becomes `shipped`, from the order's
location, with one line per order line for the units the line shipped. Its own migration (so its own
transaction on PostgreSQL): rows written here must not share a transaction with the ALTER TABLE of 0007."""

from django.db import migrations


def backfill(apps, schema_editor):
    Shipment = apps.get_model("orders", "Shipment")
    ShipmentLineItem = apps.get_model("orders", "ShipmentLineItem")
    OrderLineItem = apps.get_model("orders", "OrderLineItem")
    for shipment in Shipment.objects.select_related("order").iterator():
        shipment.location_id = shipment.order.location_id
        shipment.status = "shipped"
        shipment.number = shipment.number or f"SHP-{shipment.pk:06d}"
        shipment.save(update_fields=["location", "status", "number"])
        ShipmentLineItem.objects.bulk_create(
            ShipmentLineItem(shipment=shipment, line=line, quantity=line.quantity_shipped)
            for line in OrderLineItem.objects.filter(order_id=shipment.order_id, quantity_shipped__gt=0)
        )


class Migration(migrations.Migration):
    dependencies = [("orders", "0005_shipments_parcels_partial_shipping")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
