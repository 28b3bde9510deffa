from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Subscriptions (endpoints), the delivery log, and the Celery delivery task."""

    name = "tickets.webhooks"
    label = "webhooks"
    verbose_name = "Outgoing webhooks"
    default_auto_field = "django.db.models.BigAutoField"
