"""Routing rules and SLA policies, for administrators (as the admin site's pages are).

Reads need ``rules:read`` / ``sla:read`` and the ``routing`` view permissions; changes
``rules:write`` / ``sla:write`` and the add/change/delete permissions (administrators
hold them all). Input is validated by the same model forms the admin site uses, so a
rule the admin page would refuse is refused here with the same words (400, per field).
The dry run is the admin page's: which of the latest 100 tickets the rule's conditions
would match now; it changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import django_filters as filters
from django import forms
from django.db.models import Prefetch, QuerySet
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from tickets.api.base import ApiView, ApiViewSet
from tickets.api.crm.common import int_or_404, require_perm
from tickets.api.crm.services import (
    routing_record_delete,
    routing_record_save,
    sla_policy_save,
)
from tickets.api.problems import Problem
from tickets.api.schema import example, extend_schema, extend_schema_view
from tickets.api.serializers.tickets import NamedRefSerializer
from tickets.routing.admin import DRY_RUN_LIMIT
from tickets.routing.models import Rule, SLAPolicy, SLATarget
from tickets.routing.rules import RuleDefinitionError
from tickets.routing.selectors import rule_dry_run

RULE_FIELDS = [
    "name", "description", "is_active", "position", "stop_processing",
    "on_created", "on_message", "on_updated", "on_schedule", "match", "conditions", "actions",
]
POLICY_FIELDS = [
    "name", "is_default", "business_hours", "pause_when_pending", "warn_before_minutes",
    "breach_notify", "breach_raise_priority", "breach_reassign",
]
TARGET_FIELDS = ["priority", "customer_tier", "first_response_minutes", "next_response_minutes", "resolution_minutes"]
JSON_FIELDS = ("conditions", "actions")

# The admin site's forms: ModelAdmin builds these same model forms (model validation,
# Rule.clean's compile of conditions and actions, the one-default-policy constraint).
RuleForm = forms.modelform_factory(Rule, fields=RULE_FIELDS)
PolicyForm = forms.modelform_factory(SLAPolicy, fields=POLICY_FIELDS)
TargetForm = forms.modelform_factory(SLATarget, fields=TARGET_FIELDS)


def _form_data(values: dict[str, Any]) -> dict[str, Any]:
    """Values as a bound form expects them: JSON fields as JSON text, false booleans left
    out (an HTML checkbox sends nothing), None as empty."""
    data: dict[str, Any] = {}
    for name, value in values.items():
        if name in JSON_FIELDS:
            data[name] = json.dumps(value)
        elif value is False:
            continue
        elif value is None:
            data[name] = ""
        elif hasattr(value, "pk"):
            data[name] = value.pk
        else:
            data[name] = value
    return data


def _form_errors(form: forms.BaseForm) -> dict[str, list[str]]:
    return {("non_field_errors" if f == "__all__" else f): [str(e) for e in errors] for f, errors in form.errors.items()}


def _current(record: Any, fields: list[str]) -> dict[str, Any]:
    values = {}
    for name in fields:
        field = record._meta.get_field(name)
        values[name] = getattr(record, field.attname)
    return values


# --- Serializers ---------------------------------------------------------------------


class RuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Rule
        fields = ["id", *RULE_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


class RuleInputSerializer(serializers.Serializer):
    """A rule; conditions and actions as in docs/routing.md, checked as the admin page checks them."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    is_active = serializers.BooleanField(required=False, default=True)
    position = serializers.IntegerField(required=False, default=100, min_value=0)
    stop_processing = serializers.BooleanField(required=False, default=False)
    on_created = serializers.BooleanField(required=False, default=True)
    on_message = serializers.BooleanField(required=False, default=False)
    on_updated = serializers.BooleanField(required=False, default=False)
    on_schedule = serializers.BooleanField(required=False, default=False)
    match = serializers.ChoiceField(choices=Rule.Match.choices, required=False, default=Rule.Match.ALL)
    conditions = serializers.JSONField(
        required=False, default=list, help_text='A list such as [{"field": "subject", "op": "contains", "value": "refund"}]'
    )
    actions = serializers.JSONField(help_text='A list such as [{"type": "set_priority", "priority": "high"}]')


class SLATargetSerializer(serializers.ModelSerializer):
    customer_tier = serializers.CharField(help_text="standard, vip, or empty for any tier")

    class Meta:
        model = SLATarget
        fields = TARGET_FIELDS


