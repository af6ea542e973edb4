from django.contrib import admin
from django.urls import include, path

from core import health, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", health.readiness, name="health"),
    path("health/liveness", health.liveness, name="health-liveness"),
    path("health/readiness", health.readiness, name="health-readiness"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("lmos/runtime/apis/v1/", include("conversations.urls")),
    path("apis/v1/", include("conversations.urls")),
]
