"""seed_demo [--size N]: fill the database with a realistic, deterministic demo helpdesk.

Writes staff users with the demo logins (admin, maya, sam and colleagues), three teams,
one channel of each kind, organizations, customers with identities on the channels they
use, and N tickets (default 1,000) spread over the last 60 days with whole conversations.

Why not the services: they write one row at a time, publish realtime events and queue
deliveries, which is right for live traffic and far too slow for 100,000 tickets. Instead
each ticket's life is replayed in memory by ``_Story``, whose methods follow the rules of
``tickets.services`` (the status transitions, the timestamps, which TicketEvent each change
writes and with what data, in what order), and the rows are bulk-inserted in batches.
Metrics read TicketEvent, so the history must be as the services would have left it.

Idempotent: the demo set is recognised by its channels (the email channel's address, the
others' kind and name) and by its customers' identities; only what is missing is created.
Tickets on the demo channels count as demo tickets, so ``--size`` tops the count up to N
(an interrupted run resumes; a smaller N than what is there does nothing).
A second run finds everything and says so in well under a second of queries. Randomness
comes from ``random.Random`` seeded per customer and per ticket, so the same size gives
the same data (timestamps are relative to the moment of the run).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, models, router, transaction
from django.db.models import F, Max, Min, OuterRef, Subquery
from django.utils import timezone

from channels_inbox.models import Channel
from tickets.models import (
    AgentProfile,
    Customer,
    CustomerIdentity,
    Message,
    Organization,
    OrganizationDomain,
    Tag,
    Team,
    Ticket,
    TicketEvent,
)
from tickets.roles import ADMIN, AGENT, MANAGER, roles_sync

SEED = 20_251_123
DEFAULT_SIZE = 1000
MIN_CUSTOMERS = 200
TICKETS_PER_CUSTOMER = 5
WINDOW = dt.timedelta(days=60)
# A solved ticket is closed by the system this long after it was solved (as helpdesks do).
CLOSE_AFTER = dt.timedelta(days=4)
# Tickets per transaction: big enough to amortise the round trips, small enough that a
# 100k run keeps little in memory and an interrupted run resumes where it stopped.
TICKET_BATCH = 500
ROW_BATCH = 1000
# Stands for the ticket number in email headers and subjects until the ticket has its id.
_NUMBER = "\x00number\x00"
SUPPORT_ADDRESS = "support@parley.localhost"
OUR_DOMAIN = "parley.localhost"

# --- Static demo data ----------------------------------------------------------------------

TEAMS: tuple[tuple[str, str, bool], ...] = (
    ("support", "Support", False),
    ("billing", "Billing", True),  # private: invoices and refunds are seen by billing and managers only
    ("technical", "Technical", False),
)

LOGIN_PASSWORDS = {ADMIN: "parley-admin", MANAGER: "parley-manager", AGENT: "parley-agent"}


class StaffSpec(NamedTuple):
    username: str
    first_name: str
    last_name: str
    role: str
    teams: tuple[str, ...]
    skills: tuple[str, ...]
    capacity: int
    availability: str


_A, _W, _O = AgentProfile.Availability.AVAILABLE, AgentProfile.Availability.AWAY, AgentProfile.Availability.OFFLINE
STAFF: tuple[StaffSpec, ...] = (
    StaffSpec("admin", "Robin", "Hale", ADMIN, (), ("configuration",), 10, _O),
    StaffSpec("maya", "Maya", "Fischer", MANAGER, ("support", "billing", "technical"), ("escalations", "refunds", "german"), 15, _A),
    StaffSpec("sam", "Sam", "Okafor", AGENT, ("support", "technical"), ("email", "chat", "mobile-app"), 25, _A),
    StaffSpec("priya", "Priya", "Raman", AGENT, ("support",), ("chat", "whatsapp", "hindi"), 25, _A),
    StaffSpec("lucas", "Lucas", "Moreau", AGENT, ("billing",), ("invoices", "refunds", "french"), 20, _A),
    StaffSpec("hana", "Hana", "Sato", AGENT, ("technical",), ("api", "integrations", "japanese"), 15, _A),
    StaffSpec("diego", "Diego", "Alvarez", AGENT, ("support", "billing"), ("spanish", "whatsapp", "shipping"), 25, _W),
    StaffSpec("aisha", "Aisha", "Bello", AGENT, ("support",), ("social", "instagram", "messenger"), 25, _A),
    StaffSpec("jonas", "Jonas", "Lindqvist", AGENT, ("technical",), ("bugs", "sso", "mobile-app"), 15, _O),
    StaffSpec("chloe", "Chloe", "Martin", AGENT, ("billing", "support"), ("invoices", "french"), 20, _A),
    StaffSpec("tom", "Tom", "Becker", AGENT, ("support",), ("email", "returns", "german"), 25, _W),
)

# (kind, name, default team, inbound address); the email channel is found by its address.
CHANNELS: tuple[tuple[str, str, str, str | None], ...] = (
    (Channel.Kind.EMAIL, "Support mailbox", "support", SUPPORT_ADDRESS),
    (Channel.Kind.CHAT, "Website chat", "support", None),
    (Channel.Kind.TELEGRAM, "Telegram @ParleyDemoBot", "technical", None),
    (Channel.Kind.MESSENGER, "Facebook Messenger", "support", None),
    (Channel.Kind.INSTAGRAM, "Instagram @parley.demo", "support", None),
    (Channel.Kind.WHATSAPP, "WhatsApp +1 555 0100", "support", None),
    (Channel.Kind.SMS, "SMS +1 555 0199", "support", None),
    (Channel.Kind.API, "In-app feedback (API)", "technical", None),
)
# How customers reach us: the weights of each kind as someone's preferred channel.
KIND_WEIGHTS = {"email": 46, "chat": 20, "whatsapp": 10, "messenger": 6, "instagram": 5, "telegram": 5, "sms": 5, "api": 3}
IDENTITY_KIND = {
    "email": CustomerIdentity.Kind.EMAIL,
    "chat": CustomerIdentity.Kind.CHAT,
    "telegram": CustomerIdentity.Kind.TELEGRAM,
    "messenger": CustomerIdentity.Kind.MESSENGER,
    "instagram": CustomerIdentity.Kind.INSTAGRAM,
    "whatsapp": CustomerIdentity.Kind.WHATSAPP,
    "sms": CustomerIdentity.Kind.PHONE,
    "api": CustomerIdentity.Kind.API,
}

# (name, domains, plan). Reserved ``.example`` domains: demo replies can never reach anyone.
ORGANIZATIONS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Northwind Traders", ("northwind.example",), "Enterprise"),
    ("Blue Harbor Logistics", ("blueharbor.example",), "Business"),
    ("Kestrel Labs", ("kestrel.example", "kestrel-labs.example"), "Enterprise"),
    ("Maple & Finch Bakery", ("maplefinch.example",), "Starter"),
    ("Orbital Fitness", ("orbitalfit.example",), "Business"),
    ("Greenleaf Clinics", ("greenleaf.example",), "Enterprise"),
    ("Tidewater Realty", ("tidewater.example",), "Business"),
    ("Copperline Media", ("copperline.example",), "Starter"),
    ("Sunfield Schools", ("sunfield.example",), "Business"),
    ("Vantage Analytics", ("vantage.example",), "Enterprise"),
    ("Harbor Point Hotels", ("harborpoint.example",), "Business"),
    ("Lumen Architects", ("lumen-arch.example",), "Starter"),
)
PERSONAL_DOMAINS = ("mail.example", "example.com", "example.net", "example.org", "inbox.example", "post.example")
FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Mia", "Lucas", "Isabella", "Mateo",
    "Charlotte", "Ethan", "Aaliyah", "Kenji", "Fatima", "Arjun", "Ingrid", "Pedro", "Zoe", "Tariq", "Nadia", "Felix",
    "Chiara", "Jakob", "Ana", "Mohammed", "Leila", "Samuel", "Yuki", "Grace", "Daniel", "Hannah", "Omar", "Sofia",
    "Viktor", "Amara", "Ryan", "Elena", "Kwame", "Lena", "Marco", "Priyanka", "Connor", "Mei", "Julien", "Ines",
)
LAST_NAMES = (
    "Smith", "Johnson", "Garcia", "Nguyen", "Kowalski", "Müller", "Rossi", "Silva", "Okafor", "Haddad", "Kim",
    "Patel", "Andersson", "Dubois", "Schneider", "Tanaka", "Brown", "Lopez", "Novak", "Ivanova", "Mensah", "Walsh",
    "Fernandes", "Cohen", "Jensen", "Santos", "Wright", "Yilmaz", "Chen", "Murphy", "Bianchi", "Larsen", "Moreno",
    "Khan", "Park", "Fischer", "Nakamura", "O'Brien", "Costa", "Hughes", "Singh", "Varga", "Reyes", "Adeyemi",
)
TIME_ZONES = (
    ("Europe/London", 30), ("America/New_York", 25), ("America/Los_Angeles", 12), ("Europe/Berlin", 8),
    ("Europe/Paris", 6), ("Europe/Madrid", 5), ("Australia/Sydney", 5), ("America/Sao_Paulo", 4), ("Asia/Singapore", 5),
)


@dataclass(frozen=True)
class Topic:
    """What a ticket is about: who owns it, how it is tagged, and the lines of its conversation."""

    key: str
    team: str
    tags: tuple[str, ...]
    weight: int
    priority: str
    subjects: tuple[str, ...]
    asks: tuple[str, ...]  # the customer's first email, without greeting and signature
    chats: tuple[str, ...]  # the same request as a chat or social message
    answers: tuple[str, ...]  # the agent's first reply
    follow_ups: tuple[str, ...]  # the customer's answer to it
    resolutions: tuple[str, ...]  # the agent's last reply
    notes: tuple[str, ...]  # internal notes
    sentiment: tuple[float, float]


_N, _L, _H, _U = Ticket.Priority.NORMAL, Ticket.Priority.LOW, Ticket.Priority.HIGH, Ticket.Priority.URGENT
TOPICS: tuple[Topic, ...] = (
    Topic("login", "support", ("login", "account"), 14, _N,
          ("Can't log in to my account", "Login keeps saying my password is wrong", "Locked out after too many attempts"),
          ("Since this morning I can't log in. It says my password is incorrect, but I haven't changed it and the reset link doesn't seem to help.",
           "I'm locked out of my account after a few failed attempts and now the login page just spins. I need access today for a client meeting."),
          ("hi, I can't log into my account, it says wrong password", "my account is locked?? can't get in since this morning"),
          ("I've cleared the lock on your account, so you can try again now. If the password is still refused, please use 'Forgot password' and let me know if the email arrives.",
           "Thanks for reporting this. Your account was locked after five failed attempts; I've unlocked it. Could you try logging in again in a private browser window?"),
          ("That worked, I'm in. Thank you!", "Still the same error, I'm afraid. I'm using {browser} on {device}."),
          ("Glad you're back in! I'll mark this as solved; just reply here if it happens again.",
           "We found a stale session cookie on {browser}; after clearing it you should be fine. Solving this for now."),
          ("Account was locked by brute-force protection; unlocked manually.", "Customer on {browser}. Checked auth logs: repeated failures from an old saved password."),
          (-0.4, 0.2)),
    Topic("password_reset", "support", ("login", "password-reset"), 8, _N,
          ("Password reset email never arrives", "No reset link in my inbox", "Reset password link expired"),
          ("I requested a password reset three times and nothing arrives, not even in spam. Could you check whether my address is correct on your side?",
           "The reset link in your email says it has expired, even though I clicked it within a minute."),
          ("reset password email isn't coming through", "the reset link says expired straight away"),
          ("I can see the reset emails were sent but bounced by your mail server. I've sent a fresh link from a different route; it's valid for one hour.",
           "Sorry about that. Some mail scanners open links before you do, which uses them up. I've sent you a one-time code instead."),
          ("Got it this time, thanks.", "Still nothing arriving here, sorry."),
          ("Great, I'll close this off. Have a good day!", "I've reset the password for you and sent a temporary one by SMS. Please change it after logging in."),
          ("Bounce from customer's MX: 550 policy rejection. Suggested allow-listing our sender.",),
          (-0.3, 0.3)),
    Topic("billing_charge", "billing", ("billing", "invoice"), 9, _H,
          ("Charged twice this month", "Double charge on my card", "Unexpected charge of {amount}"),
          ("I was charged {amount} twice on {date} for the same subscription. Please refund the duplicate payment as soon as possible.",
           "There's a charge of {amount} on my statement that I don't recognise. Our plan should be cheaper than that. Can you explain?"),
          ("you charged me twice this month!", "why was I charged {amount}? that's not my plan price"),
          ("I'm sorry about this. I can see two payments of {amount} on {date}; the second was a retry that should have been voided. I've started the refund.",
           "Thanks for flagging it. The {amount} includes the prorated upgrade to {plan} from last month. I've attached a breakdown to your invoice {invoice}."),
          ("Thanks. How long will the refund take?", "I never asked for an upgrade to {plan}. Please reverse it."),
          ("The refund of {amount} is on its way; banks usually show it within 5 to 10 business days. Solving this now.",
           "I've reverted your plan and refunded the difference. You'll see it on your next statement."),
          ("Duplicate charge from payment provider retry, refund issued.", "Check with finance whether the proration should have shown on the invoice."),
          (-0.7, -0.1)),
    Topic("refund", "billing", ("billing", "refund"), 8, _N,
          ("Refund request for order {order}", "I'd like a refund", "Return and refund for {order}"),
          ("I'd like to return order {order}. The item doesn't fit what we need. How do I get a refund?",
           "We cancelled within the trial period but were still billed {amount}. Please refund it."),
          ("can I get a refund for order {order}?", "I cancelled during the trial and still got billed {amount}"),
          ("Of course. I've created a return label for order {order}, attached here. Once the parcel is scanned we refund you within three days.",
           "You're right, the cancellation should have stopped the billing. I've refunded {amount} to your card."),
          ("Label printed and parcel sent, thank you.", "Thanks. Will I get a confirmation email?"),
          ("The return has arrived and the refund of {amount} is on its way. Thanks for your patience!",
           "Yes, the confirmation has just gone out. I'm marking this solved."),
          ("Refund approved under 30-day policy.", "Trial cancellation did not propagate to billing; reported to engineering."),
          (-0.3, 0.3)),
    Topic("invoice", "billing", ("billing", "invoice"), 6, _L,
          ("Need a VAT invoice", "Please change the billing address", "Invoice {invoice} is missing our VAT number"),
          ("Our finance team needs a proper VAT invoice for {invoice}, with our company name and VAT number on it.",
           "We moved offices. Could you update the billing address on our account and reissue {invoice}?"),
          ("can you add our VAT number to the invoice?", "need to change billing address on our account"),
          ("Sure. I've added the VAT number to your account and reissued {invoice}; you'll find it under Billing > Invoices.",
           "Thanks, could you send me the new address exactly as it should appear on invoices?"),
          ("Perfect, thanks for the quick help.", "Here it is: 14 Harbour Street, 2nd floor. Thanks!"),
          ("Done: all future invoices will show the new details. Anything else, just reply here.",
           "Updated and reissued. Have a great week!"),
          ("Reissued invoice with VAT id.",),
          (0.0, 0.5)),
    Topic("cancel", "billing", ("cancellation", "billing"), 5, _N,
          ("How do I cancel my subscription?", "Cancel our plan at the end of the month", "Downgrade instead of cancel?"),
          ("We'd like to cancel our subscription at the end of the current billing period. What do we need to do?",
           "We're thinking of cancelling because of the price. Is there a smaller plan we could move to instead?"),
          ("how do I cancel my subscription", "is there a cheaper plan? thinking of cancelling"),
          ("I'm sorry to see you go. I've scheduled the cancellation for the end of your billing period; you keep full access until then.",
           "We do have the {plan} plan, which would cost you about 40% less. Would you like me to switch you at the next renewal?"),
          ("Yes please, switch us to {plan}.", "No, please go ahead and cancel."),
          ("All set. You'll get a confirmation email shortly.", "Done. If you change your mind, your data stays available for 30 days."),
          ("Retention offer made: {plan} at renewal.",),
          (-0.4, 0.1)),
    Topic("shipping", "support", ("shipping", "order"), 12, _N,
          ("Where is my order {order}?", "Order {order} hasn't arrived", "Tracking hasn't updated in a week"),
          ("I ordered on {date} (order {order}) and it still hasn't arrived. The tracking page hasn't changed in days.",
           "My parcel for order {order} says delivered but there's nothing here in {city}."),
          ("where is my order {order}? tracking stuck", "parcel says delivered but I don't have it. order {order}"),
          ("Thanks for your patience. I've contacted the carrier about order {order}; they'll investigate and I'll update you within two working days.",
           "I'm sorry! The carrier says it was left with a neighbour. If it doesn't turn up today, I'll send a replacement."),
          ("Any news from the carrier?", "It turned up at the neighbour's, all good!"),
          ("The carrier confirmed the parcel was lost, so I've shipped a replacement with express delivery. Tracking is in your account.",
           "Happy to hear it arrived. I'll close this ticket."),
          ("Opened carrier claim for {order}.", "Second delayed parcel this month in {city}; flagging to logistics."),
          (-0.6, 0.1)),
    Topic("damaged", "support", ("shipping", "returns"), 5, _N,
          ("Item arrived damaged", "Broken item in order {order}", "Wrong item received"),
          ("Order {order} arrived today and the item is cracked. I've attached photos. What are my options?",
           "I received the wrong size in order {order}. Can you exchange it?"),
          ("my order {order} arrived broken", "you sent the wrong size, order {order}"),
          ("I'm so sorry. There's no need to send it back; I've arranged a replacement which ships today.",
           "Apologies for the mix-up. I've emailed a prepaid return label; the right size ships as soon as you drop the parcel off."),
          ("Thanks, that's very kind.", "Dropped it off this morning."),
          ("The replacement is on its way. Enjoy, and sorry again for the trouble!", "The exchange has shipped. Solving this now."),
          ("Replacement without return, under the damaged-goods policy.",),
          (-0.5, 0.2)),
    Topic("bug", "technical", ("bug",), 10, _H,
          ("Export to CSV fails with an error", "Reports page shows no data since the update", "Error 500 when saving settings"),
          ("When I try to export our contacts to CSV, I get 'Something went wrong' after a few seconds. It worked fine last week. I'm on {browser}.",
           "Since yesterday's update the reports page is empty for every date range. Our manager needs the monthly report by Friday."),
          ("CSV export gives an error, worked last week", "reports page is empty since the update??"),
          ("Thanks for the detailed report. I can reproduce the error and have passed it to our engineers. I'll keep you posted here.",
           "Thanks. Could you tell me which date range and filters you use? A screenshot would help us narrow it down."),
          ("Here's the screenshot. It happens for every range.", "Any update? This is blocking our month-end."),
          ("Good news: the fix was released this morning. Could you try again? I'll mark this solved, but reply if it still fails.",
           "Our engineers found a timeout on large exports and fixed it. Exports of any size should work now."),
          ("Reproduced on staging with 40k contacts; filed ENG-{ref}.", "Engineering says the fix ships in tomorrow's release."),
          (-0.6, 0.0)),
    Topic("mobile", "technical", ("bug", "mobile-app"), 5, _H,
          ("App crashes on startup", "Mobile app stuck on loading screen", "Push notifications stopped working"),
          ("The app crashes right after the splash screen on my {device}. I've reinstalled it twice.",
           "Since the last update I don't get any push notifications on my {device}, even though they're enabled."),
          ("app keeps crashing on my {device}", "not getting notifications anymore on the app"),
          ("Sorry about this! Which version of the app do you have (Settings > About)? We shipped a fix for a crash on {device} yesterday.",
           "Thanks. Could you sign out and back in once? That re-registers the device for notifications."),
          ("It's version 4.12.0.", "Tried that, still no notifications."),
          ("Version 4.12.1 is now in the store and fixes this crash. Please update and let us know if anything is off.",
           "We found the cause: a certificate rotation on our side. It's fixed and notifications should arrive again."),
          ("Crash logs point to the image cache migration in 4.12.0.", "Duplicate of ENG-{ref}."),
          (-0.5, 0.0)),
    Topic("api", "technical", ("api", "integration"), 5, _N,
          ("Webhooks stopped firing", "API returns 429 Too Many Requests", "OAuth token refresh fails"),
          ("Our webhook endpoint hasn't received any events since {date}. Nothing changed on our side as far as we know.",
           "We're getting HTTP 429 from the API even though we send far fewer than 100 requests per minute."),
          ("webhooks not arriving since {date}", "getting 429 from the API, we're way under the limit"),
          ("I checked the delivery log: our calls to your endpoint time out after 10 seconds, so they were paused. Could you check your server?",
           "Your key is shared by three integrations, so together they go over the limit. I've raised your limit for now."),
          ("Found it, our firewall blocked your new IP range. Fixed now.", "Thanks, that explains it."),
          ("I've re-enabled the webhook and replayed the missed events. All good on our side now.",
           "Glad that's sorted. The new limit is permanent on your plan. Solving this."),
          ("Webhook auto-disabled after 50 consecutive timeouts.", "Raised rate limit to 300/min for this key."),
          (-0.3, 0.2)),
    Topic("outage", "technical", ("bug", "outage"), 2, _U,
          ("Dashboard is down, error 502", "URGENT: nobody on our team can log in", "Site extremely slow right now"),
          ("Our whole team is getting 502 errors on the dashboard since 10 minutes ago. This is blocking our operations.",
           "Nobody in our company can log in right now. Is there an outage?"),
          ("dashboard down, 502 for everyone here", "is the service down? nobody can log in"),
          ("We're aware of the issue and our engineers are on it. Status updates are on our status page; I'll update you here too.",
           "Confirmed: one of our database nodes failed over. Service is being restored."),
          ("It's back for us, thanks.", "Still very slow on our side."),
          ("Everything is back to normal. We'll publish a post-mortem this week. Sorry for the disruption.",
           "Service is fully restored. Thanks for your patience during the incident."),
          ("Linked to incident INC-{ref}.", "Customer affected for ~40 minutes; consider a goodwill credit."),
          (-0.9, -0.4)),
    Topic("feature", "support", ("feature-request",), 6, _L,
          ("Feature request: dark mode", "Can you add bulk editing?", "Suggestion: export to PDF"),
          ("Any plans for a dark mode? We work late shifts and the bright screen is hard on the eyes.",
           "It would save us hours if we could edit many records at once instead of one by one."),
          ("any plans for dark mode?", "would love bulk edit please"),
          ("Thanks for the suggestion! I've added your vote to the feature request; it's on our roadmap for this year.",
           "Great idea, thanks. I've passed it to our product team with your use case."),
          ("Thanks, looking forward to it.", "Great, thank you!"),
          ("You're welcome! We'll let you know when it ships. Solving this for now.", "Thanks again for the idea."),
          ("Added vote on roadmap item PRD-{ref}.",),
          (0.1, 0.6)),
    Topic("howto", "support", ("how-to", "account"), 8, _L,
          ("How do I add a team member?", "How to change my email address", "Where can I download my invoices?"),
          ("How do I invite a colleague to our account? I can't find the option anywhere.",
           "I need to change the email address I log in with. Where do I do that?"),
          ("how do I add a colleague to our account?", "how can I change my login email?"),
          ("You can invite colleagues under Settings > Team > Invite. They'll get an email with a link to join.",
           "Go to Profile > Account, change the address there, and confirm the link we send to the new one."),
          ("Found it, thanks!", "Done, thanks for the quick answer."),
          ("Happy to help! Have a great day.", "Glad it worked. Solving this."),
          ("Docs article on invitations could be clearer.",),
          (0.2, 0.7)),
    Topic("privacy", "support", ("account", "privacy"), 3, _N,
          ("Please delete my account and data", "Data export request (GDPR)", "Who has access to our data?"),
          ("Under GDPR I'd like a copy of all the personal data you hold about me.",
           "Please delete my account and all associated personal data."),
          ("I want a copy of my data (GDPR)", "please delete my account and data"),
          ("Of course. For your security, please confirm the request from the link we just emailed you; the export follows within 48 hours.",
           "Understood. Please confirm the deletion from the email we sent; once confirmed it completes within 30 days."),
          ("Confirmed.", "Confirmed, thank you."),
          ("Your data export is ready; the download link is valid for 7 days.", "Your account and data have been deleted. Take care!"),
          ("Identity verified through email confirmation.",),
          (-0.1, 0.3)),
)
NUDGES = ("Any update on this?", "Hello? Still waiting for an answer.", "Just following up on my message above.")
THANKS = ("Thanks, that solved it!", "Brilliant, thank you so much.", "Perfect, all good now. Thanks!")
AGAIN = ("Sorry, it's happening again.", "This is back, same problem as before.", "Unfortunately the issue has returned.")
STALLED = (
    "We haven't heard back from you, so I'm solving this ticket. Just reply if you still need help.",
    "I'll close this for now since we haven't heard back. Reply any time and we'll pick it up again.",
)
INTERIM = (
    "Thanks for the details! I'm checking this with the team and will get back to you shortly.",
    "Thanks, that helps. Give me a little time to look into it.",
)
HOLD_NOTES = ("Waiting on engineering before replying.", "Asked the carrier for an update, on hold until they answer.")
BROWSERS = ("Chrome", "Firefox", "Safari", "Edge")
DEVICES = ("iPhone 15", "Pixel 8", "Galaxy S23", "iPad Air", "MacBook Air", "Windows laptop")
CITIES = ("Leeds", "Austin", "Lyon", "Hamburg", "Porto", "Denver", "Melbourne", "Dublin")
PLANS = ("Starter", "Team", "Business")


# --- Deterministic randomness ----------------------------------------------------------------


def _rng(*parts: object) -> random.Random:
    """A generator of its own for one customer or ticket, so each comes out the same
    whatever was generated before it (a resumed run continues the same data set)."""
    return random.Random(":".join(str(p) for p in (SEED, *parts)))


def _digest(*parts: object, length: int = 40) -> str:
    """A stable, practically unique hex id for external ids that must not collide."""
    return hashlib.sha1(":".join(str(p) for p in (SEED, *parts)).encode()).hexdigest()[:length]


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _ascii(value: str) -> str:
    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower().replace("'", "")


# --- Customers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Persona:
    """Everything the demo decides about one customer before any row exists."""

    index: int
    name: str
    first_name: str
    organization: int | None  # index into ORGANIZATIONS
    tier: str
    time_zone: str
    kinds: tuple[str, ...]  # channel kinds they write from, the preferred one first
    identities: tuple[tuple[str, str, str], ...]  # (identity kind, address, display name)
    email: str
    first_seen_at_days: float


def _personas(*, count: int) -> list[Persona]:
    """The first ``count`` customers; customer i is the same for every count (it only
    depends on i and on the email addresses taken by customers before it)."""
    used: set[str] = set()
    personas = []
    for index in range(count):
        rng = _rng("customer", index)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        org = rng.randrange(len(ORGANIZATIONS)) if rng.random() < 0.3 else None
        enterprise = org is not None and ORGANIZATIONS[org][2] == "Enterprise"
        tier = Customer.Tier.VIP if rng.random() < (0.25 if enterprise else 0.04) else Customer.Tier.STANDARD
        preferred = (
            rng.choices(("email", "chat", "api"), weights=(75, 15, 10))[0] if org is not None else _weighted(rng, KIND_WEIGHTS)
        )
        kinds = [preferred]
        if preferred != "email" and (org is not None or rng.random() < 0.45):
            kinds.append("email")
        if rng.random() < 0.15:
            extra = _weighted(rng, KIND_WEIGHTS)
            if extra not in kinds:
                kinds.append(extra)
        f, l = _ascii(first), _ascii(last)
        local = rng.choice((f"{f}.{l}", f"{f[0]}{l}", f"{f}{l[0]}", f"{f}_{l}", f"{f}.{l}{rng.randrange(70, 100)}"))
        domain = rng.choice(ORGANIZATIONS[org][1]) if org is not None else rng.choice(PERSONAL_DOMAINS)
        email = f"{local}@{domain}"
        if email in used:
            email = f"{local}{index % 97 + 2}@{domain}"
        if email in used:
            email = f"{local}.{index}@{domain}"
        phone = f"+1555{(index * 7919 + 1_234_567) % 10_000_000:07d}"  # 555: a fictional exchange
        handle = f"{f}{l[:1]}{index % 1000}" if rng.random() < 0.5 else f"{f}.{l}"
        name = f"{first} {last}"
        addresses = {
            "email": (email, name),
            "chat": (f"visitor-{_digest('visitor', index, length=16)}", name),
            "telegram": (str(200_000_000 + index * 7 + 3), f"@{handle}"),
            "messenger": (str(5_900_000_000_000_000 + index * 101 + 17), name),
            "instagram": (str(17_840_000_000_000_000 + index * 131 + 29), f"@{handle}"),
            "whatsapp": (phone, name),
            "sms": (phone, name),
            "api": (f"user-{10_000 + index}", name),
        }
        if "email" in kinds:
            used.add(email)
        personas.append(
            Persona(
                index=index,
                name=name,
                first_name=first,
                organization=org,
                tier=tier,
                time_zone=rng.choices([z for z, _ in TIME_ZONES], weights=[w for _, w in TIME_ZONES])[0],
                kinds=tuple(kinds),
                identities=tuple((IDENTITY_KIND[k], *addresses[k]) for k in kinds),
                email=email if "email" in kinds else "",
                first_seen_at_days=rng.uniform(0, 90),
            )
        )
    return personas


# --- One ticket's life -------------------------------------------------------------------------


class Who(NamedTuple):
    """An event's actor, as ids (mirrors tickets.events.Actor)."""

    kind: str
    user_id: int | None = None
    customer_id: int | None = None


