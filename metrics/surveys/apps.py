from django.apps import AppConfig


class SurveysConfig(AppConfig):
    """CSAT, CES and NPS surveys: invitations, public answer pages, responses."""

    name = "metrics.surveys"
    label = "surveys"
    verbose_name = "Surveys"
