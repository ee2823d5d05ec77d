"""URLs of hq.workorders (mounted at /orders/)."""

from django.urls import path

from hq.workorders import views

app_name = "workorders"
urlpatterns = [
    path("", views.order_list, name="list"),
    path("<str:pk>/", views.order_detail, name="detail"),
]