SYSTEM = Who(TicketEvent.ActorKind.SYSTEM)


class PlannedEvent(NamedTuple):
    """A TicketEvent row before its ticket and message have ids (a tuple: there are many)."""

    kind: str
    who: Who
    data: dict[str, Any]
    message: Message | None
    at: dt.datetime


class _Truncated(Exception):
    """The story has reached the present: what happened so far is the ticket's state."""


class _Story:
    """One ticket replayed in memory with the rules of ``tickets.services``.

    Each public method mirrors the service of the same purpose (message_receive,
    message_reply, message_add_note, ticket_assign, ticket_change_status, ticket_set_team,
    ticket_set_priority, ticket_set_tags) and writes the same TicketEvent rows, with the
    same data, in the same order, at the same moment.
    """

    def __init__(self, *, index: int, ticket: Ticket, now: dt.datetime, customer_id: int, channel_kind: str, email: str) -> None:
        self.index = index
        self.ticket = ticket
        self.now = now
        self.clock = ticket.created_at
        self.customer = Who(TicketEvent.ActorKind.CUSTOMER, customer_id=customer_id)
        self.kind = channel_kind
        self.email = email
        self.messages: list[Message] = []
        self.events: list[PlannedEvent] = []
        self.tag_names: list[str] = []
        self._last_email_ids: list[str] = []  # the thread's Message-IDs, oldest first
        self._seq = 0

    # The clock ----------------------------------------------------------------------
    def wait(self, seconds: float) -> dt.datetime:
        """Move time on; raise _Truncated when the next step would lie in the future."""
        clock = self.clock + dt.timedelta(seconds=max(1.0, seconds))
        if clock >= self.now:
            raise _Truncated
        self.clock = clock
        return clock

    # Rows ---------------------------------------------------------------------------
    def _event(self, kind: str, who: Who, data: dict[str, Any], message: Message | None = None) -> None:
        self.events.append(PlannedEvent(kind, who, data, message, self.clock))

    def _external_id(self, direction: str) -> str | None:
        """The channel's id for a message, in the shape each platform uses.

        Unique by construction: the ticket's index and the message's place in it go in
        (hashed where the platform's ids look random), never the time or the thread key,
        which tickets share.
        """
        self._seq += 1
        key = (self.kind, direction, self.index, self._seq)
        if self.kind == "email":
            if direction == Message.Direction.OUTBOUND:
                return f"parley.{_NUMBER}.{_digest(*key, length=32)}@{OUR_DOMAIN}"
            return f"{_digest(*key, length=24)}@{self.email.rpartition('@')[2] or 'mail.example'}"
        return {
            "chat": lambda: f"chat-{_digest(*key, length=32)}",
            # Telegram numbers messages per chat; the chat is the thread key.
            "telegram": lambda: f"{self.ticket.thread_key}:{self.index * 100 + self._seq}",
            "messenger": lambda: f"m_{_digest(*key)}",
            "instagram": lambda: f"aWdfZAG{_digest(*key, length=48)}",
            "whatsapp": lambda: f"wamid.HBgL{_digest(*key).upper()}",
            "sms": lambda: f"SM{_digest(*key, length=32)}",
            "api": lambda: f"msg-{_digest(*key, length=20)}",
        }[self.kind]()

    def _set_status(self, new: str, *, who: Who) -> None:
        """tickets.services._set_status: timestamps, reopen counting and its events."""
        t, old = self.ticket, self.ticket.status
        if old == new:
            return
        t.status = new
        if new == Ticket.Status.SOLVED:
            t.solved_at = self.clock
        elif new == Ticket.Status.CLOSED:
            t.closed_at = self.clock
            if t.solved_at is None:
                t.solved_at = self.clock
        self._event(TicketEvent.Kind.STATUS_CHANGED, who, {"from": old, "to": new})
        if old in (Ticket.Status.SOLVED, Ticket.Status.CLOSED) and new in Ticket.UNSOLVED_STATUSES:
            t.reopen_count += 1
            t.solved_at = None
            t.closed_at = None
            self._event(TicketEvent.Kind.REOPENED, who, {"from": old, "reopen_count": t.reopen_count})

    # Services -----------------------------------------------------------------------
    def open(self, *, text: str, subject: str, team_id: int | None) -> None:
        """ticket_open + message_receive + the pipeline's routing step, as for an inbound message."""
        t = self.ticket
        self._event(TicketEvent.Kind.CREATED, self.customer, {"channel": t.channel_id, "status": t.status, "priority": t.priority})
        self.receive(text=text, subject=subject)
        if team_id:
            self.set_team(team_id=team_id, who=SYSTEM)

    def receive(self, *, text: str, subject: str = "") -> None:
        t = self.ticket
        in_reply_to, references = "", ""
        if self.kind == "email":
            if self._last_email_ids:
                in_reply_to = self._last_email_ids[-1]
                references = " ".join(self._last_email_ids[-20:])
                subject = subject or f"Re: [#{_NUMBER}] Re: {t.subject}"
            else:
                subject = subject or t.subject
        else:
            subject = ""
        message = Message(
            ticket=t,
            channel_id=t.channel_id,
            direction=Message.Direction.INBOUND,
            author_kind=Message.AuthorKind.CUSTOMER,
            author_customer_id=self.customer.customer_id,
            subject=subject[:500],
            text=text,
            external_id=self._external_id(Message.Direction.INBOUND),
            in_reply_to=in_reply_to,
            references=references,
            to=[SUPPORT_ADDRESS] if self.kind == "email" else [],
            created_at=self.clock,
        )
        if self.kind == "email":
            self._last_email_ids.append(message.external_id or "")
        self.messages.append(message)
        t.last_customer_activity_at = self.clock
        if t.status in (Ticket.Status.PENDING, Ticket.Status.ON_HOLD, Ticket.Status.SOLVED):
            self._set_status(Ticket.Status.OPEN, who=self.customer)
        t.updated_at = self.clock
        self._event(TicketEvent.Kind.MESSAGE_ADDED, self.customer, {"direction": message.direction, "is_auto_reply": False}, message)

    def reply(self, *, agent: int, text: str, status: str | None = None) -> None:
        t = self.ticket
        is_email = self.kind == "email"
        who = Who(TicketEvent.ActorKind.AGENT, user_id=agent)
        inbound_ids = [m.external_id for m in self.messages if m.direction == Message.Direction.INBOUND and m.external_id]
        last_inbound = next((m for m in reversed(self.messages) if m.direction == Message.Direction.INBOUND), None)
        references = (last_inbound.references.split() if last_inbound else []) + (inbound_ids[-1:] if is_email else [])
        subject = t.subject if t.subject.lower().startswith("re:") else f"Re: {t.subject}"
        message = Message(
            ticket=t,
            channel_id=t.channel_id,
            direction=Message.Direction.OUTBOUND,
            author_kind=Message.AuthorKind.AGENT,
            author_user_id=agent,
            subject=f"[#{_NUMBER}] {subject}"[:500] if is_email else "",
            text=text,
            external_id=self._external_id(Message.Direction.OUTBOUND),
            in_reply_to=(inbound_ids[-1] if inbound_ids and is_email else ""),
            references=" ".join(references[-20:]),
            to=[self.email] if self.email else [],
            delivery_status=Message.DeliveryStatus.SENT,
            sent_at=self.clock + dt.timedelta(seconds=2),
            created_at=self.clock,
        )
        if is_email:
            self._last_email_ids.append(message.external_id or "")
        self.messages.append(message)
        t.last_agent_activity_at = self.clock
        if t.first_response_at is None:
            t.first_response_at = self.clock
        target = status or (Ticket.Status.OPEN if t.status == Ticket.Status.NEW else None)
        if target:
            self._set_status(target, who=who)
        t.updated_at = self.clock
        self._event(TicketEvent.Kind.MESSAGE_ADDED, who, {"direction": message.direction, "is_auto_reply": False}, message)

    def note(self, *, agent: int, text: str) -> None:
        message = Message(
            ticket=self.ticket,
            direction=Message.Direction.NOTE,
            author_kind=Message.AuthorKind.AGENT,
            author_user_id=agent,
            text=text,
            created_at=self.clock,
        )
        self.messages.append(message)
        self.ticket.updated_at = self.clock
        who = Who(TicketEvent.ActorKind.AGENT, user_id=agent)
        self._event(TicketEvent.Kind.MESSAGE_ADDED, who, {"direction": message.direction, "is_auto_reply": False}, message)

    def assign(self, *, agent: int, who: Who) -> None:
        t = self.ticket
        if t.assignee_id == agent:
            return
        old = t.assignee_id
        t.assignee_id = agent
        t.updated_at = self.clock
        if t.status == Ticket.Status.NEW:
            self._set_status(Ticket.Status.OPEN, who=who)
        self._event(TicketEvent.Kind.ASSIGNED, who, {"from": old, "to": agent})

    def change_status(self, *, status: str, who: Who) -> None:
        if self.ticket.status != status:
            self._set_status(status, who=who)
            self.ticket.updated_at = self.clock

    def set_team(self, *, team_id: int, who: Who) -> None:
        t = self.ticket
        if t.team_id != team_id:
            self._event(TicketEvent.Kind.TEAM_CHANGED, who, {"from": t.team_id, "to": team_id})
            t.team_id = team_id
            t.updated_at = self.clock

    def set_priority(self, *, priority: str, who: Who) -> None:
        t = self.ticket
        if t.priority != priority:
            self._event(TicketEvent.Kind.PRIORITY_CHANGED, who, {"from": t.priority, "to": priority})
            t.priority = priority
            t.updated_at = self.clock

    def set_tags(self, *, names: Sequence[str], who: Who) -> None:
        wanted = sorted(set(names))
        added, removed = sorted(set(wanted) - set(self.tag_names)), sorted(set(self.tag_names) - set(wanted))
        if added or removed:
            self.tag_names = wanted
            self.ticket.updated_at = self.clock
            self._event(TicketEvent.Kind.TAGS_CHANGED, who, {"added": added, "removed": removed})


