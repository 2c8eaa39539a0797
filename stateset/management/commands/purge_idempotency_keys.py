from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from stateset import services
from stateset.actors import Actor


class Command(BaseCommand):
    help = (
        "Delete stored Idempotency-Key responses older than IDEMPOTENCY_TTL_HOURS (or --hours), and claims "
        "whose lease expired (their request died). Run from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--hours", type=int, default=None, help="Age in hours (default IDEMPOTENCY_TTL_HOURS; 0: all finished)."
        )

    def handle(self, *args, hours, **options):
        if hours is not None and hours < 0:
            raise CommandError("--hours must be 0 or more.")
        older = timedelta(hours=hours) if hours is not None else None
        deleted = services.idempotency_purge(older_than=older, by=Actor.command("purge_idempotency_keys"))
        self.stdout.write(f"Deleted {deleted} stored idempotent responses.")
