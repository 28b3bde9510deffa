from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API under /api/: API keys, scopes, idempotency records (label ``api``)."""

    name = "tickets.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        # Registers the OpenAPI extensions (bearer keys, the session) with drf-spectacular.
        from tickets.api import schema  # noqa: F401
