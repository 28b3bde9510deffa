"""Demo survey data for ``seed_demo``: invitations and CSAT/CES answers on recent solved
tickets, and NPS answers from a few customers, written through the surveys' services.

Unlike the bulk ticket writer this goes row by row through the services (events, the
rules' pass, metrics on commit): the set is small (at most ``TICKETS`` tickets), so it
costs a second or two, and the data is exactly what live surveys would have left.
Idempotent: once any demo ticket has an invitation, nothing is added.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable

from metrics.surveys.models import SurveyInvitation
from metrics.surveys.services import survey_invitation_record, survey_response_record
from tickets.models import Ticket

TICKETS = 60  # the latest solved demo tickets surveyed
NPS_CUSTOMERS = 15
COMMENTS = {
    5: ["Fast and friendly, thank you!", "Solved in one reply.", ""],
    4: ["Good help, took a day though.", ""],
    3: ["OK in the end.", ""],
    2: ["I had to explain my problem twice.", "Too slow."],
    1: ["Nobody read my first message.", "Still not working."],
}


def seed_surveys(*, channels: Iterable[object], now: dt.datetime) -> int:
    """Survey the latest solved tickets of the demo channels; returns the answers written."""
    solved = list(
        Ticket.objects.filter(channel__in=list(channels), status__in=["solved", "closed"], solved_at__isnull=False)
        .exclude(channel__kind="chat")
        .select_related("channel")
        .order_by("-solved_at", "-id")[:TICKETS]
    )
    if not solved or SurveyInvitation.objects.filter(ticket__in=solved).exists():
        return 0
    answers = 0
    for ticket in solved:
        rng = random.Random(ticket.pk)
        sent_at = ticket.solved_at + dt.timedelta(minutes=1)
        survey_invitation_record(ticket_id=ticket.pk, via=ticket.channel.kind, sent_at=sent_at)
        if rng.random() > 0.45:  # about 45% answer, as real CSAT surveys get
            continue
        score = rng.choices([5, 4, 3, 2, 1], weights=[45, 30, 10, 9, 6])[0]
        at = min(now, sent_at + dt.timedelta(hours=rng.randint(1, 30)))
        source = "email" if ticket.channel.kind == "email" else "social"
        survey_response_record(
            ticket_id=ticket.pk, kind="csat", score=score, comment=rng.choice(COMMENTS[score]), source=source, at=at
        )
        answers += 1
        if rng.random() < 0.5:
            survey_response_record(ticket_id=ticket.pk, kind="ces", score=rng.randint(3, 7), source=source, at=at)
            answers += 1
    customers = sorted({t.customer_id for t in solved})[:NPS_CUSTOMERS]
    for customer_id in customers:
        rng = random.Random(customer_id * 7919)
        score = rng.choices(range(11), weights=[1, 1, 1, 1, 2, 2, 3, 6, 10, 14, 12])[0]
        at = now - dt.timedelta(days=rng.randint(1, 20))
        survey_response_record(ticket_id=None, customer_id=customer_id, kind="nps", score=score, source="email", at=at)
        answers += 1
    return answers
