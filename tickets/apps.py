from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TicketsConfig(AppConfig):
    """The core domain: tickets, customers, teams, agents."""

    name = "tickets"
    verbose_name = "Tickets"

    def ready(self) -> None:
        # Role groups need the permissions, which Django creates after migrating;
        # keeping them in sync after every migrate is setup, not core flow.
        from tickets.roles import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, sender=self)
