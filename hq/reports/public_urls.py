"""The public results page and the printable monthly notice (mounted at /public/, no login)."""

from django.urls import path  # noqa: F401  (the pages are added here)

app_name = "public"
urlpatterns: list = []
