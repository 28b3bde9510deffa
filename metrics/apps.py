from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """Surveys, per-ticket measurements, rollups and dashboards (computed on Celery)."""

    name = "metrics"
    verbose_name = "Metrics"
