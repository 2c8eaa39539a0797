from datetime import timedelta

from django.core.management.base import BaseCommand

from stateset import services
from stateset.actors import Actor


class Command(BaseCommand):
    help = "Delete stored Idempotency-Key responses older than IDEMPOTENCY_TTL_HOURS (or --hours). Run from cron."

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=int, default=None)

    def handle(self, *args, hours, **options):
        older = timedelta(hours=hours) if hours is not None else None
        deleted = services.idempotency_purge(older_than=older, by=Actor.command("purge_idempotency_keys"))
        self.stdout.write(f"Deleted {deleted} stored idempotent responses.")
