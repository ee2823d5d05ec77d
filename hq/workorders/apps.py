from django.apps import AppConfig


class WorkordersConfig(AppConfig):
    name = "hq.workorders"
    label = "workorders"
    verbose_name = "差评工单"
