"""/manage/surveys/settings/: admins turn CSAT and CES on or off and change the wording."""

from __future__ import annotations

import pytest
from django.test import Client

from metrics.surveys.selectors import survey_settings_get
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


def _admin() -> Client:
    client = Client()
    client.force_login(AgentFactory(role="admin").user)
    return client


def test_an_admin_changes_the_settings_and_bad_values_are_refused():
    admin = _admin()
    page = admin.get("/manage/surveys/settings/")
    assert page.status_code == 200 and "Quiet period hours" in page.content.decode()

    values = {
        "csat_enabled": "on", "quiet_period_hours": "24", "link_expiry_days": "14",
        "csat_subject": "Rate #{{ ticket.number }}", "csat_intro": "", "csat_question": "Happy?",
        "ces_question": "Easy?", "nps_subject": "NPS", "nps_question": "Recommend?", "thanks_text": "Thanks!",
    }
    assert admin.post("/manage/surveys/settings/", values).status_code == 302
    conf = survey_settings_get()
    assert (conf.csat_enabled, conf.ces_enabled, conf.quiet_period_hours, conf.link_expiry_days) == (True, False, 24, 14)
    assert conf.csat_question == "Happy?"

    bad = admin.post("/manage/surveys/settings/", values | {"link_expiry_days": "0", "quiet_period_hours": "-1"})
    assert bad.status_code == 200
    assert "Choose between 1 and 365 days." in bad.content.decode()
    assert survey_settings_get().link_expiry_days == 14

    overview = admin.get("/manage/surveys/").content.decode()
    assert "CSAT survey: <strong>on</strong>" in overview and 'href="/manage/surveys/settings/"' in overview


def test_superusers_can_browse_surveys_in_the_django_admin():
    from metrics.surveys.services import survey_response_record
    from tests.factories import TicketFactory

    survey_response_record(ticket_id=TicketFactory().pk, kind="csat", score=3, source="email")
    admin = _admin()  # the factory's admins are superusers
    for model in ("surveyresponse", "surveyinvitation", "npscampaign"):
        assert admin.get(f"/admin/surveys/{model}/").status_code == 200
