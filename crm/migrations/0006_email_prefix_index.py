from django.db import migrations

from stateset.migration_ops import prefix_index


class Migration(migrations.Migration):
    # `?search=` with an address matches emails from their start (stateset.api.search_filter): a btree on
    # UPPER(email) with text_pattern_ops serves that LIKE 'X%' under any collation (PostgreSQL only, built
    # concurrently so writes go on meanwhile, which cannot run inside a transaction).
    atomic = False

    dependencies = [("crm", "0005_list_indexes")]

    operations = [
        prefix_index("crm_customer", "customer_email_prefix", "email"),
        prefix_index("crm_lead", "lead_email_prefix", "email"),
    ]
