from django.db import migrations

from stateset.migration_ops import prefix_index


class Migration(migrations.Migration):
    # `?search=` with an address matches emails from their start (stateset.api.search_filter): a btree on
    # UPPER(customer_email) with text_pattern_ops serves that LIKE 'X%' under any collation (PostgreSQL only,
    # built concurrently so writes go on meanwhile, which cannot run inside a transaction).
    atomic = False

    dependencies = [("orders", "0008_staff_help_texts")]

    operations = [prefix_index("orders_order", "order_customer_email_prefix", "customer_email")]
