"""Helpers of the survey tests: solve a ticket with its on-commit work run, read the links."""

from __future__ import annotations

import re

import pytest

from tickets import services as ticket_services
from tickets.events import Actor

LINK_RE = re.compile(r"(\d+) - [^:]+: (http://\S+)")


@pytest.fixture
def solve(django_capture_on_commit_callbacks, agent_user):
    """Solve a ticket as an agent and run what its commit queues (the CSAT task, delivery)."""

    def run(ticket, *, status: str = "solved"):
        with django_capture_on_commit_callbacks(execute=True):
            return ticket_services.ticket_change_status(ticket=ticket, status=status, actor=Actor.agent(agent_user))

    return run


def rating_links(body: str) -> dict[int, str]:
    """score -> link, as written in the CSAT email's text."""
    return {int(score): url for score, url in LINK_RE.findall(body)}


def local(url: str) -> str:
    """The path and query of an absolute survey link, for the test client."""
    return re.sub(r"^https?://[^/]+", "", url)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """The per-IP counters live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
