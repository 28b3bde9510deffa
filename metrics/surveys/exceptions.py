"""Domain errors of the surveys app; views map them to pages and HTTP codes."""


class SurveyLinkInvalid(Exception):
    """A survey link was tampered with or does not exist."""


class SurveyLinkExpired(Exception):
    """A survey link is genuine but past its expiry."""
