"""Writes of the workspace's admin area (/manage/): teams, agents, shared macros, company details,
and an agent's own availability.

Invariants live here, not in the forms: the forms catch mistakes early with friendly
messages, but a script or a race can still reach these functions, so each one checks what
must never happen (two teams of one name, no administrator left, a time zone Python cannot
load) and raises ``ValidationError`` with the same words.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify

from tickets import roles
from tickets.models import AgentProfile, CompanyProfile, Macro, Team, Ticket
from tickets.selectors.manage import company_profile_get

logger = logging.getLogger(__name__)

User = get_user_model()

ROLE_CHOICES = [(roles.AGENT, "Agent"), (roles.MANAGER, "Manager"), (roles.ADMIN, "Administrator")]


# --- Teams ---------------------------------------------------------------------------


def _unique_team_slug(name: str, *, exclude_pk: int | None) -> str:
    base = (slugify(name) or "team")[:110]
    taken = set(Team.objects.exclude(pk=exclude_pk).filter(slug__startswith=base).values_list("slug", flat=True))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _check_team_name(name: str, *, exclude_pk: int | None) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "A team needs a name."})
    if Team.objects.exclude(pk=exclude_pk).filter(name__iexact=name).exists():
        raise ValidationError({"name": f"A team named “{name}” already exists."})
    return name


def _save_team(team: Team, *, members: Iterable[AgentProfile] | None) -> Team:
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError:
        # Two admins saving the same name at once: the unique index decides, the loser is told.
        raise ValidationError({"name": f"A team named “{team.name}” already exists."}) from None
    if members is not None:
        team.agents.set(list(members))
    return team


@transaction.atomic
def team_create(*, name: str, is_private: bool = False, members: Iterable[AgentProfile] | None = None) -> Team:
    name = _check_team_name(name, exclude_pk=None)
    team = Team(name=name, slug=_unique_team_slug(name, exclude_pk=None), is_private=is_private)
    return _save_team(team, members=members)


@transaction.atomic
def team_update(
    *, team: Team, name: str, is_private: bool, members: Iterable[AgentProfile] | None = None
) -> Team:
    """Rename, make private or public, set the members. The slug follows a renamed team
    so it never holds an old name (nothing links to slugs yet)."""
    name = _check_team_name(name, exclude_pk=team.pk)
    if name != team.name:
        team.slug = _unique_team_slug(name, exclude_pk=team.pk)
    team.name, team.is_private = name, is_private
    return _save_team(team, members=members)


# --- Agents --------------------------------------------------------------------------


def _role_groups() -> dict[str, Group]:
    groups = {g.name: g for g in Group.objects.filter(name__in=[r for r, _ in ROLE_CHOICES])}
    if len(groups) < len(ROLE_CHOICES):
        groups = roles.roles_sync()
    return groups


def _set_role(user: Any, role: str) -> None:
    if role not in dict(ROLE_CHOICES):
        raise ValidationError({"role": f"“{role}” is not a role; choose agent, manager or administrator."})
    groups = _role_groups()
    user.groups.remove(*[g for name, g in groups.items() if name != role])
    user.groups.add(groups[role])
    user.__dict__.pop("_parley_role", None)  # roles.user_role caches per user object


def _active_admin_ids() -> set[int]:
    return set(
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=roles.ADMIN))
        .values_list("pk", flat=True)
    )


def _check_admins_remain(user: Any, *, losing_admin: bool) -> None:
    """Parley must always keep one active administrator, or nobody could manage it again."""
    if losing_admin and not (_active_admin_ids() - {user.pk}):
        raise ValidationError("Parley needs at least one active administrator; make someone else one first.")


def _clean_skills(skills: Sequence[str]) -> list[str]:
    return sorted({" ".join(s.split()).lower()[:64] for s in skills if s and s.strip()})


def _check_email(email: str, *, exclude_pk: int | None) -> str:
    email = email.strip()
    if not email:
        raise ValidationError({"email": "An agent needs an email address (password links are sent to it)."})
    if User.objects.exclude(pk=exclude_pk).filter(email__iexact=email).exists():
        raise ValidationError({"email": f"Another user already has the address {email}."})
    return email


@transaction.atomic
def agent_create(
    *,
    username: str,
    email: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    display_name: str = "",
    teams: Iterable[Team] = (),
    skills: Sequence[str] = (),
    capacity: int = 20,
    availability: str = AgentProfile.Availability.OFFLINE,
    password: str | None = None,
    site_url: str = "",
) -> AgentProfile:
    """A staff user with a role and an agent profile.

    Without a password the account gets an unusable one and, once committed, an email with
    a link to choose it: the admin never knows the agent's password.
    """
    username = username.strip()
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"The user name “{username}” is taken."})
    email = _check_email(email, exclude_pk=None)
    user = User(username=username, email=email, first_name=first_name.strip(), last_name=last_name.strip(), is_staff=True)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise ValidationError({"username": f"The user name “{username}” is taken."}) from None
    _set_role(user, role)
    profile = AgentProfile.objects.create(
        user=user,
        display_name=display_name.strip(),
        skills=_clean_skills(skills),
        capacity=capacity,
        availability=availability,
        availability_changed_at=timezone.now(),
    )
    profile.teams.set(list(teams))
    if not password:
        agent_send_password_link(user=user, site_url=site_url, invite=True)
    return profile


@transaction.atomic
def agent_update(
    *,
    user: Any,
    email: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    display_name: str = "",
    teams: Iterable[Team] = (),
    skills: Sequence[str] = (),
    capacity: int = 20,
    availability: str | None = None,
) -> AgentProfile:
    """Change an agent's details, role and teams; a profile is made for a staff user who had none."""
    email = _check_email(email, exclude_pk=user.pk)
    was_admin = roles.user_role(user) == roles.ADMIN
    _check_admins_remain(user, losing_admin=was_admin and role != roles.ADMIN and not user.is_superuser)
    user.email, user.first_name, user.last_name = email, first_name.strip(), last_name.strip()
    user.save(update_fields=["email", "first_name", "last_name"])
    _set_role(user, role)
    profile, _ = AgentProfile.objects.get_or_create(user=user)
    profile.display_name = display_name.strip()
    profile.skills = _clean_skills(skills)
    profile.capacity = capacity
    profile.save(update_fields=["display_name", "skills", "capacity"])
    profile.teams.set(list(teams))
    if availability is not None:
        profile = agent_set_availability(user=user, availability=availability)
    return profile


