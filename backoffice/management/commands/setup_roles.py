from django.core.management.base import BaseCommand

from backoffice import services
from stateset.actors import Actor


class Command(BaseCommand):
    help = (
        "Create or reset the staff groups (warehouse, customer service, manufacturing, finance, read-only) to "
        "the permissions of backoffice/roles.py. Idempotent: a second run changes nothing."
    )

    def handle(self, *args, **options):
        for result in services.roles_setup(by=Actor.command("setup_roles")):
            verb = "created" if result.created else "reset"
            changes = f"+{len(result.added)} -{len(result.removed)}"
            self.stdout.write(f"{result.name}: {verb}, {result.permissions} permissions ({changes})")
            if result.missing:
                names = ", ".join(result.missing)
                self.stderr.write(f"  skipped, no such permission (is its app migrated?): {names}")
