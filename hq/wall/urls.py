"""URLs of hq.wall (mounted at /live/)."""

from django.urls import path

from hq.wall import views

app_name = "wall"
urlpatterns = [
    path("", views.index, name="index"),
    path("data", views.data, name="data"),
]