@dataclass
class World:
    """The rows a ticket's story refers to, looked up once per run."""

    channels: dict[str, Channel]
    teams: dict[str, int]
    team_agents: dict[str, list[int]]
    manager_id: int
    personas: list[Persona]
    customer_ids: list[int]
    organization_ids: list[int]
    agent_names: dict[int, str]
    now: dt.datetime


# Typical waits in seconds (the median of a log-normal): first response, customer reply, agent reply.
_PACE = {"chat": (180, 90, 120), "email": (5 * 3600, 5 * 3600, 4 * 3600), "api": (6 * 3600, 6 * 3600, 4 * 3600)}
_SOCIAL_PACE = (45 * 60, 40 * 60, 40 * 60)


def _wait(rng: random.Random, median: float) -> float:
    return min(median * rng.lognormvariate(0, 0.8), 3 * 86400)


def _play(*, story: _Story, rng: random.Random, topic: Topic, world: World, persona: Persona, fill: dict[str, str]) -> None:
    """A ticket's conversation: triage, answer, a few rounds, solution, maybe a reopening, closing."""
    t = story.ticket
    first, customer_pace, agent_pace = _PACE.get(story.kind, _SOCIAL_PACE)
    if t.priority in (Ticket.Priority.HIGH, Ticket.Priority.URGENT) or topic.priority == Ticket.Priority.URGENT:
        first *= 0.4
    owner = rng.choice(world.team_agents[topic.team])
    manager = Who(TicketEvent.ActorKind.AGENT, user_id=world.manager_id)
    me = Who(TicketEvent.ActorKind.AGENT, user_id=owner)
    signature = f"\n\nBest regards,\n{world.agent_names[owner]}\nParley Demo Support" if story.kind == "email" else ""

    def say(lines: Sequence[str]) -> str:
        return rng.choice(lines).format(**fill)

    def reply(text: str, status: str | None = None) -> None:
        greeting = f"Hi {persona.first_name},\n\n" if story.kind == "email" else ""
        story.reply(agent=owner, text=f"{greeting}{text}{signature}", status=status)

    def customer(text: str) -> None:
        story.receive(text=f"{text}\n\n{persona.first_name}" if story.kind == "email" else text)

    response = _wait(rng, first)
    if response > 4 * 3600 and rng.random() < 0.3:
        story.wait(response * 0.5)
        customer(rng.choice(NUDGES))
        t.sentiment = round(rng.uniform(-0.8, -0.3), 2)
        response *= 0.5
    mode = rng.random()
    if world.teams[topic.team] != t.team_id:  # the manager moves it to the team that owns the topic
        story.wait(response * 0.3)
        story.set_team(team_id=world.teams[topic.team], who=manager)
        response *= 0.7
    if mode < 0.15:
        story.wait(rng.uniform(20, 90))
        story.assign(agent=owner, who=SYSTEM)  # round-robin assignment
    elif mode < 0.4:
        story.wait(response * 0.4)
        story.assign(agent=owner, who=manager)
        response *= 0.6
    story.wait(response)
    story.assign(agent=owner, who=me)
    story.set_tags(names=[*topic.tags, *(("vip",) if persona.tier == Customer.Tier.VIP else ())], who=me)
    if topic.priority != t.priority and not (persona.tier == Customer.Tier.VIP and topic.priority in (_N, _L)):
        story.set_priority(priority=topic.priority, who=me)
    if rng.random() < 0.2:
        story.note(agent=owner, text=say(topic.notes))
        story.wait(rng.uniform(60, 600))

    path = rng.random()
    if path < 0.22:  # answered at once
        reply(say(topic.answers), Ticket.Status.SOLVED)
        if rng.random() < 0.2:  # a thank-you reopens the ticket; the agent solves it again
            story.wait(_wait(rng, customer_pace))
            customer(rng.choice(THANKS))
            story.wait(_wait(rng, agent_pace * 0.5))
            story.change_status(status=Ticket.Status.SOLVED, who=me)
    elif path < 0.72:  # back and forth with the customer
        reply(say(topic.answers), Ticket.Status.PENDING)
        rounds = rng.choice((1, 1, 1, 2, 3))
        for round_ in range(rounds):
            if rng.random() < 0.12:  # the customer never answers
                story.wait(rng.uniform(3, 7) * 86400)
                reply(rng.choice(STALLED), Ticket.Status.SOLVED)
                break
            story.wait(_wait(rng, customer_pace))
            customer(say(topic.follow_ups))
            story.wait(_wait(rng, agent_pace))
            if rng.random() < 0.15:
                story.note(agent=owner, text=say(topic.notes))
                story.wait(rng.uniform(60, 900))
            last = round_ == rounds - 1 or rng.random() < 0.6
            reply(say(topic.resolutions) if last else say(INTERIM), Ticket.Status.SOLVED if last else Ticket.Status.PENDING)
            if last:
                break
    else:  # waits on someone else (engineering, the carrier) first
        reply(say(topic.answers), Ticket.Status.ON_HOLD)
        story.note(agent=owner, text=say(HOLD_NOTES) if rng.random() < 0.5 else say(topic.notes))
        if rng.random() < 0.4:
            story.wait(_wait(rng, customer_pace * 3))
            customer(rng.choice(NUDGES))
            story.wait(_wait(rng, agent_pace))
            reply(say(INTERIM), Ticket.Status.ON_HOLD)
        story.wait(rng.uniform(0.5, 12) * 86400)
        reply(say(topic.resolutions), Ticket.Status.SOLVED)

    if t.status == Ticket.Status.SOLVED and rng.random() < 0.07:  # the problem comes back
        story.wait(rng.uniform(0.3, 3) * 86400)
        customer(rng.choice(AGAIN))
        story.wait(_wait(rng, agent_pace))
        reply(say(topic.resolutions), Ticket.Status.SOLVED)
    if t.status == Ticket.Status.SOLVED and t.solved_at is not None:
        story.wait((t.solved_at + CLOSE_AFTER - story.clock).total_seconds())
        story.change_status(status=Ticket.Status.CLOSED, who=SYSTEM)


