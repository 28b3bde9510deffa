"""The core domain: customers (CRM), teams and agents, tickets, messages, events."""
from tickets.models.customer import Customer, CustomerIdentity, Organization, OrganizationDomain
from tickets.models.team import AgentProfile, Team
from tickets.models.ticket import Attachment, Message, Tag, Ticket, TicketEvent
from tickets.models.workspace import CompanyProfile, Macro, SavedView, TicketReadState

__all__ = [
    "AgentProfile",
    "Attachment",
    "CompanyProfile",
    "Customer",
    "CustomerIdentity",
    "Macro",
    "Message",
    "Organization",
    "OrganizationDomain",
    "SavedView",
    "Tag",
    "Team",
    "Ticket",
    "TicketEvent",
    "TicketReadState",
]
