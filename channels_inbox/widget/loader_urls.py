"""URLs of the widget's loader and demo page, included under ``/widget/`` before the
widget's API (session, messages, events, uploads), which lives in its own urls module."""

from django.urls import path

from channels_inbox.widget import loader

app_name = "widget_loader"

urlpatterns = [
    path("demo/", loader.widget_demo, name="demo"),
    path("<str:key>.js", loader.widget_script, name="script"),
]
