from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "hq.alerts"
    label = "alerts"
    verbose_name = "站点告警"
