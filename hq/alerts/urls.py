"""URLs of hq.alerts (mounted at /alerts/)."""

from django.urls import path

from hq.alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.alert_list, name="list"),
    path("<str:pk>/", views.alert_detail, name="detail"),
    path("<str:pk>/push", views.alert_push, name="push"),
]
