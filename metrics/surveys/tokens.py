"""Survey link tokens: the invitation id, signed with the secret key and a salt of our own.

A token cannot be forged or altered (Django's signing, HMAC-SHA256), does not reveal a
sequence to guess from, and names one invitation; its expiry is the invitation's
``expires_at`` (so an admin's shorter expiry applies to links already sent).
"""

from __future__ import annotations

from django.core import signing

from helpdesk.links import absolute_reverse
from metrics.surveys.exceptions import SurveyLinkInvalid

SALT = "parley.surveys.link"


def survey_token_make(invitation_id: int) -> str:
    return signing.Signer(salt=SALT).sign_object(invitation_id)


def survey_token_read(token: str) -> int:
    """The invitation id a token names; SurveyLinkInvalid for anything tampered or malformed."""
    try:
        value = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        raise SurveyLinkInvalid("This survey link is not valid.") from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise SurveyLinkInvalid("This survey link is not valid.")
    return value


def survey_url(invitation_id: int, *, score: int | None = None) -> str:
    """The absolute address customers open (PARLEY_PUBLIC_URL + /s/<token>/[?score=N])."""
    url = absolute_reverse("surveys:answer", token=survey_token_make(invitation_id))
    return f"{url}?score={score}" if score is not None else url
