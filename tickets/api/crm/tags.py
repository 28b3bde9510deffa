"""Tags: every tag with how many tickets the acting user can see carry it.

Read only: tags are made by tagging tickets (``PATCH /tickets/{number}/`` with ``tags``);
renaming one has no service in the workspace yet.
"""

from __future__ import annotations

import django_filters as filters
from django.db.models import QuerySet
from rest_framework import mixins, serializers

from tickets.api.base import ApiViewSet
from tickets.api.crm import selectors
from tickets.api.schema import example, extend_schema, extend_schema_view
from tickets.models import Tag


class TagSerializer(serializers.ModelSerializer):
    usage_count = serializers.IntegerField(read_only=True, default=0, help_text="Tickets you can see that carry it")

    class Meta:
        model = Tag
        fields = ["id", "name", "usage_count"]
        read_only_fields = fields


class TagFilter(filters.FilterSet):
    q = filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    used = filters.BooleanFilter(method="by_use", label="true: only tags on tickets you can see; false: only unused ones")

    class Meta:
        model = Tag
        fields: list[str] = []

    def by_use(self, qs: QuerySet[Tag], name: str, value: bool | None) -> QuerySet[Tag]:
        if value is None:
            return qs
        return qs.filter(usage_count__gt=0) if value else qs.filter(usage_count=0)


TAG_EXAMPLE = {"id": 9, "name": "billing", "usage_count": 128}


@extend_schema_view(
    list=extend_schema(
        summary="List tags with their usage",
        examples=[example("A page of tags", [TAG_EXAMPLE, {"id": 12, "name": "refund", "usage_count": 40}], list=True)],
    ),
    retrieve=extend_schema(summary="One tag", examples=[example("A tag", TAG_EXAMPLE)]),
)
class TagViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    api_resource = "tags"
    serializer_class = TagSerializer
    filterset_class = TagFilter
    ordering_fields = ("name", "usage_count")
    ordering = ("name",)
    lookup_value_regex = "[0-9]{1,18}"  # a longer number is no id: 404 by the router
    queryset = Tag.objects.none()

    def get_queryset(self) -> QuerySet[Tag]:
        if getattr(self, "swagger_fake_view", False):
            return Tag.objects.none()
        return selectors.tags_for_api(user=self.request.user)
