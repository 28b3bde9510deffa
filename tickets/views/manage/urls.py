"""Routes of /manage/, included by tickets/urls.py under the namespace ``tickets:manage``."""

from django.urls import include, path

from tickets.views.manage import agents, channels, company, macros, teams
from tickets.views.manage.index import manage_index

app_name = "manage"

urlpatterns = [
    path("", manage_index, name="index"),
    path("channels/", channels.channel_list, name="channels"),
    path("channels/new/", channels.channel_create, name="channel_create"),
    path("channels/<int:channel_id>/", channels.channel_edit, name="channel"),
    path("teams/", teams.team_list, name="teams"),
    path("teams/new/", teams.team_create, name="team_create"),
    path("teams/<int:team_id>/", teams.team_detail, name="team"),
    path("agents/", agents.agent_list, name="agents"),
    path("agents/new/", agents.agent_create, name="agent_create"),
    path("agents/<int:user_id>/", agents.agent_detail, name="agent"),
    path("agents/<int:user_id>/availability/", agents.agent_availability, name="agent_availability"),
    path("agents/<int:user_id>/active/", agents.agent_active, name="agent_active"),
    path("agents/<int:user_id>/password-link/", agents.agent_password_link, name="agent_password_link"),
    path("macros/", macros.macro_list, name="macros"),
    path("macros/new/", macros.macro_create, name="macro_create"),
    path("macros/<int:macro_id>/", macros.macro_edit, name="macro"),
    path("macros/<int:macro_id>/delete/", macros.macro_delete, name="macro_delete"),
    path("company/", company.company_edit, name="company"),
    path("webhooks/", include("tickets.webhooks.urls")),
    path("api-keys/", include("tickets.api.manage_urls")),
]