@transaction.atomic
def agent_set_active(*, user: Any, is_active: bool, changed_by: Any) -> Any:
    """Deactivate (or bring back) an account. Deactivated users cannot sign in and are
    signed out at their next request; their messages and history stay theirs."""
    if not is_active:
        if user.pk == changed_by.pk:
            raise ValidationError("You cannot deactivate your own account.")
        _check_admins_remain(user, losing_admin=user.pk in _active_admin_ids())
    user.is_active = is_active
    user.save(update_fields=["is_active"])
    if not is_active:
        profile = AgentProfile.objects.filter(user=user).first()
        if profile is not None and profile.availability != AgentProfile.Availability.OFFLINE:
            agent_set_availability(user=user, availability=AgentProfile.Availability.OFFLINE)
    return user


@transaction.atomic
def agent_set_availability(*, user: Any, availability: str) -> AgentProfile:
    """Available, away or offline; ``availability_changed_at`` moves only on a real change,
    so "away for 40 minutes" stays true when the same choice is sent twice."""
    if availability not in AgentProfile.Availability.values:
        raise ValidationError({"availability": f"“{availability}” is not an availability."})
    profile, _ = AgentProfile.objects.select_for_update().get_or_create(user=user)
    if profile.availability != availability:
        was_available = profile.is_available
        profile.availability = availability
        profile.availability_changed_at = timezone.now()
        profile.save(update_fields=["availability", "availability_changed_at"])
        if profile.is_available != was_available:
            _routing_on_commit(profile_id=profile.pk, available=profile.is_available)
    return profile


def _routing_on_commit(*, profile_id: int, available: bool) -> None:
    """Routing reacts once the change is committed, in its own transaction: an agent coming
    back is offered the waiting queue; one leaving hands tickets back where the team says
    so. A routing failure is logged and never undoes the availability change."""
    from tickets.routing import services as routing

    def react() -> None:
        try:
            if available:
                routing.on_agent_available(profile_id)
            else:
                routing.on_agent_unavailable(profile_id)
        except Exception:  # routing is best effort here; its beat sweep catches up
            logger.exception("routing after an availability change failed", extra={"agent_id": profile_id})

    transaction.on_commit(react)


def password_link(*, user: Any, site_url: str) -> str:
    """The one-time link to choose a new password (Django's reset token: it stops working
    once the password changes or after PASSWORD_RESET_TIMEOUT)."""
    path = reverse(
        "password_reset_confirm",
        kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)},
    )
    return site_url.rstrip("/") + path


def password_reset_send(*, email: str, domain: str, use_https: bool) -> int:
    """Send Django's password-reset email to every active account with ``email`` (run on a
    worker, see tickets.tasks.send_password_reset). Returns how many were sent."""
    from tickets.forms_manage import AccountPasswordResetForm

    form = AccountPasswordResetForm({"email": email})
    if not form.is_valid():
        return 0
    users = list(form.get_users(form.cleaned_data["email"]))
    form.save(
        domain_override=domain,
        use_https=use_https,
        subject_template_name="registration/password_reset_subject.txt",
        email_template_name="registration/password_reset_email.txt",
        extra_email_context={"company_name": company_profile_get().name, "site_name": domain},
    )
    return len(users)


