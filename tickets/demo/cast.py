"""Who is in the demo: teams, staff, channels, organizations and the customers (personas)."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

from channels_inbox.models import Channel
from tickets.models import AgentProfile, Customer, CustomerIdentity
from tickets.roles import ADMIN, AGENT, MANAGER

from .base import SUPPORT_ADDRESS, digest, rng_for

# --- Staff, channels, organizations ----------------------------------------------------------

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
# The demo's chat widget (Channel.config["widget"], docs/channels/chat.md): no origin list,
# so the demo page works on whatever host and port `make run` or a test server uses.
DEMO_WIDGET = {
    "color": "#2f6fdf",
    "greeting": "Hi! Ask us anything — we usually answer within minutes.",
    "position": "right",
    "language": "en",
    "prechat": {"name": "optional", "email": "optional"},
    "allowed_origins": [],
    "require_verification": False,
}
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


def personas(*, count: int) -> list[Persona]:
    """The first ``count`` customers; customer i is the same for every count (it only
    depends on i and on the email addresses taken by customers before it)."""
    used: set[str] = set()
    people = []
    for index in range(count):
        rng = rng_for("customer", index)
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
            "chat": (f"visitor-{digest('visitor', index, length=16)}", name),
            "telegram": (str(200_000_000 + index * 7 + 3), f"@{handle}"),
            "messenger": (str(5_900_000_000_000_000 + index * 101 + 17), name),
            "instagram": (str(17_840_000_000_000_000 + index * 131 + 29), f"@{handle}"),
            "whatsapp": (phone, name),
            "sms": (phone, name),
            "api": (f"user-{10_000 + index}", name),
        }
        if "email" in kinds:
            used.add(email)
        people.append(
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
    return people