def _ticket_story(*, index: int, created_at: dt.datetime, world: World) -> _Story:
    """Build ticket ``index`` (not yet saved) with its messages and events."""
    rng = _rng("ticket", index)
    c = min(int(len(world.customer_ids) * rng.random() ** 1.5), len(world.customer_ids) - 1)
    persona = world.personas[c]
    kind = persona.kinds[0] if rng.random() < 0.8 or len(persona.kinds) == 1 else rng.choice(persona.kinds[1:])
    topics = [tp for tp in TOPICS if kind != "api" or tp.team == "technical" or tp.key == "feature"]
    topic = rng.choices(topics, weights=[tp.weight for tp in topics])[0]
    channel = world.channels[kind]
    earlier = created_at - dt.timedelta(days=rng.randrange(1, 10))
    fill = {
        "order": f"#{rng.randrange(100_000, 999_999)}",
        "invoice": f"INV-{created_at:%Y}-{rng.randrange(1000, 99999):05d}",
        "amount": f"${rng.choice((19, 29, 49, 79, 99, 149, 249))}.00",
        "plan": rng.choice(PLANS),
        "date": f"{earlier:%B} {earlier.day}",
        "browser": rng.choice(BROWSERS),
        "device": rng.choice(DEVICES),
        "city": rng.choice(CITIES),
        "ref": str(rng.randrange(1000, 9999)),
    }
    # The conversation key: a chat session or an API conversation per ticket; on messaging
    # networks the customer's chat with us (their id or phone number), as platforms key it.
    identity = {k: a for k, a, _ in persona.identities}
    thread_key = {
        "email": "",
        "chat": f"session-{_digest('session', index, length=20)}",
        "api": f"conv-{_digest('conversation', index, length=12)}",
    }.get(kind, identity[IDENTITY_KIND[kind]])
    if kind == "email":
        subject = rng.choice(topic.subjects).format(**fill)
        text = f"{rng.choice(('Hello', 'Hi', 'Hi there', 'Good morning'))},\n\n{rng.choice(topic.asks).format(**fill)}\n\nThanks,\n{persona.name}"
    else:
        text = rng.choice(topic.chats).format(**fill)
        subject = rng.choice(topic.subjects).format(**fill) if kind == "api" else text.splitlines()[0][:120]
    ticket = Ticket(
        subject=subject[:500],
        status=Ticket.Status.NEW,
        priority=Ticket.Priority.HIGH if persona.tier == Customer.Tier.VIP else Ticket.Priority.NORMAL,
        channel=channel,
        customer_id=world.customer_ids[c],
        organization_id=world.organization_ids[persona.organization] if persona.organization is not None else None,
        language="en",
        thread_key=thread_key[:255],
        created_at=created_at,
        updated_at=created_at,
    )
    if rng.random() < 0.45:
        ticket.sentiment = round(rng.uniform(*topic.sentiment), 2)
    story = _Story(index=index, ticket=ticket, now=world.now, customer_id=world.customer_ids[c], channel_kind=kind, email=persona.email)
    try:
        story.open(text=text, subject=subject, team_id=channel.default_team_id)
        _play(story=story, rng=rng, topic=topic, world=world, persona=persona, fill=fill)
    except _Truncated:
        pass
    return story


