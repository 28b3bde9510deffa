"""Routes of the surveys app (namespace ``surveys``), included at the root by helpdesk/urls.py."""

from django.urls import path

from metrics.surveys import views, views_manage

app_name = "surveys"

urlpatterns = [
    path("s/<str:token>/", views.survey_answer, name="answer"),
    path("manage/surveys/", views_manage.surveys_index, name="manage"),
    path("manage/surveys/settings/", views_manage.surveys_settings, name="settings"),
    path("manage/surveys/campaigns/new/", views_manage.campaign_create, name="campaign_create"),
    path("manage/surveys/campaigns/<int:campaign_id>/", views_manage.campaign_detail, name="campaign"),
    path("manage/surveys/campaigns/<int:campaign_id>/resume/", views_manage.campaign_resume, name="campaign_resume"),
]
