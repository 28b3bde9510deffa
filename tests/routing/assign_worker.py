"""A separate worker process for the concurrency test: assigns the tickets it is given.

``python -m tests.routing.assign_worker TEAM_ID TICKET_ID...`` against the database that
DATABASE_URL names; waits for the go file (all workers start at once), prints how many
tickets it assigned.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")


def main() -> None:
    import django

    django.setup()
    from tickets.routing import assignment

    go = Path(os.environ["ASSIGN_GO_FILE"])
    team_id, *ticket_ids = (int(a) for a in sys.argv[1:])
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    done = 0
    for ticket_id in ticket_ids:
        done += len(assignment.assign_tickets(team_id=team_id, ticket_ids=[ticket_id]))
    print(done)


if __name__ == "__main__":
    main()
