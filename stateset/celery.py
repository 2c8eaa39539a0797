"""The Celery app: `celery -A stateset worker` / `celery -A stateset beat`.

Configured from Django's settings, every `CELERY_*` one (stateset/settings.py), and finds each app's
`tasks.py`. Without CELERY_BROKER_URL the broker is kombu's filesystem transport in var/celery/ (one machine,
no server; `make run` starts a worker beside runserver). With it, Redis or RabbitMQ.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stateset.settings")

app = Celery("stateset")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_broker_folders() -> None:
    """The filesystem transport writes into folders it does not create."""
    for folder in (app.conf.broker_transport_options or {}).values():
        if isinstance(folder, str) and folder.startswith("/"):
            Path(folder).mkdir(parents=True, exist_ok=True)


def broker_is_reachable(timeout: float = 2.0) -> None:
    """Raise if the broker cannot be reached within `timeout` seconds (for /readyz)."""
    if app.conf.broker_url.startswith("filesystem"):
        for folder in (app.conf.broker_transport_options or {}).values():
            if not os.access(folder, os.W_OK):
                raise OSError(f"broker folder {folder} is not writable")
        return
    with app.connection_for_write() as conn:
        conn.transport_options.setdefault("socket_connect_timeout", timeout)  # Redis
        conn.connect_timeout = timeout
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)


ensure_broker_folders()
