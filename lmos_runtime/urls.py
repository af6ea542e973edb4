from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("lmos/runtime/apis/v1/", include("conversations.urls")),
    path("apis/v1/", include("conversations.urls")),
]
