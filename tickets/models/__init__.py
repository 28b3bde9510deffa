"""The core domain: customers (CRM), teams and agents, tickets, messages, events."""
from tickets.models.customer import Customer, CustomerIdentity, Organization, OrganizationDomain
from tickets.models.team import AgentProfile, Team
from tickets.models.ticket import Attachment, Message, Tag, Ticket, TicketEvent

__all__ = [
    "AgentProfile",
    "Attachment",
    "Customer",
    "CustomerIdentity",
    "Message",
    "Organization",
    "OrganizationDomain",
    "Tag",
    "Team",
    "Ticket",
    "TicketEvent",
]
