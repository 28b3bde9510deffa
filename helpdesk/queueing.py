"""Queue a Celery task once the surrounding transaction commits, without ever failing the
request that already committed its work.

The rows are the truth (an InboundMessage "received", an outbound Message "queued"); the
task is only a prompt to act on them now. If the broker is unreachable at that moment (Redis
restarting, a network blip), the prompt is lost but the row is not: beat's sweeps
(``requeue_stale_inbound``, ``requeue_stale_outbound``) queue it again. So a broker error
here is logged and swallowed — answering the customer's webhook or the agent's reply with
an error after their message was safely stored would only invite a duplicate retry.
Errors of the task itself (eager mode runs it inline) are not swallowed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

BROKER_ERRORS = (BrokerError, RedisConnectionError, RedisTimeoutError, ConnectionError)


def enqueue(task: Any, *args: Any) -> bool:
    """``task.delay(*args)`` now; False (logged) when the broker cannot take it."""
    try:
        task.delay(*args)
    except BROKER_ERRORS as exc:
        logger.warning("task not queued; the sweep will", extra={"task": task.name, "task_args": list(args), "error": repr(exc)})
        return False
    return True


def enqueue_on_commit(task: Any, *args: Any) -> None:
    """``enqueue`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: enqueue(task, *args))
