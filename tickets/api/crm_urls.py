"""Routes of the CRM and configuration resources (customers, organizations, teams, agents,
tags, macros, channels, rules, SLA, surveys), included under /api/v1/ by tickets/api/urls.py.

Each resource's serializers and views live in ``tickets/api/crm/<resource>.py``."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from tickets.api.crm import (
    channels,
    customers,
    identities,
    macros,
    organizations,
    routing,
    surveys,
    tags,
    teams,
)

router = SimpleRouter()
router.register("customers", customers.CustomerViewSet, basename="customer")
router.register("organizations", organizations.OrganizationViewSet, basename="organization")
router.register("teams", teams.TeamViewSet, basename="team")
router.register("agents", teams.AgentViewSet, basename="agent")
router.register("tags", tags.TagViewSet, basename="tag")
router.register("macros", macros.MacroViewSet, basename="macro")
router.register("channels", channels.ChannelViewSet, basename="channel")
router.register("rules", routing.RuleViewSet, basename="rule")
router.register("sla-policies", routing.SLAPolicyViewSet, basename="sla-policy")
router.register("survey-responses", surveys.SurveyResponseViewSet, basename="survey-response")

urlpatterns = [
    *router.urls,
    path("customers/<int:pk>/merge/", customers.CustomerMergeApi.as_view(), name="customer-merge"),
    path("customers/<int:pk>/identities/", identities.CustomerIdentityListApi.as_view(), name="customer-identities"),
    path(
        "customers/<int:pk>/identities/<int:identity_id>/",
        identities.CustomerIdentityDetailApi.as_view(),
        name="customer-identity",
    ),
    path(
        "customers/<int:pk>/identities/<int:identity_id>/move/",
        identities.CustomerIdentityMoveApi.as_view(),
        name="customer-identity-move",
    ),
    path("customers/<int:pk>/tickets/", customers.CustomerTicketListApi.as_view(), name="customer-tickets"),
    path(
        "customers/<int:pk>/survey-responses/",
        surveys.CustomerSurveyResponseListApi.as_view(),
        name="customer-survey-responses",
    ),
    path("organizations/<int:pk>/customers/", organizations.OrganizationCustomerListApi.as_view(), name="organization-customers"),
    path("organizations/<int:pk>/tickets/", organizations.OrganizationTicketListApi.as_view(), name="organization-tickets"),
    path("agents/<int:pk>/availability/", teams.AgentAvailabilityApi.as_view(), name="agent-availability"),
    path("macros/<int:pk>/apply/", macros.MacroApplyApi.as_view(), name="macro-apply"),
    path("rules/<int:pk>/dry-run/", routing.RuleDryRunApi.as_view(), name="rule-dry-run"),
]
