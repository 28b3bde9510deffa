"""What every part of the demo shares: the seed, the sizes, our addresses."""

from __future__ import annotations

import datetime as dt
import hashlib
import random

SEED = 20_251_123
DEFAULT_SIZE = 1000
MIN_CUSTOMERS = 200
TICKETS_PER_CUSTOMER = 5
WINDOW = dt.timedelta(days=60)
# A solved ticket is closed by the system this long after it was solved (as helpdesks do).
CLOSE_AFTER = dt.timedelta(days=4)
# Tickets per transaction: big enough to amortise the round trips, small enough that a
# 100k run keeps little in memory and an interrupted run resumes where it stopped.
TICKET_BATCH = 500
ROW_BATCH = 1000
# Stands for the ticket number in email headers and subjects until the ticket has its id.
NUMBER = "\x00number\x00"
SUPPORT_ADDRESS = "support@parley.localhost"
OUR_DOMAIN = "parley.localhost"


def rng_for(*parts: object) -> random.Random:
    """A generator of its own for one customer or ticket, so each comes out the same
    whatever was generated before it (a resumed run continues the same data set)."""
    return random.Random(":".join(str(p) for p in (SEED, *parts)))


def digest(*parts: object, length: int = 40) -> str:
    """A stable, practically unique hex id for external ids that must not collide."""
    return hashlib.sha1(":".join(str(p) for p in (SEED, *parts)).encode()).hexdigest()[:length]
