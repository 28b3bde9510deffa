"""The words and links of the survey messages: CSAT by email or a social channel, NPS by email.

Texts come from the admins' wording (SurveySettings, with placeholders) and are plain
text; the HTML alternative of the emails is a template that escapes them.
"""

from __future__ import annotations

from email.utils import formataddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import formats

from metrics.surveys.models import SurveyInvitation, SurveySettings
from metrics.surveys.tokens import survey_url
from tickets.models import Customer, Ticket
from tickets.placeholders import fill_placeholders, render_placeholders

CSAT_LABELS = {5: "Very satisfied", 4: "Satisfied", 3: "Neither satisfied nor dissatisfied", 2: "Dissatisfied", 1: "Very dissatisfied"}
CES_LABELS = {1: "Very difficult", 4: "Neither easy nor difficult", 7: "Very easy"}
NPS_LABELS = {0: "Not at all likely", 10: "Extremely likely"}


def company() -> Any:
    from tickets.selectors import company_profile_get

    return company_profile_get()


def _expiry(invitation: SurveyInvitation) -> str:
    return formats.date_format(invitation.expires_at, "j F Y")


def csat_email(*, invitation: SurveyInvitation, ticket: Ticket, conf: SurveySettings) -> tuple[str, str]:
    """The text and HTML of the CSAT email: the question and five one-click links."""
    intro = render_placeholders(conf.csat_intro, ticket=ticket)
    question = render_placeholders(conf.csat_question, ticket=ticket)
    choices = [(score, CSAT_LABELS[score], survey_url(invitation.pk, score=score)) for score in range(5, 0, -1)]
    lines = [intro, "", question, ""] if intro else [question, ""]
    lines += [f"  {score} - {label}: {url}" for score, label, url in choices]
    lines += ["", f"These links work until {_expiry(invitation)}. You can change your answer by clicking another one."]
    html = render_to_string(
        "surveys/email_csat.html",
        {"intro": intro, "question": question, "choices": choices, "expires": _expiry(invitation), "company": company()},
    )
    return "\n".join(lines), html


def csat_social(*, invitation: SurveyInvitation, ticket: Ticket, conf: SurveySettings) -> str:
    """One short message with one link: messaging apps show it as a single tap."""
    question = render_placeholders(conf.csat_question, ticket=ticket)
    return f"{question} Rate us from 1 to 5 here: {survey_url(invitation.pk)}"


def nps_email(*, invitation: SurveyInvitation, customer: Customer, address: str, conf: SurveySettings) -> EmailMultiAlternatives:
    """The campaign's email to one customer: the 0-10 question as eleven links."""
    profile = company()
    values = {
        "customer": {"name": customer.name, "first_name": customer.first_name, "email": address},
        "company": {"name": profile.name, "website": profile.website, "support_email": profile.support_email, "phone": profile.phone},
        "ticket": {}, "agent": {},
    }
    subject = fill_placeholders(conf.nps_subject, values, keep_unknown=False)
    question = fill_placeholders(conf.nps_question, values, keep_unknown=False)
    choices = [(score, NPS_LABELS.get(score, ""), survey_url(invitation.pk, score=score)) for score in range(11)]
    greeting = f"Hello {customer.first_name or 'there'},"
    lines = [greeting, "", question, "(0 = not at all likely, 10 = extremely likely)", ""]
    lines += [f"  {score}: {url}" for score, _, url in choices]
    lines += ["", f"These links work until {_expiry(invitation)}. Thank you, {profile.name}"]
    html = render_to_string(
        "surveys/email_nps.html",
        {"greeting": greeting, "question": question, "choices": choices, "expires": _expiry(invitation), "company": profile},
    )
    sender = profile.support_email or settings.DEFAULT_FROM_EMAIL
    email = EmailMultiAlternatives(
        subject=subject[:200],
        body="\n".join(lines),
        from_email=formataddr((profile.name, sender)),
        to=[address],
        headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "OOF, AutoReply"},
    )
    email.attach_alternative(html, "text/html")
    return email
