from django.core.management.base import BaseCommand, CommandError

from stateset import services
from stateset.actors import Actor
from stateset.errors import DomainError


class Command(BaseCommand):
    help = "Create an API key for USERNAME and print it. The key is shown once; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label for the key (default: cli).")

    def handle(self, *args, username, name, **options):
        try:
            key, raw = services.api_key_create_for_username(
                username=username, name=name, by=Actor.command("create_api_key")
            )
        except DomainError as exc:
            raise CommandError(str(exc))
        self.stderr.write(f"Created key '{key.name}' ({key.prefix}...) for {username}. It will not be shown again:")
        self.stdout.write(raw)
