"""The public results page and the printable monthly notice (mounted at /public/, no login)."""

from django.urls import path

from hq.reports import public_views

app_name = "public"
urlpatterns = [
    path("", public_views.index, name="index"),
    path("publish/", public_views.publish, name="publish"),
    path("<str:site>/<str:month>/", public_views.notice, name="notice"),
]
