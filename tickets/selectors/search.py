"""Search across ticket subjects, message text and customers (names, identities' addresses).

PostgreSQL (full mode): full-text search on expression GIN indexes made by migration
0004_search (``to_tsvector('english', COALESCE(text, ''))`` on messages and subjects,
``'simple'`` on customer names; a pattern index on identity addresses). No vector column
is stored and nothing runs in Python per message, so ingestion pays only the index
update. The expressions below are the very ones indexed; keep them in step with the
migration (tests/tickets/test_search.py checks the plan uses the indexes).

Ranking follows shared/FLOORS.md: a common word matches hundreds of thousands of
messages, so each source contributes only its newest ``SEARCH_CANDIDATES`` matches, and
only those candidates are ranked (ts_rank), never every match.

SQLite (embedded): every word must appear (icontains) in the subject, a message, the
customer's name or one of their addresses; no ranking (the relevance sort falls back to
latest activity).
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connections
from django.db.models import (
    Case,
    Exists,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest

from tickets.models import Customer, CustomerIdentity, Message, Ticket

SEARCH_CANDIDATES = 200
SEARCH_MAX_LENGTH = 200
TEXT_CONFIG = "english"
NAME_CONFIG = "simple"


def search_supports_rank(using: str = "default") -> bool:
    return connections[using].vendor == "postgresql"


def message_vector() -> SearchVector:
    return SearchVector("text", config=TEXT_CONFIG)


def subject_vector() -> SearchVector:
    return SearchVector("subject", config=TEXT_CONFIG)


def customer_name_vector() -> SearchVector:
    return SearchVector("name", config=NAME_CONFIG)


def ticket_search(
    qs: QuerySet[Ticket], text: str, *, rank: bool = False
) -> QuerySet[Ticket]:
    """Narrow ``qs`` to tickets matching ``text``; with ``rank`` (PostgreSQL) annotate
    ``search_rank`` for the relevance sort."""
    text = " ".join(text.split())[:SEARCH_MAX_LENGTH]
    if not text:
        return qs
    if connections[qs.db].vendor == "postgresql":
        return _postgres_search(qs, text, rank=rank)
    return _fallback_search(qs, text)


def _candidate_ids(
    text: str, query: SearchQuery, name_query: SearchQuery, using: str
) -> tuple[RawSQL, Q]:
    """The ids of at most ``3 * SEARCH_CANDIDATES`` tickets: one UNION of the newest N
    message hits, subject hits and tickets of matching customers; and the test "is the
    ticket's customer one searched for" (for the rank).

    Why one list: ``pk IN (messages) OR pk IN (subjects) OR pk IN (customers)`` cannot be
    an index condition, so PostgreSQL read every ticket with three hashed subplans (seconds
    at 1,000,000 tickets, even for a rare word). A single ``pk IN (union)`` of a few
    hundred ids is a nested loop over the primary key. Customers' tickets are read through
    ``customer_id = ANY(ARRAY(…))`` on the (customer, created_at) index: as a semi-join
    PostgreSQL walked all tickets newest first waiting for a customer that never came.
    """
    message_hits = (
        Message.objects.alias(v=message_vector())
        .filter(v=query)
        .order_by("-id")
        .values("ticket_id")[:SEARCH_CANDIDATES]
    )
    subject_hits = (
        Ticket.objects.alias(v=subject_vector())
        .filter(v=query)
        .order_by("-id")
        .values("pk")[:SEARCH_CANDIDATES]
    )
    customer_ids = (
        Customer.objects.alias(v=customer_name_vector())
        .filter(v=name_query)
        .values("pk")[:SEARCH_CANDIDATES]
    )
    address_ids = CustomerIdentity.objects.filter(
        address__startswith=text.lower()
    ).values("customer_id")[:SEARCH_CANDIDATES]
    parts, params = [], []
    for sub in (message_hits, subject_hits, customer_ids, address_ids):
        sql, sub_params = sub.query.get_compiler(using=using).as_sql()
        parts.append(sql)
        params.extend(sub_params)
    ticket = Ticket._meta.db_table
    sql = (
        f"SELECT c.id FROM (({parts[0]}) UNION ({parts[1]}) UNION "
        f"(SELECT t.id FROM {ticket} t WHERE t.customer_id = ANY(ARRAY(({parts[2]}) UNION ({parts[3]}))) "
        f"ORDER BY t.customer_id, t.created_at DESC LIMIT {int(SEARCH_CANDIDATES)})) AS c(id)"
    )
    return RawSQL(sql, params), Q(customer_id__in=customer_ids) | Q(
        customer_id__in=address_ids
    )


def _postgres_search(
    qs: QuerySet[Ticket], text: str, *, rank: bool
) -> QuerySet[Ticket]:
    query = SearchQuery(text, config=TEXT_CONFIG, search_type="websearch")
    name_query = SearchQuery(text, config=NAME_CONFIG, search_type="websearch")
    candidates, customer_matches = _candidate_ids(text, query, name_query, qs.db)
    qs = qs.filter(pk__in=candidates)
    if not rank:
        return qs
    # Rank only the candidates (FLOORS: rank the newest N matches): the subject, and the
    # ticket's messages that match — found through the ticket's own messages, a few each.
    best_message = (
        Message.objects.filter(ticket_id=OuterRef("pk"))
        .alias(v=message_vector())
        .filter(v=query)
        .annotate(r=SearchRank(message_vector(), query))
        .order_by("-r")
        .values("r")[:1]
    )
    zero = Value(0.0, output_field=FloatField())
    return qs.annotate(
        search_rank=Greatest(
            # A word in the subject weighs double; a ticket that matched only through
            # its customer ranks like a modest text match.
            Coalesce(SearchRank(subject_vector(), query), zero) * Value(2.0),
            Coalesce(Subquery(best_message, output_field=FloatField()), zero),
            Case(
                When(customer_matches, then=Value(0.1)),
                default=zero,
                output_field=FloatField(),
            ),
            output_field=FloatField(),
        )
    )


def _fallback_search(qs: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    for word in text.split()[:8]:
        qs = qs.filter(
            Q(subject__icontains=word)
            | Q(customer__name__icontains=word)
            | Exists(
                Message.objects.filter(ticket_id=OuterRef("pk"), text__icontains=word)
            )
            | Exists(
                CustomerIdentity.objects.filter(
                    customer_id=OuterRef("customer_id"), address__icontains=word
                )
            )
        )
    return qs