class SLAPolicySerializer(serializers.ModelSerializer):
    business_hours = NamedRefSerializer(allow_null=True, read_only=True)
    targets = SLATargetSerializer(many=True, read_only=True)

    class Meta:
        model = SLAPolicy
        fields = ["id", *POLICY_FIELDS, "targets", "updated_at"]
        read_only_fields = fields


class SLATargetInputSerializer(serializers.Serializer):
    priority = serializers.CharField()
    customer_tier = serializers.CharField(required=False, allow_blank=True, default="")
    first_response_minutes = serializers.IntegerField(required=False, allow_null=True, default=None)
    next_response_minutes = serializers.IntegerField(required=False, allow_null=True, default=None)
    resolution_minutes = serializers.IntegerField(required=False, allow_null=True, default=None)


class SLAPolicyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    is_default = serializers.BooleanField(required=False, default=False)
    business_hours = serializers.IntegerField(required=False, allow_null=True, default=None, help_text="Calendar id; null: 24/7")
    pause_when_pending = serializers.BooleanField(required=False, default=True)
    warn_before_minutes = serializers.IntegerField(required=False, default=30)
    breach_notify = serializers.BooleanField(required=False, default=True)
    breach_raise_priority = serializers.BooleanField(required=False, default=False)
    breach_reassign = serializers.BooleanField(required=False, default=False)
    targets = SLATargetInputSerializer(
        many=True, required=False, max_length=40, help_text="The complete list, one per priority and tier (PATCH: left as is when absent)"
    )


class DryRunRowSerializer(serializers.Serializer):
    number = serializers.IntegerField(source="ticket.number")
    subject = serializers.CharField(source="ticket.subject")
    status = serializers.CharField(source="ticket.status")
    matched = serializers.BooleanField()
    error = serializers.CharField()


class DryRunSerializer(serializers.Serializer):
    rule = serializers.IntegerField()
    limit = serializers.IntegerField(help_text="How many of the latest tickets were tried")
    matched_count = serializers.IntegerField()
    tickets = DryRunRowSerializer(many=True)


class RuleFilter(filters.FilterSet):
    is_active = filters.BooleanFilter()
    q = filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")

    class Meta:
        model = Rule
        fields: list[str] = []


# --- Examples ------------------------------------------------------------------------

RULE_EXAMPLE = {
    "id": 4,
    "name": "Refunds to Billing",
    "description": "",
    "is_active": True,
    "position": 10,
    "stop_processing": False,
    "on_created": True,
    "on_message": False,
    "on_updated": False,
    "on_schedule": False,
    "match": "all",
    "conditions": [{"field": "subject", "op": "contains", "value": "refund"}],
    "actions": [{"type": "set_team", "team": 2}, {"type": "add_tags", "tags": ["refund"]}],
    "created_at": "2026-11-01T09:00:00Z",
    "updated_at": "2026-11-20T15:30:00Z",
}
RULE_INPUT_EXAMPLE = {k: v for k, v in RULE_EXAMPLE.items() if k not in ("id", "created_at", "updated_at")}
POLICY_EXAMPLE = {
    "id": 1,
    "name": "Standard",
    "is_default": True,
    "business_hours": {"id": 1, "name": "Office hours"},
    "pause_when_pending": True,
    "warn_before_minutes": 30,
    "breach_notify": True,
    "breach_raise_priority": False,
    "breach_reassign": False,
    "targets": [
        {"priority": "normal", "customer_tier": "", "first_response_minutes": 240, "next_response_minutes": None, "resolution_minutes": 2880},
        {"priority": "urgent", "customer_tier": "vip", "first_response_minutes": 30, "next_response_minutes": 60, "resolution_minutes": 480},
    ],
    "updated_at": "2026-11-20T15:30:00Z",
}
POLICY_INPUT_EXAMPLE = {**{k: v for k, v in POLICY_EXAMPLE.items() if k not in ("id", "updated_at")}, "business_hours": 1}


# --- Views ---------------------------------------------------------------------------


