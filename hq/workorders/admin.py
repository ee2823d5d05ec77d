from django.contrib import admin
from django.http import HttpRequest

from hq.workorders.models import DeadlineSettings


@admin.register(DeadlineSettings)
class DeadlineSettingsAdmin(admin.ModelAdmin):
    list_display = ("visit", "classify", "review", "rectify", "reply", "rerate",
                    "phone_keep_days")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not DeadlineSettings.objects.exists()  # one row

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
