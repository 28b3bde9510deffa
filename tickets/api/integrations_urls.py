"""Routes of the integration resources (outgoing webhooks, metrics), included under
/api/v1/ by tickets/api/urls.py. Serializers and views: ``tickets/api/integrations/``."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from tickets.api.integrations import metrics, webhooks

router = SimpleRouter()
# endpoints/, endpoints/{id}/, endpoints/{id}/rotate-secret/, endpoints/{id}/test/, endpoints/{id}/enable/
router.register("webhooks/endpoints", webhooks.WebhookEndpointViewSet, basename="webhook-endpoint")

urlpatterns = [
    *router.urls,
    path("webhooks/deliveries/", webhooks.DeliveryListApi.as_view(), name="webhook-delivery-list"),
    path("webhooks/deliveries/<int:pk>/", webhooks.DeliveryDetailApi.as_view(), name="webhook-delivery-detail"),
    path(
        "webhooks/deliveries/<int:pk>/redeliver/",
        webhooks.DeliveryRedeliverApi.as_view(),
        name="webhook-delivery-redeliver",
    ),
    path("metrics/summary/", metrics.MetricsSummaryApi.as_view(), name="metrics-summary"),
    path("metrics/table/", metrics.MetricsTableApi.as_view(), name="metrics-table"),
    path("metrics/trend/", metrics.MetricsTrendApi.as_view(), name="metrics-trend"),
]
