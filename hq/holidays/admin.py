from django.contrib import admin

from hq.holidays.models import HolidayYear


@admin.register(HolidayYear)
class HolidayYearAdmin(admin.ModelAdmin):
    list_display = ("year", "source")
