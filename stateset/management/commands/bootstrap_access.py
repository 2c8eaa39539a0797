import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from stateset import services
from stateset.actors import Actor


class Command(BaseCommand):
    help = (
        "For `make run`: make sure a superuser exists, give it a fresh password and a fresh API key, and print "
        "both. Development only: it resets that user's password every time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--port", default="8000", help="The port `make run` serves on, for the banner.")

    def handle(self, *args, username, port, **options):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"is_staff": True, "is_superuser": True, "email": f"{username}@example.com"},
        )
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.is_staff = user.is_superuser = True
        user.save()
        _, raw = services.api_key_create(user=user, name="make run", by=Actor.command("bootstrap_access"))
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "=" * 72,
                    f"  StateSet One is starting on http://127.0.0.1:{port}",
                    f"  Admin:   http://127.0.0.1:{port}/admin/   user {username}   password {password}",
                    f"  API key: {raw}",
                    f'  Try:     curl -H "Authorization: Token {raw}" http://127.0.0.1:{port}/v1/customers/list',
                    f"  Docs:    http://127.0.0.1:{port}/v1/docs (log in to the admin first)",
                    "=" * 72,
                    "",
                ]
            )
        )
