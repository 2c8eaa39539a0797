import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0006_shipments_backfill")]

    operations = [
        migrations.AlterField(
            model_name="shipment",
            name="location",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="shipments", to="inventory.location"
            ),
        ),
    ]