def _schedule(*, count: int, start: int, size: int, now: dt.datetime) -> list[dt.datetime]:
    """Creation times for ``count`` tickets over the window, busier on weekdays and working
    hours and growing over the weeks (so the recent inbox is lively), in order (so ticket
    numbers grow with time as they would in a real helpdesk).

    The window ends at the top of the current hour, so runs within the same hour schedule
    exactly the same moments (the rest of the data then comes out the same too).
    """
    rng = _rng("schedule", start, size)
    hour_weight = (2, 1.5, 1, 1, 1, 1.5, 3, 5, 8, 10, 10, 10, 9, 9, 10, 10, 9, 8, 6, 5, 4, 4, 3, 2.5)
    end = now.replace(minute=0, second=0, microsecond=0)
    begin, span = end - WINDOW, WINDOW.total_seconds()
    times: list[dt.datetime] = []
    while len(times) < count:
        moment = begin + dt.timedelta(seconds=int(rng.uniform(0, span)))
        growth = 0.5 + (moment - begin) / WINDOW  # from 0.5 to 1.5
        weight = hour_weight[moment.hour] / 10 * (0.45 if moment.weekday() >= 5 else 1.0) * growth / 1.5
        if rng.random() < weight:
            times.append(moment)
    return sorted(times)


# --- The command --------------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


