"""One factory per model (factory-boy)."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from channels_inbox.models import Channel, InboundMessage
from tickets.models import (
    AgentProfile,
    Attachment,
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


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    kind = Channel.Kind.EMAIL
    name = factory.Sequence(lambda n: f"Channel {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Alex"
    last_name = factory.Sequence(lambda n: f"Agent{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@parley.test")
    password = factory.django.Password("correct horse battery staple")


class AgentFactory(factory.django.DjangoModelFactory):
    """An AgentProfile with a staff user in a role group: ``AgentFactory(role="manager")``."""

    class Meta:
        model = AgentProfile
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, is_staff=True)
    availability = AgentProfile.Availability.AVAILABLE

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if not create:
            return
        from tickets.roles import roles_sync

        role = extracted or "agent"
        group = Group.objects.filter(name=role).first() or roles_sync()[role]
        self.user.groups.add(group)
        if role == "admin":
            self.user.is_superuser = True
            self.user.save(update_fields=["is_superuser"])


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")


class OrganizationDomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrganizationDomain

    organization = factory.SubFactory(OrganizationFactory)
    domain = factory.Sequence(lambda n: f"org{n}.example")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    first_seen_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.LazyFunction(timezone.now)


class CustomerIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerIdentity

    customer = factory.SubFactory(CustomerFactory)
    kind = CustomerIdentity.Kind.EMAIL
    address = factory.Sequence(lambda n: f"customer{n}@example.com")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag{n}")


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket
        skip_postgeneration_save = True

    subject = factory.Sequence(lambda n: f"Ticket subject {n}")
    channel = factory.SubFactory(ChannelFactory)
    customer = factory.SubFactory(CustomerFactory)
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def _number(self, create, extracted, **kwargs):
        if create and self.number is None:
            self.number = self.pk
            Ticket.objects.filter(pk=self.pk).update(number=self.pk)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    ticket = factory.SubFactory(TicketFactory)
    channel = factory.SelfAttribute("ticket.channel")
    direction = Message.Direction.INBOUND
    author_kind = Message.AuthorKind.CUSTOMER
    author_customer = factory.SelfAttribute("ticket.customer")
    text = "Hello, I need help."
    created_at = factory.LazyFunction(timezone.now)


class AttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attachment

    message = factory.SubFactory(MessageFactory)
    filename = "notes.txt"
    size = 5
    content_type = "text/plain"


class TicketEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TicketEvent

    ticket = factory.SubFactory(TicketFactory)
    kind = TicketEvent.Kind.CREATED
    created_at = factory.LazyFunction(timezone.now)


class InboundMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundMessage

    channel = factory.SubFactory(ChannelFactory)
    raw = b"From: someone@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


# --- Routing (issue 5) ------------------------------------------------------------------

from tickets.routing.models import (  # noqa: E402
    BusinessHours,
    Holiday,
    Rule,
    RuleFiring,
    SLAPolicy,
    SLATarget,
    TeamRouting,
    TicketRouting,
)


class BusinessHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessHours

    name = factory.Sequence(lambda n: f"Calendar {n}")
    time_zone = "Europe/Berlin"
    schedule = factory.LazyFunction(lambda: {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")})


class HolidayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Holiday

    calendar = factory.SubFactory(BusinessHoursFactory)
    date = factory.LazyFunction(lambda: timezone.now().date())
    name = "Holiday"


class SLAPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SLAPolicy

    name = factory.Sequence(lambda n: f"SLA {n}")


class SLATargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SLATarget

    policy = factory.SubFactory(SLAPolicyFactory)
    priority = "normal"
    first_response_minutes = 60
    resolution_minutes = 480


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rule

    name = factory.Sequence(lambda n: f"Rule {n}")
    conditions = factory.LazyFunction(list)
    actions = factory.LazyFunction(lambda: [{"type": "add_tags", "tags": ["ruled"]}])


class RuleFiringFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RuleFiring

    rule = factory.SubFactory(RuleFactory)
    ticket = factory.SubFactory(TicketFactory)
    fired_at = factory.LazyFunction(timezone.now)


class TeamRoutingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamRouting

    team = factory.SubFactory(TeamFactory)
    strategy = TeamRouting.Strategy.ROUND_ROBIN


class TicketRoutingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TicketRouting

    ticket = factory.SubFactory(TicketFactory)
