"""URLs of hq.reports (mounted at /reports/)."""

from django.urls import path

from hq.reports import views

app_name = "reports"
urlpatterns = [path("", views.report, name="index")]
