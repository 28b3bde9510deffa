"""The shape of the topic data: a topic is a few cases, and a case holds every line of one
ticket's conversation, so a ticket's subject, messages and notes are all about one thing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One problem within a topic, with each line the story may use for it.

    A ticket draws one case and takes all its topic lines from it. The agent either solves
    the ticket with ``answer`` at once; or answers, hears ``follow_up`` back and ends with
    ``resolution``; or puts it on hold with ``hold`` and comes back with ``resolution``. So
    ``answer`` is a fix or an explanation (never a question), ``follow_up`` is what is still
    missing after it, and ``resolution`` settles the matter after either. Lines may use the
    placeholders of the story's ``fill`` ({order}, {amount}, {browser}, ...).
    """

    subjects: tuple[str, ...]  # wordings of the email (or API) subject for this problem
    ask: str  # the customer's first email, without greeting and signature
    chat: str  # the same request as a chat or social message
    answer: str  # the agent's first reply
    follow_up: str  # the customer's answer to it
    hold: str  # the agent's first reply when someone else (engineering, the carrier) must act first
    resolution: str  # the agent's last reply
    note: str  # an internal note


@dataclass(frozen=True)
class Topic:
    """What a ticket is about: who owns it, how it is tagged, and its cases."""

    key: str
    team: str
    tags: tuple[str, ...]
    weight: int
    priority: str
    sentiment: tuple[float, float]
    cases: tuple[Case, ...]
    reopen: str  # the customer, when a solved ticket of any case of the topic comes back
    reopen_reply: str  # the agent, solving it again
