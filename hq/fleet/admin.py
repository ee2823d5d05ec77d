"""The admin pages of the stations and windows, and of the roster and the catalogue (the
content editor's); the counters' own records stay out of the admin."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from device import pins
from device.errors import ParseError
from hq.fleet.models import Officer, Service, Station, Window


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    list_display = ("name", "district", "site")
    search_fields = ("name", "site")


@admin.register(Window)
class WindowAdmin(admin.ModelAdmin):
    list_display = ("name", "site", "device", "position")
    list_filter = ("site",)


class OfficerForm(forms.ModelForm):
    """The officer with their panel PIN: typed here, kept only as its hash."""

    pin = forms.CharField(label="操作台PIN", required=False, strip=True,
                          widget=forms.PasswordInput(render_value=False),
                          help_text="4至12位数字；留空则不修改。保存后只存散列，随民警名册发布到窗口。")
    clear_pin = forms.BooleanField(label="取消操作台PIN", required=False)

    class Meta:
        model = Officer
        fields = "__all__"

    def clean_pin(self) -> str:
        pin = self.cleaned_data.get("pin", "")
        if pin:
            try:
                pins.check_pin(pin)
            except ParseError:
                raise forms.ValidationError("PIN为4至12位数字。") from None
        return pin

    def save(self, commit: bool = True) -> Officer:
        officer = super().save(commit=False)
        if self.cleaned_data.get("clear_pin"):
            officer.pin_hash = ""
        elif self.cleaned_data.get("pin"):
            officer.pin_hash = pins.make(self.cleaned_data["pin"])
        if commit:
            officer.save()
        return officer


@admin.register(Officer)
class OfficerAdmin(admin.ModelAdmin):
    form = OfficerForm
    list_display = ("name", "badge", "site", "role", "backup", "phone", "has_pin")
    list_filter = ("site", "role")
    search_fields = ("name", "badge")
    autocomplete_fields = ("backup",)

    @admin.display(boolean=True, description="操作台PIN")
    def has_pin(self, officer: Officer) -> bool:
        return bool(officer.pin_hash)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "site", "category", "position")
    list_filter = ("site", "category")
    search_fields = ("name", "code")
