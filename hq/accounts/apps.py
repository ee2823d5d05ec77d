from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "hq.accounts"
    label = "accounts"
    verbose_name = "账号"

    def ready(self) -> None:
        from hq.accounts.groups import ensure_groups

        post_migrate.connect(ensure_groups, sender=self, dispatch_uid="hq-role-groups")
