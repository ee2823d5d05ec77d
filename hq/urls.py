"""The console's URLs: one include per app."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("hq.accounts.urls")),
]
