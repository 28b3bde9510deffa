"""What demo tickets are about: the topics with the lines of their conversations (one
module per owning team), the small talk every conversation shares, and the values that
fill the lines' placeholders."""

from __future__ import annotations

from .billing import BILLING_CHARGE, CANCEL, INVOICE, REFUND
from .schema import Case, Topic
from .support import DAMAGED, FEATURE, HOWTO, LOGIN, PASSWORD_RESET, PRIVACY, SHIPPING
from .technical import API, BUG, MOBILE, OUTAGE

__all__ = [
    "BROWSERS", "CITIES", "DEVICES", "HOLD_NOTES", "INTERIM", "MOBILE_DEVICES", "NUDGES", "PLANS", "STALLED", "THANKS", "TOPICS", "Case", "Topic",
]

TOPICS: tuple[Topic, ...] = (
    LOGIN, PASSWORD_RESET, BILLING_CHARGE, REFUND, INVOICE, CANCEL, SHIPPING, DAMAGED,
    BUG, MOBILE, API, OUTAGE, FEATURE, HOWTO, PRIVACY,
)

# Small talk: lines that fit any case of any topic.
NUDGES = ("Any update on this?", "Hello? Still waiting for an answer.", "Just following up on my message above.")
THANKS = ("Thanks, that's all I needed!", "Brilliant, thank you so much.", "Perfect, thanks for the quick help!")
STALLED = (
    "We haven't heard back from you, so I'm solving this ticket. Just reply if you still need help.",
    "I'll close this for now since we haven't heard back. Reply any time and we'll pick it up again.",
)
# The agent's note when the ticket waits on someone else and the case's note is already written.
HOLD_NOTES = ("Waiting on the other team before replying again.", "On hold until we hear back; the customer knows.")
# The agent's word while still working on it: after the customer's answer or after a nudge.
INTERIM = (
    "Thanks for your patience! I'm checking this with the team and will get back to you shortly.",
    "Sorry for the wait. Give me a little more time to look into it; I'll be back to you soon.",
)

# Values for the lines' placeholders.
BROWSERS = ("Chrome", "Firefox", "Safari", "Edge")
DEVICES = ("iPhone 15", "Pixel 8", "Galaxy S23", "iPad Air", "MacBook Air", "Windows laptop")
MOBILE_DEVICES = ("iPhone 15", "Pixel 8", "Galaxy S23", "iPad Air")  # where the mobile app runs
CITIES = ("Leeds", "Austin", "Lyon", "Hamburg", "Porto", "Denver", "Melbourne", "Dublin")
PLANS = ("Starter", "Team", "Business")
