"""Background tasks of the conventions layer, and the one way services enqueue a task.

Every task is idempotent (running it twice does no more than once) and is retried with exponential backoff and
jitter on any error; the worker acknowledges a message only when its task has finished (CELERY_TASK_ACKS_LATE),
so a task whose worker died runs again.
"""

from __future__ import annotations

import logging

from django.db import transaction

from stateset import services
from stateset.actors import Actor
from stateset.celery import app

logger = logging.getLogger(__name__)

# Shared by every task: retry on any error, 2, 4, 8 ... seconds apart (with jitter), at most 5 times.
RETRY = {
    "autoretry_for": (Exception,),
    "retry_backoff": 2,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Enqueue `task` when the current transaction commits (at once outside one); never if it rolls back.

    A service calls this inside its transaction, so a worker never sees a task for rows that were not written,
    and a rollback leaves no task behind. The events/webhooks outbox will follow the same pattern."""
    transaction.on_commit(lambda: task.delay(*args, **kwargs))


@app.task(name="stateset.tasks.purge_idempotency_keys", **RETRY)
def purge_idempotency_keys() -> int:
    """Delete expired Idempotency-Key records (`stateset.services.idempotency_purge`). Hourly, from beat."""
    deleted = services.idempotency_purge(by=Actor.system("task purge_idempotency_keys"))
    logger.info("purge_idempotency_keys: deleted %s stored idempotent responses", deleted)
    return deleted


@app.task(name="stateset.tasks.purge_events", **RETRY)
def purge_events() -> int:
    """Delete events past their retention (`stateset.services.event_purge`, EVENT_RETENTION_DAYS). Nightly."""
    deleted = services.event_purge(by=Actor.system("task purge_events"))
    logger.info("purge_events: deleted %s events", deleted)
    return deleted


# ---- webhooks (stateset.webhooks) ------------------------------------------------------------------------------
# Not RETRY: a delivery retries on its own schedule (stateset.webhooks.backoff), and the sweep re-sends anything
# a lost or failed task left pending.


@app.task(name="stateset.tasks.dispatch_webhooks")
def dispatch_webhooks() -> int:
    """Make the deliveries of the events settled since the last dispatch, and send them."""
    from stateset import webhooks

    return len(webhooks.dispatch())


@app.task(name="stateset.tasks.deliver_webhook")
def deliver_webhook(delivery_id: int) -> str:
    """One attempt of one delivery (if due and first in line for its object)."""
    from stateset import webhooks

    return webhooks.attempt(delivery_id)


@app.task(name="stateset.tasks.sweep_webhooks")
def sweep_webhooks() -> int:
    """Dispatch, and re-send every pending delivery that is due (at-least-once after a lost task)."""
    from stateset import webhooks

    return len(webhooks.sweep())
