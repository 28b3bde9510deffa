"""Domain errors of the tickets app; views and the API map them to HTTP answers."""


class TicketError(Exception):
    """Base of the tickets app's domain errors."""


class DuplicateMessage(TicketError):
    """This channel already holds a message with this external id: the delivery is a repeat."""

    def __init__(self, existing_message_id: int | None) -> None:
        super().__init__(f"duplicate of message {existing_message_id}")
        self.existing_message_id = existing_message_id


class InvalidTransition(TicketError):
    """The requested change is not allowed from the ticket's current state."""


class MergeNotAllowed(TicketError):
    """These two tickets cannot be merged (the same ticket, one already merged, a closed
    target, or different private-team visibility); the message says which."""


class SplitNotAllowed(TicketError):
    """This message cannot be split into a ticket of its own; the message says why."""


class MacroNotAllowed(TicketError):
    """The macro is not offered to this agent (another's personal macro, or inactive)."""


class CustomerMergeNotAllowed(TicketError):
    """These two customer records cannot be merged (the same record, or one of them was
    already merged into another); the message says which."""


class IdentityMoveNotAllowed(TicketError):
    """This identity cannot move to that customer (it is already theirs, or the target was merged)."""


class StaleEdit(TicketError):
    """The record changed since the form was opened; the edit was not applied."""


class OrganizationDomainTaken(TicketError):
    """An email domain belongs to another organization already."""


class SavedViewNameTaken(TicketError):
    """The agent already has a saved inbox view with this name."""
