"""What HQ published: a station's month of results, frozen as it was published."""

from __future__ import annotations

import json
from typing import Any

from django.db import models


class PublishedMonth(models.Model):
    site = models.TextField(verbose_name="站点编号")
    month = models.TextField(verbose_name="月份")  # 2026-11
    document = models.TextField(verbose_name="公布内容（JSON）")
    published_by = models.TextField(verbose_name="发布人")
    published_at = models.DateTimeField(verbose_name="发布时间")

    class Meta:
        db_table = "hq_published_months"
        ordering = ["-month", "site"]
        constraints = [models.UniqueConstraint(fields=["site", "month"],
                                               name="hq_published_one_per_month")]
        verbose_name = verbose_name_plural = "已公布的月度结果"

    @property
    def doc(self) -> dict[str, Any]:
        value = json.loads(self.document)
        return value if isinstance(value, dict) else {}
