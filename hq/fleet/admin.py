"""The admin pages of the stations and windows, and of the roster and the catalogue (the
content editor's); the counters' own records stay out of the admin."""

from __future__ import annotations

from django.contrib import admin

from hq.fleet.models import Officer, Service, Station, Window


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    list_display = ("name", "district", "site")
    search_fields = ("name", "site")


@admin.register(Window)
class WindowAdmin(admin.ModelAdmin):
    list_display = ("name", "site", "device", "position")
    list_filter = ("site",)


@admin.register(Officer)
class OfficerAdmin(admin.ModelAdmin):
    list_display = ("name", "badge", "site", "role", "backup", "phone")
    list_filter = ("site", "role")
    search_fields = ("name", "badge")
    autocomplete_fields = ("backup",)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "site", "category", "position")
    list_filter = ("site", "category")
    search_fields = ("name", "code")
