"""An agent's own saved inbox views: create, rename, delete, reorder.

The filters arrive already validated by ``InboxFilterForm`` (tickets/forms_inbox.py) and
are stored in its JSON form, so loading a view validates them again with the same form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from tickets.exceptions import SavedViewNameTaken
from tickets.models import SavedView


def _check_name_free(*, owner: Any, name: str, exclude_pk: int | None = None) -> None:
    taken = SavedView.objects.filter(owner=owner, name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise SavedViewNameTaken(f"You already have a view named “{name}”.")


@transaction.atomic
def saved_view_create(
    *, owner: Any, name: str, filters: Mapping[str, Any], sort: str = ""
) -> SavedView:
    """A new view at the end of the owner's list."""
    name = name.strip()[:120]
    _check_name_free(owner=owner, name=name)
    last = SavedView.objects.filter(owner=owner).aggregate(m=Max("position"))["m"]
    try:
        with transaction.atomic():
            return SavedView.objects.create(
                owner=owner,
                name=name,
                filters=dict(filters),
                sort=sort,
                position=0 if last is None else last + 1,
            )
    except IntegrityError:  # the same name saved from another tab at the same moment
        raise SavedViewNameTaken(f"You already have a view named “{name}”.") from None


@transaction.atomic
def saved_view_rename(*, view: SavedView, name: str) -> SavedView:
    name = name.strip()[:120]
    if name == view.name:
        return view
    _check_name_free(owner=view.owner_id, name=name, exclude_pk=view.pk)
    view.name = name
    try:
        with transaction.atomic():
            view.save(update_fields=["name"])
    except IntegrityError:
        raise SavedViewNameTaken(f"You already have a view named “{name}”.") from None
    return view


@transaction.atomic
def saved_view_delete(*, view: SavedView) -> None:
    view.delete()


@transaction.atomic
def saved_view_reorder(*, owner: Any, ordered_ids: Sequence[int]) -> list[SavedView]:
    """Number the owner's views in the given order; views not named keep their relative
    order after the named ones, ids of other people's views are ignored."""
    views = {v.pk: v for v in SavedView.objects.select_for_update().filter(owner=owner)}
    order = [pk for pk in dict.fromkeys(ordered_ids) if pk in views]
    order += [
        v.pk
        for v in sorted(views.values(), key=lambda v: (v.position, v.name, v.pk))
        if v.pk not in order
    ]
    changed = []
    for position, pk in enumerate(order):
        if views[pk].position != position:
            views[pk].position = position
            changed.append(views[pk])
    SavedView.objects.bulk_update(changed, ["position"])
    return [views[pk] for pk in order]


@transaction.atomic
def saved_view_move(*, view: SavedView, offset: int) -> list[SavedView]:
    """Move a view up (-1) or down (+1) in its owner's list: the keyboard-friendly reorder."""
    ids = list(
        SavedView.objects.filter(owner_id=view.owner_id)
        .order_by("position", "name", "id")
        .values_list("pk", flat=True)
    )
    index = ids.index(view.pk)
    new_index = max(0, min(len(ids) - 1, index + offset))
    ids.insert(new_index, ids.pop(index))
    return saved_view_reorder(owner=view.owner_id, ordered_ids=ids)
