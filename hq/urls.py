"""The console's URLs: one include per app."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("orders/", include("hq.workorders.urls")),
    path("live/", include("hq.wall.urls")),
    path("reports/", include("hq.reports.urls")),
    path("content/", include("hq.publish.urls")),
    path("public/", include("hq.reports.public_urls")),
    path("", include("hq.accounts.urls")),
]
