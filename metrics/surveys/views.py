"""The public survey page, /s/<token>/: no login, the signed token is the key.

A rating link (``?score=N``) never stores anything on GET: mail scanners and link
previews fetch every link in a message, and must not vote. The page posts the score back
at once with a two-line script, and shows the same form as a visible button for browsers
without scripts. CSRF protection is off here on purpose: the form carries the unguessable
token in its URL (a forged post would need it), and a customer whose browser refuses
cookies can still answer.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from helpdesk.ratelimit import allow, client_ip
from metrics.surveys import compose
from metrics.surveys.exceptions import SurveyLinkExpired, SurveyLinkInvalid
from metrics.surveys.models import SCALES, SurveyInvitation, SurveyResponse
from metrics.surveys.selectors import survey_invitation_from_token, survey_settings_get
from metrics.surveys.services import COMMENT_MAX_CHARS, survey_invitation_answer
from tickets.placeholders import fill_placeholders, placeholder_context

TEMPLATE = "surveys/answer.html"


def _score(raw: str | None, kind: str) -> int | None:
    """The score a form or link asks for, if it is on the kind's scale."""
    try:
        score = int(raw or "")
    except ValueError:
        return None
    low, high = SCALES[kind]
    return score if low <= score <= high else None


def _questions(invitation: SurveyInvitation) -> dict[str, str]:
    conf = survey_settings_get()
    if invitation.ticket_id is not None:
        values = placeholder_context(ticket=invitation.ticket)
    else:
        profile = compose.company()
        values = {"company": {"name": profile.name}, "customer": {"first_name": invitation.customer.first_name}}
    fill = lambda text: fill_placeholders(text, values, keep_unknown=False)  # noqa: E731
    main = conf.csat_question if invitation.kind == SurveyInvitation.Kind.CSAT else conf.nps_question
    return {
        "question": fill(main),
        "ces_question": fill(conf.ces_question) if invitation.kind == "csat" and conf.ces_enabled else "",
        "thanks": fill(conf.thanks_text),
    }


def _choices(kind: str) -> list[tuple[int, str]]:
    low, high = SCALES[kind]
    labels = {"csat": compose.CSAT_LABELS, "nps": compose.NPS_LABELS, "ces": compose.CES_LABELS}[kind]
    scores = range(high, low - 1, -1) if kind == "csat" else range(low, high + 1)
    return [(score, labels.get(score, "")) for score in scores]


def _page(request: HttpRequest, *, status: int = 200, **context: Any) -> HttpResponse:
    response = render(request, TEMPLATE, {"company": compose.company(), **context}, status=status)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return response


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def survey_answer(request: HttpRequest, token: str) -> HttpResponse:
    limit = settings.PARLEY_SURVEY_RATE_LIMIT
    if not allow("survey", client_ip(request), limit=limit):
        return _page(request, status=429, state="busy")
    try:
        invitation = survey_invitation_from_token(token)
    except SurveyLinkExpired:
        return _page(request, status=410, state="expired")
    except SurveyLinkInvalid:
        return _page(request, status=404, state="invalid")

    kind = invitation.kind
    context: dict[str, Any] = {
        "invitation": invitation,
        "kind": kind,
        "choices": _choices(kind),
        "ces_choices": _choices("ces"),
        "comment_max": COMMENT_MAX_CHARS,
        **_questions(invitation),
    }
    if request.method == "POST":
        return _answer_post(request, token, invitation, context)

    score = _score(request.GET.get("score"), kind)
    if score is not None:
        # A rating link: ask the browser to post it (scanners that only GET store nothing).
        label = dict(context["choices"]).get(score, "")
        return _page(request, state="confirm", score=score, label=label, **context)
    return _page(request, state="ask", current=_current(invitation), ces=_ces(invitation), **context)


def _current(invitation: SurveyInvitation) -> SurveyResponse | None:
    return SurveyResponse.objects.filter(pk=invitation.response_id).first() if invitation.response_id else None


def _ces(invitation: SurveyInvitation) -> SurveyResponse | None:
    if invitation.ticket_id is None:
        return None
    return SurveyResponse.objects.filter(ticket_id=invitation.ticket_id, kind="ces").first()


def _answer_post(request: HttpRequest, token: str, invitation: SurveyInvitation, context: dict[str, Any]) -> HttpResponse:
    kind = invitation.kind
    errors: list[str] = []
    if "score" in request.POST:
        score = _score(request.POST.get("score"), kind)
        if score is None:
            low, high = SCALES[kind]
            errors.append(f"Choose a rating from {low} to {high}.")
        else:
            survey_invitation_answer(invitation=invitation, kind=kind, score=score)
            return redirect(f"{request.path}?thanks=1")
    else:  # the optional follow-up: a comment and, where configured, the CES question
        comment = request.POST.get("comment", "").strip()
        ces_raw = request.POST.get("ces", "")
        ces = _score(ces_raw, "ces") if context["ces_question"] else None
        current = _current(invitation)
        if current is None:
            errors.append("Choose a rating first.")
        elif len(comment) > COMMENT_MAX_CHARS:
            errors.append(f"Please keep the comment under {COMMENT_MAX_CHARS} characters.")
        elif ces_raw and ces is None and context["ces_question"]:
            errors.append("Choose an answer from 1 to 7.")
        else:
            if comment:
                survey_invitation_answer(invitation=invitation, kind=kind, score=current.score, comment=comment)
            if ces is not None:
                survey_invitation_answer(invitation=invitation, kind="ces", score=ces)
            return redirect(f"{request.path}?thanks=1&saved=1")
    invitation.refresh_from_db()
    return _page(
        request, status=400, state="ask", errors=errors, current=_current(invitation), ces=_ces(invitation),
        comment=request.POST.get("comment", ""), **context,
    )
