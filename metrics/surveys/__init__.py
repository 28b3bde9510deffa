"""Customer surveys (issue 6): CSAT after a solve, CES on the same page, NPS campaigns.

Other apps record answers only through :func:`metrics.surveys.services.survey_response_record`
and read :class:`metrics.surveys.models.SurveyResponse`.
"""
