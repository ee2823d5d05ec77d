"""The content editor's admin pages: notices and appointments (published versions are
read-only: they are what the counters got)."""

from __future__ import annotations

from django.contrib import admin

from hq.publish.models import Appointment, ContentVersion, Notice


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ("text", "site", "level", "starts", "ends")
    list_filter = ("site", "level")


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ("date", "slot", "code", "service", "site", "channel", "window")
    list_filter = ("site", "date", "channel")


@admin.register(ContentVersion)
class ContentVersionAdmin(admin.ModelAdmin):
    list_display = ("site", "kind", "version", "published_by", "published_at")
    list_filter = ("site", "kind")

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
