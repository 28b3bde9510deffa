"""What the tickets services call: a ticket was solved, survey it once the solve commits.

Called from ``tickets.services.tickets._set_status``. The task is queued on commit, so a
solve rolled back sends nothing; a failure to queue it is logged and never fails the solve.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def on_ticket_solved(ticket_id: int) -> None:
    def enqueue() -> None:
        from metrics.surveys.tasks import send_csat_survey

        try:
            send_csat_survey.delay(ticket_id)
        except Exception:
            logger.exception("CSAT survey not queued", extra={"ticket_id": ticket_id})

    transaction.on_commit(enqueue)
