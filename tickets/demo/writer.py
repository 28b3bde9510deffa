"""The demo's rows in the database: the setup rows one by one when missing, the tickets with
their messages, events and tags bulk-inserted per batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connections, models, router, transaction
from django.db.models import F, Max, Min, OuterRef, Subquery
from django.utils import timezone

from channels_inbox.models import Channel
from tickets.models import (
    AgentProfile,
    Customer,
    CustomerIdentity,
    Message,
    Organization,
    OrganizationDomain,
    Tag,
    Team,
    Ticket,
    TicketEvent,
)
from tickets.roles import ADMIN, AGENT, MANAGER

from .base import NUMBER, OUR_DOMAIN, ROW_BATCH, TICKET_BATCH
from .cast import CHANNELS, DEMO_WIDGET, LOGIN_PASSWORDS, ORGANIZATIONS, STAFF, TEAMS, Persona
from .story import World, schedule, ticket_story
from .topics import TOPICS


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


_EVENT_FIELDS = ("ticket", "kind", "actor_kind", "actor_user", "actor_customer", "message", "data", "created_at")


def _insert_rows(*, model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT many rows with multi-row statements, for rows whose ids nobody needs back.

    Events are two thirds of the rows; ``bulk_create`` spends most of its time compiling
    SQL value by value, which this skips (and ``executemany`` would pay one round trip per
    row on PostgreSQL). Values still go through each field's own ``get_db_prep_save``, so
    JSON and datetimes are adapted exactly as the ORM would.
    """
    if not rows:
        return
    opts = model._meta
    conn = connections[router.db_for_write(model)]  # the wrapper itself, not the thread-local proxy
    columns = [opts.get_field(name) for name in fields]
    per_statement = min(ROW_BATCH, (conn.features.max_query_params or 65_535) // len(columns))
    quote = conn.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(quote(opts.db_table), ", ".join(quote(f.column) for f in columns))
    placeholders = "({})".format(", ".join(["%s"] * len(columns)))
    with conn.cursor() as cursor:
        for chunk in chunks(rows, per_statement):
            params = [f.get_db_prep_save(v, conn) for row in chunk for f, v in zip(columns, row)]
            cursor.execute(head + ", ".join([placeholders] * len(chunk)), params)


class Output(Protocol):
    """Where progress lines go: a text stream or a management command's ``self.stdout``."""

    def write(self, text: str, /) -> object: ...


class Writer:
    """Creates what is missing and counts what it created (``created``: rows by kind).

    Progress lines go to ``stdout`` when given.
    """

    def __init__(self, *, stdout: Output | None = None) -> None:
        self.stdout = stdout
        self.created: dict[str, int] = {}

    def _count(self, name: str, n: int) -> None:
        self.created[name] = self.created.get(name, 0) + n

    # Setup rows: few, created one by one only when missing ----------------------------
    def teams(self) -> dict[str, int]:
        ids = {}
        for slug, name, is_private in TEAMS:
            team, made = Team.objects.get_or_create(slug=slug, defaults={"name": name, "is_private": is_private})
            ids[slug] = team.pk
            self._count("teams", int(made))
        return ids

    def staff(self, *, teams: dict[str, int]) -> dict[str, int]:
        """Staff users with their role group and agent profile. Existing users keep their
        password and flags (someone may have changed them); only what is missing is added."""
        from django.contrib.auth.models import Group

        User = get_user_model()
        existing = {u.username: u for u in User.objects.filter(username__in=[s.username for s in STAFF])}
        groups = {g.name: g for g in Group.objects.filter(name__in=(ADMIN, MANAGER, AGENT))}
        hashes: dict[str, str] = {}  # one hash per role: hashing is deliberately slow
        profiled = set(AgentProfile.objects.filter(user__username__in=[s.username for s in STAFF]).values_list("user__username", flat=True))
        ids = {}
        for spec in STAFF:
            user = existing.get(spec.username)
            if user is None:
                if spec.role not in hashes:
                    hashes[spec.role] = make_password(LOGIN_PASSWORDS[spec.role])
                user = User.objects.create(
                    username=spec.username,
                    first_name=spec.first_name,
                    last_name=spec.last_name,
                    email=f"{spec.username}@{OUR_DOMAIN}",
                    password=hashes[spec.role],
                    is_staff=True,
                    is_superuser=spec.role == ADMIN,
                )
                user.groups.add(groups[spec.role])
                self._count("staff users", 1)
            ids[spec.username] = user.pk
            if spec.username not in profiled:
                profile = AgentProfile.objects.create(
                    user=user,
                    display_name=f"{spec.first_name} {spec.last_name}",
                    skills=list(spec.skills),
                    capacity=spec.capacity,
                    availability=spec.availability,
                    availability_changed_at=timezone.now() - dt.timedelta(minutes=37),
                )
                profile.teams.set([teams[slug] for slug in spec.teams])
                self._count("agent profiles", 1)
        return ids

    def channels(self, *, teams: dict[str, int]) -> dict[str, Channel]:
        channels = {}
        for kind, name, team, address in CHANNELS:
            lookup = {"inbound_address": address} if address else {"kind": kind, "name": name}
            channel = Channel.objects.filter(**lookup).order_by("pk").first()
            if channel is None:
                channel = Channel.objects.create(
                    kind=kind,
                    name=name,
                    inbound_address=address,
                    default_team_id=teams[team],
                    config={"widget": DEMO_WIDGET} if kind == Channel.Kind.CHAT else {},
                )
                self._count("channels", 1)
            channels[kind] = channel
        return channels

    def organizations(self) -> list[int]:
        ids = []
        for name, domains, plan in ORGANIZATIONS:
            link = OrganizationDomain.objects.filter(domain=domains[0]).first()
            if link is None:
                org = Organization.objects.create(
                    name=name, notes=f"{plan} customer since 2023.", custom_attributes={"plan": plan}
                )
                OrganizationDomain.objects.bulk_create(
                    [OrganizationDomain(organization=org, domain=d) for d in domains], ignore_conflicts=True
                )
                self._count("organizations", 1)
                ids.append(org.pk)
            else:
                ids.append(link.organization_id)
        return ids

    def tags(self) -> None:
        names = sorted({name for topic in TOPICS for name in topic.tags} | {"vip"})
        have = set(Tag.objects.filter(name__in=names).values_list("name", flat=True))
        Tag.objects.bulk_create([Tag(name=n) for n in names if n not in have], ignore_conflicts=True)

    def customers(self, *, personas: list[Persona], organization_ids: list[int], now: dt.datetime) -> list[int]:
        """Customer ids by persona index; a persona is present when its first identity is."""
        ids: dict[tuple[str, str], int] = {}
        by_kind: dict[str, list[str]] = {}
        for p in personas:
            kind, address, _ = p.identities[0]
            by_kind.setdefault(kind, []).append(address)
        for kind, addresses in by_kind.items():
            for chunk in chunks(addresses, 500):
                rows = CustomerIdentity.objects.filter(kind=kind, address__in=chunk).values_list("address", "customer_id")
                ids.update({(kind, a): c for a, c in rows})
        missing = [p for p in personas if p.identities[0][:2] not in ids]
        for chunk in chunks(missing, 2000):
            with transaction.atomic():
                customers = [
                    Customer(
                        name=p.name,
                        organization_id=organization_ids[p.organization] if p.organization is not None else None,
                        language="en",
                        time_zone=p.time_zone,
                        tier=p.tier,
                        custom_attributes={"plan": ORGANIZATIONS[p.organization][2]} if p.organization is not None else {},
                        first_seen_at=now - dt.timedelta(days=p.first_seen_at_days),
                        last_seen_at=now - dt.timedelta(days=p.first_seen_at_days),
                    )
                    for p in chunk
                ]
                Customer.objects.bulk_create(customers, batch_size=ROW_BATCH)
                identities = [
                    CustomerIdentity(
                        customer=customer,
                        kind=kind,
                        address=address,
                        display_name=display,
                        is_verified=kind in (CustomerIdentity.Kind.PHONE, CustomerIdentity.Kind.WHATSAPP),
                    )
                    for p, customer in zip(chunk, customers)
                    for kind, address, display in p.identities
                ]
                CustomerIdentity.objects.bulk_create(identities, batch_size=ROW_BATCH, ignore_conflicts=True)
                ids.update({p.identities[0][:2]: customer.pk for p, customer in zip(chunk, customers)})
                self._count("customers", len(customers))
                self._count("identities", len(identities))
        return [ids[p.identities[0][:2]] for p in personas]

    # Tickets: planned in memory, bulk-inserted per batch -------------------------------
    def tickets(self, *, world: World, start: int, size: int) -> None:
        times = schedule(count=size - start, start=start, size=size, now=world.now)
        tags = dict(Tag.objects.values_list("name", "pk"))
        touched: set[int] = set()
        for offset in range(0, size - start, TICKET_BATCH):
            batch = range(start + offset, min(start + offset + TICKET_BATCH, size))
            stories = [ticket_story(index=i, created_at=times[i - start], world=world) for i in batch]
            with transaction.atomic():
                tickets = [s.ticket for s in stories]
                Ticket.objects.bulk_create(tickets, batch_size=ROW_BATCH)
                for chunk in chunks([t.pk for t in tickets], 500):
                    Ticket.objects.filter(pk__in=chunk).update(number=F("id"))
                messages = []
                for story in stories:
                    story.ticket.number = story.ticket.pk
                    number = str(story.ticket.pk)
                    for m in story.messages:
                        if story.kind == "email":
                            m.subject = m.subject.replace(NUMBER, number)
                            m.external_id = m.external_id.replace(NUMBER, number) if m.external_id else m.external_id
                            m.in_reply_to = m.in_reply_to.replace(NUMBER, number)
                            m.references = m.references.replace(NUMBER, number)
                        messages.append(m)
                Message.objects.bulk_create(messages, batch_size=ROW_BATCH)
                events = [
                    (s.ticket.pk, e.kind, e.who.kind, e.who.user_id, e.who.customer_id, e.message.pk if e.message else None, e.data, e.at)
                    for s in stories
                    for e in s.events
                ]
                _insert_rows(model=TicketEvent, fields=_EVENT_FIELDS, rows=events)
                links = [(s.ticket.pk, tags[n]) for s in stories for n in s.tag_names]
                _insert_rows(model=Ticket.tags.through, fields=("ticket", "tag"), rows=links)
            touched.update(t.customer_id for t in tickets)
            self._count("tickets", len(tickets))
            self._count("messages", len(messages))
            self._count("events", len(events))
            if self.stdout is not None:
                self.stdout.write(f"  {batch.stop}/{size} tickets\n")
        self._customers_seen(customer_ids=sorted(touched))

    def _customers_seen(self, *, customer_ids: list[int]) -> None:
        """first/last seen from the customers' tickets, so the CRM agrees with the history."""
        tickets = Ticket.objects.filter(customer=OuterRef("pk")).order_by().values("customer")
        first = tickets.annotate(v=Min("created_at")).values("v")
        last = tickets.annotate(v=Max("last_customer_activity_at")).values("v")
        with transaction.atomic():
            for chunk in chunks(customer_ids, 500):
                Customer.objects.filter(pk__in=chunk).update(first_seen_at=Subquery(first), last_seen_at=Subquery(last))
