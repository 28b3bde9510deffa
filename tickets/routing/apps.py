from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RoutingConfig(AppConfig):
    """Rules, assignment strategies, SLA policies and business-hours calendars."""

    name = "tickets.routing"
    label = "routing"
    verbose_name = "Routing, assignment and SLA"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The tickets app syncs the role groups after its own migrations, before this
        # app's permissions exist on a fresh database; sync again once they do.
        from tickets.roles import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, sender=self)

        # Routing keeps its rules compiled per process; saves of its setup tell it to reload.
        from tickets.routing.engine import connect_signals

        connect_signals()
