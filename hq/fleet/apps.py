from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "hq.fleet"
    label = "fleet"
    verbose_name = "窗口与民警"
