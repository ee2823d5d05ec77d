"""Which station a chief answers for. Roles are Django groups (hq.accounts.scope.Role),
made with their permissions by this app's migrations."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Membership(models.Model):
    """A user's station: a chief sees only this site; a city role has none."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="membership", verbose_name="用户")
    site = models.TextField(verbose_name="派出所（站点编号）")

    class Meta:
        verbose_name = verbose_name_plural = "所属派出所"

    def __str__(self) -> str:
        return f"{self.user} → {self.site}"
