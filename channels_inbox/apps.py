from django.apps import AppConfig


class ChannelsInboxConfig(AppConfig):
    """Channel adapters and the single ingestion pipeline."""

    name = "channels_inbox"
    verbose_name = "Channels and inbound"
