"""Inbox speed at 1,000,000 tickets: one more sort index, and statistics for 0004's indexes.

- ``ticket_unsolved_created``: the "Newest" sort of the unsolved views. The
  (status, created_at, id) index cannot give one order across four statuses, so without
  it PostgreSQL sorted all unsolved tickets (55,000 in the bench data) on every page.
  Filters on the views (team, channel, priority, tag) do not get indexes of their own:
  they are tests on the rows of the sort's index walk, which stops after one page, and
  the selective ones (assignee, customer, organization) have their own indexes.
- ``ANALYZE`` of the tables 0004_search indexed by expression: PostgreSQL keeps no
  statistics for an expression index until the table is analyzed, and autovacuum does
  not analyze for a new index. Without them a rare word was estimated as common and
  walked the message primary key backwards (114 s at 5,000,000 messages; 4.6 ms after
  ANALYZE). Cheap next to building those indexes; PostgreSQL only.

Built with the schema editor, like 0004, so the models' state does not change.
"""

from django.db import migrations
from django.db.models import F, Index, Q

UNSOLVED = ("new", "open", "pending", "on_hold")
ANALYZED_TABLES = ("tickets_ticket", "tickets_message", "tickets_customer")


def _indexes():
    return [
        Index(
            F("created_at").desc(),
            F("id").desc(),
            name="ticket_unsolved_created",
            condition=Q(status__in=UNSOLVED),
        ),
    ]


def forwards(apps, schema_editor):
    ticket = apps.get_model("tickets", "Ticket")
    for index in _indexes():
        schema_editor.add_index(ticket, index)
    if schema_editor.connection.vendor == "postgresql":
        for table in ANALYZED_TABLES:
            schema_editor.execute(f"ANALYZE {schema_editor.quote_name(table)}")


def backwards(apps, schema_editor):
    ticket = apps.get_model("tickets", "Ticket")
    for index in _indexes():
        schema_editor.remove_index(ticket, index)


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0004_search"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
