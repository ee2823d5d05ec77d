"""URLs of hq.publish (mounted at /content/)."""

from django.urls import path

from hq.publish import views

app_name = "publish"
urlpatterns = [
    path("", views.index, name="index"),
    path("<str:site>/<str:kind>/publish", views.publish, name="publish"),
]
