"""The ticket page and its actions: parse the request, call one selector or service, render.

Every action works as a plain form POST (then a redirect back to the ticket, with a flash
message for what went wrong) and, sent by htmx, answers with the fragment it changed.
Every ticket is read through ``visible_tickets`` (``ticket_or_404``, or for the page itself
``ticket_page_get``): outside a private team, every URL here, GET or POST, is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from tickets import selectors, services
from tickets.events import Actor
from tickets.exceptions import (
    InvalidTransition,
    MacroNotAllowed,
    MergeNotAllowed,
    SplitNotAllowed,
)
from tickets.files import INLINE_TYPES, attachment_response
from tickets.forms import (
    AssigneeForm,
    MergeForm,
    PriorityForm,
    ReplyForm,
    StatusForm,
    TagsForm,
    TeamForm,
    TemplateMessageForm,
)
from tickets.forms_manage import MacroForm
from tickets.models import Message, Ticket
from tickets.templatetags.ticket_messages import message_bodies
from tickets.views.base import staff_required, ticket_or_404


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _ticket(request: HttpRequest, number: int) -> tuple[Ticket, QuerySet[Ticket]]:
    """The ticket as the page shows it and the user's visible tickets (the customer panel
    reuses them), or for a merged ticket's old address a redirect to where it lives now."""
    tickets = selectors.visible_tickets(request.user)
    ticket = selectors.ticket_page_get(user=request.user, number=number, tickets=tickets)
    if ticket is None:
        target = selectors.merged_ticket_target(user=request.user, number=number)
        if target is not None:
            raise _Moved(target.number)
        raise Http404("No such ticket")
    return ticket, tickets


class _Moved(Exception):
    def __init__(self, number: int) -> None:
        self.number = number


def _reply_form_initial(ticket: Ticket, messages: list[Message] | None = None) -> dict[str, Any]:
    if ticket.channel.kind != "email":
        return {}
    return {"cc": ", ".join(selectors.reply_cc_suggestion(ticket=ticket, messages=messages))}


