"""Indexes for the inbox's views and sorts, and full-text search on PostgreSQL.

Built here with the schema editor rather than declared in the models' Meta, because some
exist only on PostgreSQL (GIN over ``to_tsvector``, a pattern index) and the rest are
expression/partial indexes whose expressions must be exactly those the selectors emit
(tickets/selectors/inbox.py ``priority_rank``/``sla_due``, tickets/selectors/search.py;
tests/tickets/test_search.py and test_inbox_indexes compare them). SQLite gets the b-tree ones too.

Search keeps no vector column: an expression GIN index costs ingestion only its index
update, with no Python per message and no table rewrite on a large database. Statistics
on the indexed expressions are raised to 1000 so a rare word is estimated as rare and
PostgreSQL uses the GIN index instead of walking the whole table (shared/FLOORS.md).
"""

from django.db import migrations
from django.db.models import Case, DateTimeField, F, Index, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce, Least

UNSOLVED = ("new", "open", "pending", "on_hold")


def _priority_rank():
    return Case(
        When(priority="urgent", then=Value(3)),
        When(priority="high", then=Value(2)),
        When(priority="normal", then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )


def _sla_due():
    first = Case(
        When(first_response_at__isnull=True, then=F("sla_first_response_due_at")),
        default=Value(None),
        output_field=DateTimeField(),
    )
    resolution = F("sla_resolution_due_at")
    return Least(
        Coalesce(first, resolution, output_field=DateTimeField()),
        Coalesce(resolution, first, output_field=DateTimeField()),
        output_field=DateTimeField(),
    )


def _btree_indexes():
    unsolved = Q(status__in=UNSOLVED)
    return [
        # "All open", sorted by latest activity.
        Index(
            F("updated_at").desc(),
            F("id").desc(),
            name="ticket_unsolved_updated",
            condition=unsolved,
        ),
        # Any view without a status preset (saved views, filters), latest activity first.
        Index(F("updated_at").desc(), F("id").desc(), name="ticket_updated_id"),
        # Newest first within a status.
        Index(
            "status",
            F("created_at").desc(),
            F("id").desc(),
            name="ticket_status_created",
        ),
        # Priority sort of the unsolved queue: (rank, updated_at, id) all descending.
        Index(
            _priority_rank().desc(),
            F("updated_at").desc(),
            F("id").desc(),
            name="ticket_unsolved_priority",
            condition=unsolved,
        ),
        # SLA due sort: soonest deadline first.
        Index(_sla_due(), "id", name="ticket_unsolved_sla_due", condition=unsolved),
        # "SLA at risk": a BitmapOr of these two small partial indexes.
        Index(
            "sla_first_response_due_at",
            name="ticket_sla_first_due",
            condition=unsolved
            & Q(
                first_response_at__isnull=True, sla_first_response_due_at__isnull=False
            ),
        ),
        Index(
            "sla_resolution_due_at",
            name="ticket_sla_resolution_due",
            condition=unsolved & Q(sla_resolution_due_at__isnull=False),
        ),
    ]


def _search_indexes(apps):
    from django.contrib.postgres.indexes import GinIndex
    from django.contrib.postgres.search import SearchVector

    return [
        (
            apps.get_model("tickets", "Message"),
            GinIndex(
                SearchVector("text", config="english"), name="message_text_search"
            ),
        ),
        (
            apps.get_model("tickets", "Ticket"),
            GinIndex(
                SearchVector("subject", config="english"), name="ticket_subject_search"
            ),
        ),
        (
            apps.get_model("tickets", "Customer"),
            GinIndex(
                SearchVector("name", config="simple"), name="customer_name_search"
            ),
        ),
        (
            apps.get_model("tickets", "CustomerIdentity"),
            Index(
                fields=["address"],
                opclasses=["varchar_pattern_ops"],
                name="identity_address_prefix",
            ),
        ),
    ]


def forwards(apps, schema_editor):
    ticket = apps.get_model("tickets", "Ticket")
    for index in _btree_indexes():
        schema_editor.add_index(ticket, index)
    if schema_editor.connection.vendor != "postgresql":
        return
    for model, index in _search_indexes(apps):
        schema_editor.add_index(model, index)
        if index.name != "identity_address_prefix":
            schema_editor.execute(
                f"ALTER INDEX {schema_editor.quote_name(index.name)} ALTER COLUMN 1 SET STATISTICS 1000"
            )


def backwards(apps, schema_editor):
    ticket = apps.get_model("tickets", "Ticket")
    if schema_editor.connection.vendor == "postgresql":
        for model, index in _search_indexes(apps):
            schema_editor.remove_index(model, index)
    for index in _btree_indexes():
        schema_editor.remove_index(ticket, index)


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0003_workspace"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