class _RoutingViewSet(ApiViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Permissions as on the admin site: ``routing.<action>_<model>`` (administrators)."""

    model: Any = None
    lookup_value_regex = "[0-9]{1,18}"  # a longer number is no id: 404 by the router

    def _perm(self, action: str) -> str:
        return f"routing.{action}_{self.model._meta.model_name}"

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        action = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}.get(request.method, "view")
        require_perm(request.user, self._perm(action))

    def get_object(self) -> Any:
        pk = int_or_404(self.kwargs.get("pk"), self.model._meta.verbose_name)
        obj = self.get_queryset().filter(pk=pk).first()
        if obj is None:
            raise Problem(404, "not-found", "Not Found", f"No {self.model._meta.verbose_name} {pk}.")
        self.check_if_match(obj)
        self.etag_object = obj
        return obj

    def destroy(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        record = self.get_object()
        routing_record_delete(record=record, actor=self.actor)
        self.etag_object = None
        return Response(status=status.HTTP_204_NO_CONTENT)

    # Writes: the input serializer types the body; ``save`` validates it with the admin
    # site's form and saves. A PATCH starts from the record's current values.
    input_serializer_class: Any = None
    fields: list[str] = []  # noqa: RUF012

    def save(self, record: Any, values: dict[str, Any], *, partial: bool) -> Any:
        raise NotImplementedError

    def _write(self, record: Any, data: Any, *, partial: bool) -> Response:
        serializer = self.input_serializer_class(data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        if partial:
            values = {**_current(record, self.fields), **values}
        saved = self.save(record, values, partial=partial)
        fresh = self.get_queryset().get(pk=saved.pk)
        self.etag_object = fresh
        if record is not None:
            return Response(self.get_serializer(fresh).data)
        location = {"Location": f"{self.request.path}{saved.pk}/"}
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED, headers=location)

    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return self._write(None, request.data, partial=False)

    def update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return self._write(self.get_object(), request.data, partial=kwargs.get("partial", False))

    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)


@extend_schema_view(
    list=extend_schema(summary="List routing rules", description="In the order they run.", examples=[example("A page of rules", [RULE_EXAMPLE], list=True)]),
    retrieve=extend_schema(summary="One rule", examples=[example("A rule", RULE_EXAMPLE)]),
    create=extend_schema(
        summary="Create a rule",
        request=RuleInputSerializer,
        responses={201: RuleSerializer},
        examples=[example("Refunds to Billing", RULE_INPUT_EXAMPLE, request=True), example("Created", RULE_EXAMPLE, status=201)],
    ),
    update=extend_schema(
        summary="Replace a rule",
        request=RuleInputSerializer,
        responses=RuleSerializer,
        examples=[example("Every field", RULE_INPUT_EXAMPLE, request=True), example("Saved", RULE_EXAMPLE)],
    ),
    partial_update=extend_schema(
        summary="Change some of a rule's fields",
        request=RuleInputSerializer,
        responses=RuleSerializer,
        examples=[example("Deactivate", {"is_active": False}, request=True), example("Saved", {**RULE_EXAMPLE, "is_active": False})],
    ),
    destroy=extend_schema(summary="Delete a rule", responses={204: None}),
)
class RuleViewSet(_RoutingViewSet):
    api_resource = "rules"
    model = Rule
    fields = RULE_FIELDS
    serializer_class = RuleSerializer
    input_serializer_class = RuleInputSerializer
    filterset_class = RuleFilter
    ordering_fields = ("position", "name", "updated_at")
    ordering = ("position",)
    queryset = Rule.objects.none()

    def get_queryset(self) -> QuerySet[Rule]:
        if getattr(self, "swagger_fake_view", False):
            return Rule.objects.none()
        return Rule.objects.all()

    def save(self, record: Rule | None, values: dict[str, Any], *, partial: bool) -> Rule:
        form = RuleForm(data=_form_data(values), instance=record)
        if not form.is_valid():
            raise serializers.ValidationError(_form_errors(form))
        return routing_record_save(form=form, actor=self.actor)


class RuleDryRunApi(ApiView):
    api_resource = "rules"
    serializer_class = DryRunSerializer

    @extend_schema(
        summary="Dry run a rule",
        description=f"Which of the latest {DRY_RUN_LIMIT} tickets the rule's conditions would match now (all tickets, "
        "whatever their team: administrators see every ticket). Changes nothing.",
        responses=DryRunSerializer,
        examples=[
            example(
                "Two of the latest tickets match",
                {
                    "rule": 4, "limit": DRY_RUN_LIMIT, "matched_count": 1,
                    "tickets": [
                        {"number": 1042, "subject": "Refund for order 9", "status": "open", "matched": True, "error": ""},
                        {"number": 1041, "subject": "Login fails", "status": "new", "matched": False, "error": ""},
                    ],
                },
            )
        ],
    )
    def get(self, request: Any, pk: int) -> Response:
        require_perm(request.user, "routing.view_rule")
        rule = Rule.objects.filter(pk=int_or_404(pk, "rule")).first()
        if rule is None:
            raise Problem(404, "not-found", "Not Found", f"No rule {pk}.")
        try:
            rows = rule_dry_run(rule=rule, limit=DRY_RUN_LIMIT)
        except RuleDefinitionError as exc:
            raise Problem(409, "invalid-rule", "Conflict", f"This rule cannot run: {exc}") from None
        data = {"rule": rule.pk, "limit": DRY_RUN_LIMIT, "matched_count": sum(r.matched for r in rows), "tickets": rows}
        return Response(DryRunSerializer(data).data)


def _policies() -> QuerySet[SLAPolicy]:
    return SLAPolicy.objects.select_related("business_hours").prefetch_related(
        Prefetch("targets", queryset=SLATarget.objects.order_by("priority", "customer_tier", "pk"))
    )


def _clean_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cleaned, errors, seen = [], [], set()
    for row in rows:
        form = TargetForm(data=_form_data(row))
        if not form.is_valid():
            errors.append(_form_errors(form))
            continue
        key = (form.cleaned_data["priority"], form.cleaned_data["customer_tier"])
        if key in seen:
            errors.append({"priority": [f"{key[0]} for {key[1] or 'any tier'} is listed twice."]})
            continue
        seen.add(key)
        cleaned.append(dict(form.cleaned_data))
        errors.append({})
    if any(errors):
        raise serializers.ValidationError({"targets": errors})
    return cleaned


@extend_schema_view(
    list=extend_schema(summary="List SLA policies", examples=[example("A page of policies", [POLICY_EXAMPLE], list=True)]),
    retrieve=extend_schema(summary="One SLA policy and its targets", examples=[example("A policy", POLICY_EXAMPLE)]),
    create=extend_schema(
        summary="Create an SLA policy",
        request=SLAPolicyInputSerializer,
        responses={201: SLAPolicySerializer},
        examples=[example("Standard", POLICY_INPUT_EXAMPLE, request=True), example("Created", POLICY_EXAMPLE, status=201)],
    ),
    update=extend_schema(
        summary="Replace an SLA policy and its targets",
        request=SLAPolicyInputSerializer,
        responses=SLAPolicySerializer,
        examples=[example("Every field", POLICY_INPUT_EXAMPLE, request=True), example("Saved", POLICY_EXAMPLE)],
    ),
    partial_update=extend_schema(
        summary="Change some of an SLA policy's fields",
        request=SLAPolicyInputSerializer,
        responses=SLAPolicySerializer,
        examples=[example("Warn earlier", {"warn_before_minutes": 60}, request=True), example("Saved", {**POLICY_EXAMPLE, "warn_before_minutes": 60})],
    ),
    destroy=extend_schema(summary="Delete an SLA policy", responses={204: None}),
)
class SLAPolicyViewSet(_RoutingViewSet):
    api_resource = "sla"
    model = SLAPolicy
    fields = POLICY_FIELDS
    serializer_class = SLAPolicySerializer
    input_serializer_class = SLAPolicyInputSerializer
    ordering_fields = ("name", "updated_at")
    ordering = ("name",)
    queryset = SLAPolicy.objects.none()

    def get_queryset(self) -> QuerySet[SLAPolicy]:
        if getattr(self, "swagger_fake_view", False):
            return SLAPolicy.objects.none()
        return _policies()

    def save(self, record: SLAPolicy | None, values: dict[str, Any], *, partial: bool) -> SLAPolicy:
        # A PATCH without targets keeps them; a POST or PUT without them means none.
        targets = values.pop("targets", None if partial else [])
        form = PolicyForm(data=_form_data(values), instance=record)
        errors = {} if form.is_valid() else _form_errors(form)
        try:
            cleaned_targets = _clean_targets(targets) if targets is not None else None
        except serializers.ValidationError as exc:
            errors.update(exc.detail)
        if errors:
            raise serializers.ValidationError(errors)
        return sla_policy_save(form=form, targets=cleaned_targets, actor=self.actor)
