"""What every workspace view shares: staff-only access, tickets the user may see or 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest

from tickets import selectors


def staff_required(view):
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_staff:
            raise Http404
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return login_required(wrapped)


def ticket_or_404(request: HttpRequest, number: int):
    ticket = selectors.ticket_get_for_user(user=request.user, number=number)
    if ticket is None:
        raise Http404("No such ticket")
    return ticket
