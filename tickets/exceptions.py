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
