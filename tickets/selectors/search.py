"""Search across ticket subjects, message text and customers (names, identities' addresses).

PostgreSQL (full mode): full-text search on expression GIN indexes made by migration
0004_search (``to_tsvector('english', COALESCE(text, ''))`` on messages and subjects,
``'simple'`` on customer names; a pattern index on identity addresses). No vector column
is stored and nothing runs in Python per message, so ingestion pays only the index
update. The expressions below are the very ones indexed; keep them in step with the
migration (tests/tickets/test_search.py checks the plan uses the indexes).

Ranking follows shared/FLOORS.md: a common word matches hundreds of thousands of
messages, so each source contributes only its newest ``SEARCH_CANDIDATES`` matches, and
only those candidates are ranked (ts_rank), never every match: a ticket's message rank is
the best of its own message hits among them, read with the candidates in one query.

SQLite (embedded): every word must appear (icontains) in the subject, a message, the
customer's name or one of their addresses; no ranking (the relevance sort falls back to
latest activity).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connections
from django.db.models import (
    Case,
    Exists,
    Expression,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
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


def _candidates_sql(
    text: str, query: SearchQuery, name_query: SearchQuery, using: str, *, ranked: bool
) -> tuple[str, list[Any]]:
    """At most ``3 * SEARCH_CANDIDATES`` tickets: one UNION of the newest N message hits,
    subject hits and tickets of matching customers. ``ranked``: rows of (ticket id, best
    ``ts_rank`` among its message hits, 0 when it came by subject or customer only);
    else one id column.

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
    )
    if ranked:
        message_hits = message_hits.annotate(r=SearchRank(message_vector(), query))
    message_hits = message_hits.values("ticket_id", *(["r"] if ranked else []))[:SEARCH_CANDIDATES]
    subject_hits = (
        Ticket.objects.alias(v=subject_vector())
        .filter(v=query)
        .order_by("-id")
        .values("pk")[:SEARCH_CANDIDATES]
    )
    customer_ids, address_ids = _customer_hits(text, name_query)
    parts, params = [], []
    for sub in (message_hits, subject_hits, customer_ids, address_ids):
        sql, sub_params = sub.query.get_compiler(using=using).as_sql()
        parts.append(sql)
        params.extend(sub_params)
    ticket = Ticket._meta.db_table
    # Below: ORM-compiled SQL and table names formatted in, every value a bound parameter.
    customers_tickets = (
        f"SELECT t.id FROM {ticket} t WHERE t.customer_id = ANY(ARRAY(({parts[2]}) UNION ({parts[3]}))) "  # noqa: S608
        f"ORDER BY t.customer_id, t.created_at DESC LIMIT {int(SEARCH_CANDIDATES)}"
    )
    if not ranked:
        return f"SELECT c.id FROM (({parts[0]}) UNION ({parts[1]}) UNION ({customers_tickets})) AS c(id)", params  # noqa: S608
    return (
        f"SELECT c.id, MAX(c.r) FROM (({parts[0]}) UNION ALL (SELECT s.pk, 0.0 FROM ({parts[1]}) AS s(pk)) "  # noqa: S608
        f"UNION ALL (SELECT k.id, 0.0 FROM ({customers_tickets}) AS k(id))) AS c(id, r) GROUP BY c.id",
        params,
    )


def _customer_hits(text: str, name_query: SearchQuery) -> tuple[QuerySet[Any], QuerySet[Any]]:
    """Ids of customers whose name matches, and of customers with an address starting so."""
    customer_ids = (
        Customer.objects.alias(v=customer_name_vector())
        .filter(v=name_query)
        .values("pk")[:SEARCH_CANDIDATES]
    )
    address_ids = CustomerIdentity.objects.filter(
        address__startswith=text.lower()
    ).values("customer_id")[:SEARCH_CANDIDATES]
    return customer_ids, address_ids


class _RankOf(Expression):
    """A ticket's rank read from a ``{ticket id: rank}`` map passed as one JSON parameter
    (0 for a ticket not in it)."""

    output_field = FloatField()

    def __init__(self, ranks: dict[int, float]) -> None:
        super().__init__(output_field=FloatField())
        self.ranks = json.dumps({str(pk): float(r) for pk, r in ranks.items()})
        self.ticket_id = F("pk")

    def get_source_expressions(self) -> list[Any]:
        return [self.ticket_id]

    def set_source_expressions(self, exprs: list[Any]) -> None:
        (self.ticket_id,) = exprs

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        ticket_id, params = compiler.compile(self.ticket_id)
        return f"COALESCE((%s::jsonb ->> ({ticket_id})::text)::real, 0.0)", [self.ranks, *params]


def _postgres_search(
    qs: QuerySet[Ticket], text: str, *, rank: bool
) -> QuerySet[Ticket]:
    query = SearchQuery(text, config=TEXT_CONFIG, search_type="websearch")
    name_query = SearchQuery(text, config=NAME_CONFIG, search_type="websearch")
    if not rank:
        sql, params = _candidates_sql(text, query, name_query, qs.db, ranked=False)
        return qs.filter(pk__in=RawSQL(sql, params))  # noqa: S611 (compiled above, values bound)
    # Ranked (FLOORS: rank the newest N matches): the candidates are read first, each with
    # the best rank of its own message hits, in one query; the page's query then takes
    # them as a list of ids and a map of ranks. Why: as subqueries of the page's query,
    # the newest message hits (``to_tsvector`` of each message walked until N match) were
    # needed twice, once to choose the candidates and once more to rank them, and ranking
    # each candidate against all of its own messages parsed ~2,000 messages for a common
    # word (~70 ms of 95 at 1,000,000 tickets, bench/README.md run 4). One more query, the
    # same count whatever the data (an empty list is still a query: ``= ANY('{}')``).
    sql, params = _candidates_sql(text, query, name_query, qs.db, ranked=True)
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        ranks = {int(pk): float(r or 0.0) for pk, r in cursor.fetchall()}
    qs = qs.filter(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [list(ranks)]))
    customer_ids, address_ids = _customer_hits(text, name_query)
    zero = Value(0.0, output_field=FloatField())
    return qs.annotate(
        search_rank=Greatest(
            # A word in the subject weighs double; a ticket that matched only through
            # its customer ranks like a modest text match.
            Coalesce(SearchRank(subject_vector(), query), zero) * Value(2.0),
            _RankOf(ranks),
            Case(
                When(Q(customer_id__in=customer_ids) | Q(customer_id__in=address_ids), then=Value(0.1)),
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
