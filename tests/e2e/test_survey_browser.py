"""The survey page in a real browser: a rating link posts itself (the script), a browser
without scripts gets a button, and the comment form saves."""

from __future__ import annotations

import pytest

from metrics.surveys.models import SurveyResponse
from metrics.surveys.services import survey_invitation_record
from metrics.surveys.tokens import survey_token_make
from tests.e2e.conftest import screenshot
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rating_link_records_the_score_in_one_click_then_takes_a_comment(page, browser, live_asgi):
    ticket = TicketFactory(status="solved")
    invitation = survey_invitation_record(ticket_id=ticket.pk, via="email")
    path = f"/s/{survey_token_make(invitation.pk)}/"

    page.goto(f"{path}?score=2")
    page.get_by_text("Your rating: 2").wait_for()
    assert SurveyResponse.objects.get().score == 2

    page.get_by_label("Anything you would like to add? (optional)").fill("Took three emails.")
    page.get_by_role("button", name="Send", exact=True).click()
    page.get_by_text("Your comments were saved.").wait_for()
    screenshot(page, "survey-page")
    assert SurveyResponse.objects.get().comment == "Took three emails."

    # Without scripts nothing is sent until the customer presses the button.
    context = browser.new_context(base_url=live_asgi.url, java_script_enabled=False)
    try:
        plain = context.new_page()
        plain.goto(f"{path}?score=5")
        assert SurveyResponse.objects.get().score == 2
        plain.get_by_role("button", name="Send my rating: 5 – Very satisfied").click()
        plain.get_by_text("Your rating: 5").wait_for()
    finally:
        context.close()
    response = SurveyResponse.objects.get()
    assert (response.score, response.comment) == (5, "Took three emails.")
