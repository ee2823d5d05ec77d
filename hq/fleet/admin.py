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
    list_display = ("name", "badge", "site")
    search_fields = ("name", "badge")


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "code")
