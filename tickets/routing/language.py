"""Language and sentiment of a customer's message, offline.

py3langid (a maintained fork of langid.py; its model ships inside the wheel) names the
language; VADER (a lexicon shipped in its package) scores the tone from -1 to 1. Neither
downloads anything at run time. VADER's lexicon is English: other languages mostly score
near neutral, which rules should keep in mind.
"""

from __future__ import annotations

import functools
import re
from typing import Any

# Shorter texts give guesses, not answers.
MIN_LANGUAGE_CHARS = 12
# Enough text to decide; quoted history further down would only blur it.
MAX_CHARS = 2000
_QUOTE = re.compile(r"^\s*>.*$", re.MULTILINE)
_URL = re.compile(r"https?://\S+|\S+@\S+")


def _clean(text: str) -> str:
    return " ".join(_URL.sub(" ", _QUOTE.sub(" ", text[: MAX_CHARS * 2])).split())[:MAX_CHARS]


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # the model file is inside the wheel

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@functools.cache
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def detect_language(text: str) -> str:
    """ISO 639-1 code, or "" when the text is too short or the guess is weak."""
    clean = _clean(text)
    if len(clean) < MIN_LANGUAGE_CHARS:
        return ""
    code, probability = _identifier().classify(clean)
    return code if probability >= 0.5 else ""


def score_sentiment(text: str) -> float | None:
    """VADER's compound score, -1 (angry) .. 1 (delighted); None for no text."""
    clean = _clean(text)
    if not clean:
        return None
    return round(float(_analyzer().polarity_scores(clean)["compound"]), 3)


def warm_up() -> None:
    """Load both models now (langid's takes ~1 s here) rather than on the first message."""
    _identifier()
    _analyzer()
