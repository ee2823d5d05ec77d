from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "hq.accounts"
    label = "accounts"
    verbose_name = "console users"