_EVENT_FIELDS = ("ticket", "kind", "actor_kind", "actor_user", "actor_customer", "message", "data", "created_at")


def _insert_rows(*, model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT many rows with multi-row statements, for rows whose ids nobody needs back.

    Events are two thirds of the rows; ``bulk_create`` spends most of its time compiling
    SQL value by value, which this skips (and ``executemany`` would pay one round trip per
    row on PostgreSQL). Values still go through each field's own ``get_db_prep_save``, so
    JSON and datetimes are adapted exactly as the ORM would.
    """
    if not rows:
        return
    opts = model._meta
    conn = connections[router.db_for_write(model)]  # the wrapper itself, not the thread-local proxy
    columns = [opts.get_field(name) for name in fields]
    per_statement = min(ROW_BATCH, (conn.features.max_query_params or 65_535) // len(columns))
    quote = conn.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(quote(opts.db_table), ", ".join(quote(f.column) for f in columns))
    placeholders = "({})".format(", ".join(["%s"] * len(columns)))
    with conn.cursor() as cursor:
        for chunk in _chunks(rows, per_statement):
            params = [f.get_db_prep_save(v, conn) for row in chunk for f, v in zip(columns, row)]
            cursor.execute(head + ", ".join([placeholders] * len(chunk)), params)


class Command(BaseCommand):
    help = "Fill the database with demo data (users admin/maya/sam, channels, customers, tickets). Safe to run twice."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help=f"number of tickets (default {DEFAULT_SIZE})")

    def handle(self, *args: Any, **options: Any) -> None:
        size: int = options["size"]
        self.verbosity: int = options["verbosity"]
        if size < 0:
            raise CommandError("--size must be 0 or more")
        started = time.perf_counter()
        self.created: dict[str, int] = {}
        now = timezone.now().replace(microsecond=0)
        with transaction.atomic():
            roles_sync()
            teams = self._teams()
            users = self._staff(teams=teams)
            channels = self._channels(teams=teams)
            organization_ids = self._organizations()
            self._tags()
        personas = _personas(count=max(MIN_CUSTOMERS, size // TICKETS_PER_CUSTOMER))
        customer_ids = self._customers(personas=personas, organization_ids=organization_ids, now=now)
        existing = Ticket.objects.filter(channel__in=channels.values()).count()
        if existing < size:
            # sam, the agent login of the demo, takes a double share so "Mine" has something in it.
            team_agents = {
                slug: [users[s.username] for s in STAFF for _ in range(2 if s.username == "sam" else 1) if slug in s.teams and s.role == AGENT]
                for slug, _, _ in TEAMS
            }
            world = World(
                channels=channels,
                teams=teams,
                team_agents=team_agents,
                manager_id=users["maya"],
                personas=personas,
                customer_ids=customer_ids,
                organization_ids=organization_ids,
                agent_names={users[s.username]: s.first_name for s in STAFF},
                now=now,
            )
            self._tickets(world=world, start=existing, size=size)
        elapsed = time.perf_counter() - started
        if not any(self.created.values()):
            self.stdout.write(
                f"Demo data is already there ({existing} tickets, {len(customer_ids)} customers); nothing to do ({elapsed:.1f}s)."
            )
            return
        parts = ", ".join(f"{count} {name}" for name, count in self.created.items() if count)
        self.stdout.write(f"Demo data created in {elapsed:.1f}s: {parts}.")

    def _count(self, name: str, n: int) -> None:
        self.created[name] = self.created.get(name, 0) + n

    # Setup rows: few, created one by one only when missing ----------------------------
    def _teams(self) -> dict[str, int]:
        ids = {}
        for slug, name, is_private in TEAMS:
            team, made = Team.objects.get_or_create(slug=slug, defaults={"name": name, "is_private": is_private})
            ids[slug] = team.pk
            self._count("teams", int(made))
        return ids

    def _staff(self, *, teams: dict[str, int]) -> dict[str, int]:
        """Staff users with their role group and agent profile. Existing users keep their
        password and flags (someone may have changed them); only what is missing is added."""
        from django.contrib.auth.models import Group

        User = get_user_model()
        existing = {u.username: u for u in User.objects.filter(username__in=[s.username for s in STAFF])}
        groups = {g.name: g for g in Group.objects.filter(name__in=(ADMIN, MANAGER, AGENT))}
        hashes: dict[str, str] = {}  # one hash per role: hashing is deliberately slow
        profiled = set(AgentProfile.objects.filter(user__username__in=[s.username for s in STAFF]).values_list("user__username", flat=True))
        ids = {}
        for spec in STAFF:
            user = existing.get(spec.username)
            if user is None:
                if spec.role not in hashes:
                    hashes[spec.role] = make_password(LOGIN_PASSWORDS[spec.role])
                user = User.objects.create(
                    username=spec.username,
                    first_name=spec.first_name,
                    last_name=spec.last_name,
                    email=f"{spec.username}@{OUR_DOMAIN}",
                    password=hashes[spec.role],
                    is_staff=True,
                    is_superuser=spec.role == ADMIN,
                )
                user.groups.add(groups[spec.role])
                self._count("staff users", 1)
            ids[spec.username] = user.pk
            if spec.username not in profiled:
                profile = AgentProfile.objects.create(
                    user=user,
                    display_name=f"{spec.first_name} {spec.last_name}",
                    skills=list(spec.skills),
                    capacity=spec.capacity,
                    availability=spec.availability,
                    availability_changed_at=timezone.now() - dt.timedelta(minutes=37),
                )
                profile.teams.set([teams[slug] for slug in spec.teams])
                self._count("agent profiles", 1)
        return ids

    def _channels(self, *, teams: dict[str, int]) -> dict[str, Channel]:
        channels = {}
        for kind, name, team, address in CHANNELS:
            lookup = {"inbound_address": address} if address else {"kind": kind, "name": name}
            channel = Channel.objects.filter(**lookup).order_by("pk").first()
            if channel is None:
                channel = Channel.objects.create(kind=kind, name=name, inbound_address=address, default_team_id=teams[team])
                self._count("channels", 1)
            channels[kind] = channel
        return channels

    def _organizations(self) -> list[int]:
        ids = []
        for name, domains, plan in ORGANIZATIONS:
            link = OrganizationDomain.objects.filter(domain=domains[0]).first()
            if link is None:
                org = Organization.objects.create(
                    name=name, notes=f"{plan} customer since 2023.", custom_attributes={"plan": plan}
                )
                OrganizationDomain.objects.bulk_create(
                    [OrganizationDomain(organization=org, domain=d) for d in domains], ignore_conflicts=True
                )
                self._count("organizations", 1)
                ids.append(org.pk)
            else:
                ids.append(link.organization_id)
        return ids

    def _tags(self) -> None:
        names = sorted({name for topic in TOPICS for name in topic.tags} | {"vip"})
        have = set(Tag.objects.filter(name__in=names).values_list("name", flat=True))
        Tag.objects.bulk_create([Tag(name=n) for n in names if n not in have], ignore_conflicts=True)

    def _customers(self, *, personas: list[Persona], organization_ids: list[int], now: dt.datetime) -> list[int]:
        """Customer ids by persona index; a persona is present when its first identity is."""
        ids: dict[tuple[str, str], int] = {}
        by_kind: dict[str, list[str]] = {}
        for p in personas:
            kind, address, _ = p.identities[0]
            by_kind.setdefault(kind, []).append(address)
        for kind, addresses in by_kind.items():
            for chunk in _chunks(addresses, 500):
                rows = CustomerIdentity.objects.filter(kind=kind, address__in=chunk).values_list("address", "customer_id")
                ids.update({(kind, a): c for a, c in rows})
        missing = [p for p in personas if p.identities[0][:2] not in ids]
        for chunk in _chunks(missing, 2000):
            with transaction.atomic():
                customers = [
                    Customer(
                        name=p.name,
                        organization_id=organization_ids[p.organization] if p.organization is not None else None,
                        language="en",
                        time_zone=p.time_zone,
                        tier=p.tier,
                        custom_attributes={"plan": ORGANIZATIONS[p.organization][2]} if p.organization is not None else {},
                        first_seen_at=now - dt.timedelta(days=p.first_seen_at_days),
                        last_seen_at=now - dt.timedelta(days=p.first_seen_at_days),
                    )
                    for p in chunk
                ]
                Customer.objects.bulk_create(customers, batch_size=ROW_BATCH)
                identities = [
                    CustomerIdentity(
                        customer=customer,
                        kind=kind,
                        address=address,
                        display_name=display,
                        is_verified=kind in (CustomerIdentity.Kind.PHONE, CustomerIdentity.Kind.WHATSAPP),
                    )
                    for p, customer in zip(chunk, customers)
                    for kind, address, display in p.identities
                ]
                CustomerIdentity.objects.bulk_create(identities, batch_size=ROW_BATCH, ignore_conflicts=True)
                ids.update({p.identities[0][:2]: customer.pk for p, customer in zip(chunk, customers)})
                self._count("customers", len(customers))
                self._count("identities", len(identities))
        return [ids[p.identities[0][:2]] for p in personas]

    # Tickets: planned in memory, bulk-inserted per batch -------------------------------
    def _tickets(self, *, world: World, start: int, size: int) -> None:
        times = _schedule(count=size - start, start=start, size=size, now=world.now)
        tags = dict(Tag.objects.values_list("name", "pk"))
        touched: set[int] = set()
        for offset in range(0, size - start, TICKET_BATCH):
            batch = range(start + offset, min(start + offset + TICKET_BATCH, size))
            stories = [_ticket_story(index=i, created_at=times[i - start], world=world) for i in batch]
            with transaction.atomic():
                tickets = [s.ticket for s in stories]
                Ticket.objects.bulk_create(tickets, batch_size=ROW_BATCH)
                for chunk in _chunks([t.pk for t in tickets], 500):
                    Ticket.objects.filter(pk__in=chunk).update(number=F("id"))
                messages = []
                for story in stories:
                    story.ticket.number = story.ticket.pk
                    number = str(story.ticket.pk)
                    for m in story.messages:
                        if story.kind == "email":
                            m.subject = m.subject.replace(_NUMBER, number)
                            m.external_id = m.external_id.replace(_NUMBER, number) if m.external_id else m.external_id
                            m.in_reply_to = m.in_reply_to.replace(_NUMBER, number)
                            m.references = m.references.replace(_NUMBER, number)
                        messages.append(m)
                Message.objects.bulk_create(messages, batch_size=ROW_BATCH)
                events = [
                    (s.ticket.pk, e.kind, e.who.kind, e.who.user_id, e.who.customer_id, e.message.pk if e.message else None, e.data, e.at)
                    for s in stories
                    for e in s.events
                ]
                _insert_rows(model=TicketEvent, fields=_EVENT_FIELDS, rows=events)
                links = [(s.ticket.pk, tags[n]) for s in stories for n in s.tag_names]
                _insert_rows(model=Ticket.tags.through, fields=("ticket", "tag"), rows=links)
            touched.update(t.customer_id for t in tickets)
            self._count("tickets", len(tickets))
            self._count("messages", len(messages))
            self._count("events", len(events))
            if self.verbosity >= 2:
                self.stdout.write(f"  {batch.stop}/{size} tickets")
        self._customers_seen(customer_ids=sorted(touched))

    def _customers_seen(self, *, customer_ids: list[int]) -> None:
        """first/last seen from the customers' tickets, so the CRM agrees with the history."""
        tickets = Ticket.objects.filter(customer=OuterRef("pk")).order_by().values("customer")
        first = tickets.annotate(v=Min("created_at")).values("v")
        last = tickets.annotate(v=Max("last_customer_activity_at")).values("v")
        with transaction.atomic():
            for chunk in _chunks(customer_ids, 500):
                Customer.objects.filter(pk__in=chunk).update(first_seen_at=Subquery(first), last_seen_at=Subquery(last))

