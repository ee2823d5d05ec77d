from django.apps import AppConfig


class WallConfig(AppConfig):
    name = "hq.wall"
    label = "wall"
    verbose_name = "实时大屏"
