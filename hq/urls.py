"""The console's URLs: one include per app."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "窗口评价管理平台 · 管理后台"
admin.site.site_title = "管理后台"
admin.site.index_title = "维护派出所、窗口、民警、事项、节假日和账号"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("orders/", include("hq.workorders.urls")),
    path("live/", include("hq.wall.urls")),
    path("alerts/", include("hq.alerts.urls")),
    path("reports/", include("hq.reports.urls")),
    path("content/", include("hq.publish.urls")),
    path("public/", include("hq.reports.public_urls")),
    path("", include("hq.accounts.urls")),
]
