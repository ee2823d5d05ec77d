"""URLs of hq.reports (mounted at /reports/)."""

from django.urls import path

from hq.reports import doc_views, station_views, views

app_name = "reports"
urlpatterns = [path("", views.report, name="index"),
               path("station/", station_views.station, name="station"),
               path("documents/", doc_views.documents, name="documents")]