def agent_send_password_link(*, user: Any, site_url: str, invite: bool = False) -> None:
    """Email the user a link to set their password: an invitation for a new account, or a
    reset an admin sends. Sent once the surrounding transaction commits."""
    if not user.email:
        raise ValidationError(f"{user.get_username()} has no email address to send the link to.")
    if not user.is_active:
        raise ValidationError(f"{user.get_username()} is deactivated; reactivate the account first.")
    context = {
        "user": user,
        "link": password_link(user=user, site_url=site_url),
        "company_name": company_profile_get().name,
        "invite": invite,
    }
    subject = " ".join(render_to_string("registration/account_link_subject.txt", context).split())
    body = render_to_string("registration/account_link_email.txt", context)
    recipient = user.email

    def send() -> None:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])

    transaction.on_commit(send)


# --- Shared macros -------------------------------------------------------------------


def _macro_fields(
    *,
    name: str,
    set_status: str,
    set_priority: str,
    add_tags: Sequence[str],
) -> dict[str, Any]:
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "A macro needs a name."})
    if set_status and set_status not in Ticket.Status.values:
        raise ValidationError({"set_status": f"“{set_status}” is not a ticket status."})
    if set_priority and set_priority not in Ticket.Priority.values:
        raise ValidationError({"set_priority": f"“{set_priority}” is not a priority."})
    # Tags are stored the way ticket_set_tags writes them: trimmed, lower-case, unique.
    tags = sorted({t.strip().lower()[:64] for t in add_tags if t and t.strip()})
    return {"name": name, "add_tags": tags}


def _save_macro(macro: Macro) -> Macro:
    if Macro.objects.filter(owner__isnull=True, name__iexact=macro.name).exclude(pk=macro.pk).exists():
        raise ValidationError({"name": f"A shared macro named “{macro.name}” already exists."})
    try:
        with transaction.atomic():
            macro.save()
    except IntegrityError:
        raise ValidationError({"name": f"A shared macro named “{macro.name}” already exists."}) from None
    return macro


@transaction.atomic
def macro_create_shared(
    *,
    name: str,
    body: str = "",
    is_note: bool = False,
    set_status: str = "",
    set_priority: str = "",
    set_team: Team | None = None,
    add_tags: Sequence[str] = (),
    assign_to_me: bool = False,
    is_active: bool = True,
) -> Macro:
    """A macro offered to every agent (no owner)."""
    fields = _macro_fields(name=name, set_status=set_status, set_priority=set_priority, add_tags=add_tags)
    macro = Macro(
        owner=None,
        body=body,
        is_note=is_note,
        set_status=set_status,
        set_priority=set_priority,
        set_team=set_team,
        assign_to_me=assign_to_me,
        is_active=is_active,
        **fields,
    )
    return _save_macro(macro)


@transaction.atomic
def macro_update_shared(
    *,
    macro: Macro,
    name: str,
    body: str = "",
    is_note: bool = False,
    set_status: str = "",
    set_priority: str = "",
    set_team: Team | None = None,
    add_tags: Sequence[str] = (),
    assign_to_me: bool = False,
    is_active: bool = True,
) -> Macro:
    if not macro.is_shared:
        raise ValidationError("Only shared macros are edited here; personal macros belong to their owner.")
    fields = _macro_fields(name=name, set_status=set_status, set_priority=set_priority, add_tags=add_tags)
    macro.body, macro.is_note, macro.set_status, macro.set_priority = body, is_note, set_status, set_priority
    macro.set_team, macro.assign_to_me, macro.is_active = set_team, assign_to_me, is_active
    macro.name, macro.add_tags = fields["name"], fields["add_tags"]
    return _save_macro(macro)


@transaction.atomic
def macro_delete_shared(*, macro: Macro) -> None:
    """Delete a shared macro. Tickets keep their history: the macro_applied events hold
    the macro's name, not a reference to the row."""
    if not macro.is_shared:
        raise ValidationError("Only shared macros are deleted here.")
    macro.delete()


# --- Company details -----------------------------------------------------------------


def check_time_zone(name: str) -> str:
    name = name.strip()
    if name not in zoneinfo.available_timezones():
        raise ValidationError(
            {"time_zone": f"“{name}” is not a time zone; use an IANA name such as Europe/Berlin or America/New_York."}
        )
    return name


@transaction.atomic
def company_profile_update(
    *,
    name: str,
    website: str = "",
    support_email: str = "",
    phone: str = "",
    address: str = "",
    time_zone: str = "UTC",
) -> CompanyProfile:
    """Save the company's details in the single row (pk=1), creating it the first time."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "The company needs a name: customers see it in replies."})
    time_zone = check_time_zone(time_zone)
    profile, _ = CompanyProfile.objects.select_for_update().get_or_create(pk=1, defaults={"name": name})
    profile.name, profile.website, profile.support_email = name, website.strip(), support_email.strip()
    profile.phone, profile.address, profile.time_zone = phone.strip(), address.strip(), time_zone
    profile.save()
    return profile
