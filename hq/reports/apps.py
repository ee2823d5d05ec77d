from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "hq.reports"
    label = "reports"
    verbose_name = "评价报表"
