from django.apps import AppConfig


class PublishConfig(AppConfig):
    name = "hq.publish"
    label = "publish"
    verbose_name = "内容发布"