def _page_context(
    request: HttpRequest,
    ticket: Ticket,
    *,
    reply_form: ReplyForm | None = None,
    tickets: QuerySet[Ticket] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Everything the page shows, in a fixed number of queries however long the ticket.

    The editors' agent and team lists also name the agents and teams the timeline's events
    mention; the timeline's messages give the CC suggestion its last customer message."""
    macros = list(selectors.macros_for_user(user=request.user))
    agents = selectors.ticket_assignee_choices(ticket=ticket)
    teams = list(selectors.ticket_team_choices())
    timeline = selectors.ticket_page_timeline(
        ticket=ticket,
        user_names={p.user_id: p.name for p in agents},
        team_names={t.pk: t.name for t in teams},
    )
    messages = [e.message for e in timeline if e.message is not None]
    if reply_form is None:
        reply_form = ReplyForm(initial=_reply_form_initial(ticket, messages))
    context = {
        "ticket": ticket,
        "timeline": timeline,
        # Folded and sanitised once per message version (cached), one cache read per page.
        "message_bodies": message_bodies(messages),
        "sla": selectors.sla_clock(ticket=ticket),
        "reply_form": reply_form,
        "is_email": ticket.channel.kind == "email",
        "shared_macros": [m for m in macros if m.owner_id is None],
        "personal_macros": [m for m in macros if m.owner_id is not None],
        "status_form": StatusForm(initial={"status": ticket.status}),
        "priority_form": PriorityForm(initial={"priority": ticket.priority}),
        "assignee_form": AssigneeForm(initial={"assignee": ticket.assignee_id}, agents=agents),
        # The form keeps the (unevaluated) queryset to validate a POST; the page lists ``teams``.
        "team_form": TeamForm(initial={"team": ticket.team_id}, teams=selectors.ticket_team_choices()),
        "teams": teams,
        "tags_form": TagsForm(initial={"tags": ", ".join(t.name for t in ticket.tags.all())}),
        "tag_suggestions": selectors.tag_suggestions(),
        "merge_form": MergeForm(),
        "preview_types": INLINE_TYPES,
        "customer_panel": selectors.customer_panel(
            customer=ticket.customer, user=request.user, exclude_ticket=ticket, tickets=tickets
        ),
    }
    context.update(extra)
    return context


def _render_page(request: HttpRequest, ticket: Ticket, *, status: int = 200, **extra: Any) -> HttpResponse:
    response = render(request, "tickets/ticket.html", _page_context(request, ticket, **extra), status=status)
    # Only when there is something new to mark: a repeat view of a read ticket writes nothing.
    if selectors.ticket_needs_read_mark(ticket=ticket):
        services.ticket_mark_read(ticket=ticket, user=request.user)
    return response


@staff_required
def ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    """The page; ``?macro=<id>`` fills the reply box with that macro (htmx: the box alone)."""
    try:
        ticket, tickets = _ticket(request, number)
    except _Moved as moved:
        return redirect("tickets:detail", number=moved.number)
    macro_id = request.GET.get("insert_macro", "")
    if not macro_id.isdigit():
        return _render_page(request, ticket, tickets=tickets)
    macro = selectors.macro_get_for_user(user=request.user, macro_id=int(macro_id))
    if macro is None:
        raise Http404("No such macro")
    typed = request.GET.get("text", "").rstrip()
    body = selectors.macro_render(macro=macro, ticket=ticket, user=request.user)
    initial = {
        **_reply_form_initial(ticket),
        "text": f"{typed}\n\n{body}" if typed and body else (typed or body),
        "is_note": macro.is_note,
        "status": macro.set_status,
        "macro": macro.pk,
    }
    reply_form = ReplyForm(initial=initial)
    if _is_htmx(request):
        context = {"ticket": ticket, "reply_form": reply_form, "applied_macro": macro, "is_email": ticket.channel.kind == "email"}
        macros = list(selectors.macros_for_user(user=request.user))
        context["shared_macros"] = [m for m in macros if m.owner_id is None]
        context["personal_macros"] = [m for m in macros if m.owner_id is not None]
        return render(request, "tickets/ticket.html#reply", context)
    return _render_page(request, ticket, reply_form=reply_form, applied_macro=macro, tickets=tickets)


@staff_required
@require_POST
def ticket_send_template(request: HttpRequest, number: int) -> HttpResponse:
    """Send an approved template (the only message WhatsApp allows outside its window)."""
    ticket = ticket_or_404(request, number)
    form = TemplateMessageForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        services.message_send_template(
            ticket=ticket, author=request.user, name=data["name"], language=data["language"], parameters=data["parameters"]
        )
        flash.success(request, f"Template “{data['name']}” queued for sending.")
    else:
        flash.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("tickets:detail", number=number)


@staff_required
@require_POST
def ticket_reply(request: HttpRequest, number: int) -> HttpResponse:
    """Send a reply or add a note (with files, To/CC on email, a macro's actions).

    A refused reply re-renders the page with the text as typed, so nothing is lost."""
    ticket = ticket_or_404(request, number)
    form = ReplyForm(request.POST, request.FILES)
    error = None
    macro = None
    if form.is_valid():
        data = form.cleaned_data
        is_email = ticket.channel.kind == "email"
        if data["macro"]:
            macro = selectors.macro_get_for_user(user=request.user, macro_id=data["macro"])
        try:
            if data["macro"] and macro is None:
                raise MacroNotAllowed("That macro is no longer available; your text is still here.")
            services.reply_box_submit(
                ticket=ticket,
                user=request.user,
                text=data["text"],
                is_note=data["is_note"],
                to=(data["to"] or None) if is_email else None,
                cc=data["cc"] if is_email else (),
                attachments=data["attachments"],
                status=data["status"] or None,
                macro=macro,
            )
        except (InvalidTransition, MacroNotAllowed) as exc:
            error = str(exc)
        else:
            if data["is_note"]:
                flash.success(request, "Note added.")
            return redirect("tickets:detail", number=number)
    else:
        error = " ".join(e for errors in form.errors.values() for e in errors)
    if request.FILES:
        error = f"{error} Attach the files again." if error else error
    if _is_htmx(request):
        return render(
            request,
            "tickets/ticket.html#reply",
            {"ticket": ticket, "reply_form": form, "reply_error": error, "is_email": ticket.channel.kind == "email", "applied_macro": macro},
            status=200,
        )
    return _render_page(request, ticket, reply_form=form, reply_error=error, applied_macro=macro, status=400)


# --- Fields edited in place ---------------------------------------------------------


def _property_response(request: HttpRequest, number: int, *, error: str | None, saved: str | None) -> HttpResponse:
    """htmx: the sidebar fragment (and, out of band, the header line and the timeline with the new event);
    a plain POST: back to the page, the outcome in a flash message."""
    if not _is_htmx(request):
        if error:
            flash.error(request, error)
        return redirect("tickets:detail", number=number)
    ticket = ticket_or_404(request, number)  # fresh: the fragment shows the new values
    context = _page_context(request, ticket, properties_error=error, properties_saved=saved)
    html = render_to_string("tickets/ticket.html#properties", context, request=request)
    html += render_to_string("tickets/ticket.html#meta", {**context, "oob": True}, request=request)
    html += render_to_string("tickets/ticket.html#timeline", {**context, "oob": True}, request=request)
    return HttpResponse(html)


def _form_error(form: Any) -> str:
    return " ".join(e for errors in form.errors.values() for e in errors)


@staff_required
@require_POST
def ticket_status(request: HttpRequest, number: int) -> HttpResponse:
    ticket = ticket_or_404(request, number)
    form = StatusForm(request.POST)
    error = None
    if not form.is_valid():
        error = _form_error(form)
    else:
        try:
            services.ticket_change_status(ticket=ticket, status=form.cleaned_data["status"], actor=Actor.agent(request.user))
        except InvalidTransition as exc:
            error = str(exc)[:1].upper() + str(exc)[1:] + "."
    return _property_response(request, number, error=error, saved=None if error else "Status saved.")


@staff_required
@require_POST
def ticket_priority(request: HttpRequest, number: int) -> HttpResponse:
    ticket = ticket_or_404(request, number)
    form = PriorityForm(request.POST)
    error = None
    if not form.is_valid():
        error = _form_error(form)
    else:
        try:
            services.ticket_set_priority(ticket=ticket, priority=form.cleaned_data["priority"], actor=Actor.agent(request.user))
        except InvalidTransition as exc:
            error = str(exc)
    return _property_response(request, number, error=error, saved=None if error else "Priority saved.")


@staff_required
@require_POST
def ticket_assign(request: HttpRequest, number: int) -> HttpResponse:
    ticket = ticket_or_404(request, number)
    form = AssigneeForm(request.POST, agents=selectors.ticket_assignee_choices(ticket=ticket))
    error = None
    if not form.is_valid():
        error = "Pick an agent who can see this ticket."
    else:
        services.ticket_assign(ticket=ticket, assignee=form.cleaned_data["assignee"], actor=Actor.agent(request.user))
    return _property_response(request, number, error=error, saved=None if error else "Assignee saved.")


@staff_required
@require_POST
def ticket_team(request: HttpRequest, number: int) -> HttpResponse:
    ticket = ticket_or_404(request, number)
    form = TeamForm(request.POST, teams=selectors.ticket_team_choices())
    error = None
    if not form.is_valid():
        error = _form_error(form)
    else:
        team = form.cleaned_data["team"]
        services.ticket_set_team(ticket=ticket, team_id=team.pk if team else None, actor=Actor.agent(request.user))
    return _property_response(request, number, error=error, saved=None if error else "Team saved.")


@staff_required
@require_POST
def ticket_tags(request: HttpRequest, number: int) -> HttpResponse:
    ticket = ticket_or_404(request, number)
    form = TagsForm(request.POST)
    error = None
    if not form.is_valid():
        error = _form_error(form)
    else:
        services.ticket_set_tags(ticket=ticket, names=form.cleaned_data["tags"], actor=Actor.agent(request.user))
    return _property_response(request, number, error=error, saved=None if error else "Tags saved.")


# --- Merge and split ------------------------------------------------------------------


@staff_required
def ticket_merge(request: HttpRequest, number: int) -> HttpResponse:
    """GET ``?target=N``: what would happen, and a button to confirm. POST: merge."""
    ticket = ticket_or_404(request, number)
    data = request.POST if request.method == "POST" else request.GET
    form = MergeForm(data) if "target" in data or request.method == "POST" else MergeForm()
    target = None
    error = None
    if form.is_bound and form.is_valid():
        target = selectors.ticket_get_for_user(user=request.user, number=form.cleaned_data["target"])
        if target is None:
            error = f"There is no open ticket #{form.cleaned_data['target']} you can see."
        elif target.pk == ticket.pk:
            error = "A ticket cannot be merged into itself."
    elif form.is_bound:
        error = _form_error(form)
    if request.method == "POST" and target is not None and error is None:
        try:
            services.ticket_merge(source=ticket, target=target, actor=Actor.agent(request.user))
        except MergeNotAllowed as exc:
            error = str(exc)
        else:
            flash.success(request, f"#{ticket.number} was merged into this ticket.")
            return redirect("tickets:detail", number=target.number)
    return render(
        request,
        "tickets/ticket/merge.html",
        {
            "ticket": ticket,
            "target": target if error is None else None,
            "merge_form": form,
            "merge_error": error,
            "message_count": ticket.messages.count(),
        },
        status=400 if error and request.method == "POST" else 200,
    )


@staff_required
@require_POST
def message_split(request: HttpRequest, number: int, message_id: int) -> HttpResponse:
    ticket = ticket_or_404(request, number)
    message = selectors.message_for_ticket(ticket=ticket, message_id=message_id)
    if message is None:
        raise Http404("No such message")
    try:
        new = services.message_split(message=message, actor=Actor.agent(request.user))
    except SplitNotAllowed as exc:
        flash.error(request, str(exc))
        if _is_htmx(request):
            return HttpResponseClientRedirect(reverse("tickets:detail", args=[number]))
        return redirect("tickets:detail", number=number)
    flash.success(request, f"The message is now ticket #{new.number}.")
    if _is_htmx(request):
        return HttpResponseClientRedirect(reverse("tickets:detail", args=[new.number]))
    return redirect("tickets:detail", number=new.number)


# --- Personal macros ------------------------------------------------------------------


def _macro_arguments(form: MacroForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {key: data[key] for key in ("name", "body", "is_note", "set_status", "set_priority", "set_team", "add_tags", "assign_to_me", "is_active")}


def _apply_validation_error(form: MacroForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@staff_required
def macro_list(request: HttpRequest) -> HttpResponse:
    """The agent's own macros, and a form for a new one."""
    form = MacroForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            macro = services.macro_save_personal(owner=request.user, **_macro_arguments(form))
        except ValidationError as exc:
            _apply_validation_error(form, exc)
        else:
            flash.success(request, f"Macro “{macro.name}” saved.")
            return redirect("tickets:macros")
    return render(
        request,
        "tickets/macros.html",
        {
            "macros": selectors.macros_personal(user=request.user),
            "shared": [m for m in selectors.macros_for_user(user=request.user) if m.owner_id is None],
            "form": form,
        },
        status=400 if request.method == "POST" else 200,
    )


@staff_required
def macro_edit(request: HttpRequest, macro_id: int) -> HttpResponse:
    macro = selectors.macro_personal_get(user=request.user, macro_id=macro_id)
    if macro is None:
        raise Http404("No such macro")  # another's personal macro, or a shared one (admins edit those)
    initial = {
        "name": macro.name,
        "body": macro.body,
        "is_note": macro.is_note,
        "set_status": macro.set_status,
        "set_priority": macro.set_priority,
        "set_team": macro.set_team_id,
        "add_tags": ", ".join(macro.add_tags or []),
        "assign_to_me": macro.assign_to_me,
        "is_active": macro.is_active,
    }
    form = MacroForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.macro_save_personal(owner=request.user, macro=macro, **_macro_arguments(form))
        except ValidationError as exc:
            _apply_validation_error(form, exc)
        else:
            flash.success(request, f"Macro “{macro.name}” saved.")
            return redirect("tickets:macros")
    return render(request, "tickets/macros_edit.html", {"macro": macro, "form": form}, status=400 if request.method == "POST" else 200)


@staff_required
@require_POST
def macro_delete(request: HttpRequest, macro_id: int) -> HttpResponse:
    macro = selectors.macro_personal_get(user=request.user, macro_id=macro_id)
    if macro is None:
        raise Http404("No such macro")
    services.macro_delete_personal(owner=request.user, macro=macro)
    flash.success(request, f"Macro “{macro.name}” deleted.")
    return redirect("tickets:macros")


# --- Attachments ----------------------------------------------------------------------

@staff_required
def attachment_download(request: HttpRequest, number: int, attachment_id: int) -> HttpResponse:
    ticket = ticket_or_404(request, number)
    attachment = selectors.attachment_for_ticket(ticket=ticket, attachment_id=attachment_id)
    if attachment is None or not attachment.file:
        raise Http404("No such attachment")
    return attachment_response(attachment, cache_control="private, max-age=3600")
