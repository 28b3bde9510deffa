"""The ticket page and its actions. Agent pages: parse the request, call one selector or service, render.

The full workspace (views, search, bulk actions, the customer panel) arrives with its own
issue; these pages make the demo usable: an inbox, a ticket, a reply box.
"""

from __future__ import annotations

from django.contrib import messages as flash
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tickets import selectors, services
from tickets.events import Actor
from tickets.exceptions import InvalidTransition
from tickets.forms import ReplyForm, StatusForm
from tickets.views.base import staff_required, ticket_or_404


@staff_required
def ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    ticket = ticket_or_404(request, number)
    return render(
        request,
        "tickets/ticket.html",
        {
            "ticket": ticket,
            "timeline": selectors.ticket_timeline(ticket=ticket),
            "reply_form": ReplyForm(initial={"cc": ", ".join(selectors.reply_cc_suggestion(ticket=ticket))}),
            "status_form": StatusForm(initial={"status": ticket.status}),
        },
    )


@staff_required
@require_POST
def ticket_reply(request: HttpRequest, number: int) -> HttpResponse:
    ticket = ticket_or_404(request, number)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        flash.error(
            request, " ".join(e for errors in form.errors.values() for e in errors) or "The reply is not valid."
        )
        return redirect("tickets:detail", number=number)
    if form.cleaned_data["is_note"]:
        services.message_add_note(ticket=ticket, author=request.user, text=form.cleaned_data["text"])
        if form.cleaned_data["status"]:
            try:
                services.ticket_change_status(
                    ticket=ticket, status=form.cleaned_data["status"], actor=Actor.agent(request.user)
                )
            except InvalidTransition as exc:
                flash.error(request, str(exc))
    else:
        services.message_reply(
            ticket=ticket,
            author=request.user,
            text=form.cleaned_data["text"],
            cc=form.cleaned_data["cc"],
            status=form.cleaned_data["status"] or None,
        )
    return redirect("tickets:detail", number=number)


@staff_required
@require_POST
def ticket_status(request: HttpRequest, number: int) -> HttpResponse:
    ticket = ticket_or_404(request, number)
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            services.ticket_change_status(
                ticket=ticket, status=form.cleaned_data["status"], actor=Actor.agent(request.user)
            )
        except InvalidTransition as exc:
            flash.error(request, str(exc))
    return redirect("tickets:detail", number=number)


# Shown in the browser; anything else (HTML, SVG, PDF, ...) is only ever downloaded, so an
# attachment can never run script in the app's origin.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


@staff_required
def attachment_download(request: HttpRequest, number: int, attachment_id: int) -> HttpResponse:
    ticket = ticket_or_404(request, number)
    attachment = selectors.attachment_for_ticket(ticket=ticket, attachment_id=attachment_id)
    if attachment is None or not attachment.file:
        raise Http404("No such attachment")
    inline = attachment.content_type in INLINE_TYPES
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not inline,
        filename=attachment.filename,
        content_type=attachment.content_type if inline else "application/octet-stream",
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response
