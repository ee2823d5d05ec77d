"""Models of hq.publish: what the content editor writes (notices, appointments), every
version HQ published, and what each counter answered about it."""

from __future__ import annotations

from enum import StrEnum

from django.db import models

from sync.topics import CONTENT_KINDS


class Kind(StrEnum):
    """The site-content kinds of sync.topics (one document per kind and station)."""

    CATALOGUE = "catalogue"
    ROSTER = "roster"
    APPOINTMENTS = "appointments"
    NOTICES = "notices"
    RESULTS = "results"  # the station's latest published month (hq.reports)
    HOLIDAYS = "holidays"  # the working-day calendar (hq.holidays, chinese-calendar)

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {Kind.CATALOGUE: "办事指南", Kind.ROSTER: "民警名册",
                Kind.APPOINTMENTS: "预约名单", Kind.NOTICES: "公告", Kind.RESULTS: "评价结果",
                Kind.HOLIDAYS: "节假日安排"}
# The counters' contract is the authority: a kind added there must be added here.
assert {k.value for k in Kind} == set(CONTENT_KINDS), "Kind differs from CONTENT_KINDS"


class Level(StrEnum):
    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"


class Channel(StrEnum):
    ONLINE = "online"
    PHONE = "phone"
    WECHAT = "wechat"
    WINDOW = "window"


class Notice(models.Model):
    """A notice on the counters' home screen; a blank site shows it at every station."""

    site = models.TextField(blank=True, default="", verbose_name="所属站点",
                            help_text="留空表示全市所有派出所")
    text = models.TextField(verbose_name="公告内容")
    level = models.TextField(choices=[(Level.INFO.value, "一般"), (Level.WARNING.value, "提醒"),
                                      (Level.URGENT.value, "紧急")],
                             default=Level.INFO.value, verbose_name="级别")
    starts = models.DateTimeField(null=True, blank=True, verbose_name="开始显示")
    ends = models.DateTimeField(null=True, blank=True, verbose_name="停止显示")

    class Meta:
        db_table = "hq_notices"
        ordering = ["site", "id"]
        verbose_name = verbose_name_plural = "公告"

    def __str__(self) -> str:
        return self.text[:30]


class Appointment(models.Model):
    """A booked visit: the counter calls it by its code in its slot. No citizen's name here:
    the code is what the citizen was given."""

    site = models.TextField(verbose_name="所属站点")
    date = models.DateField(verbose_name="预约日期")
    code = models.TextField(verbose_name="预约号")
    service = models.ForeignKey("fleet.Service", on_delete=models.PROTECT,
                                verbose_name="办理事项")
    slot = models.TextField(verbose_name="时段", help_text="例如 09:00-09:30")
    channel = models.TextField(choices=[(Channel.ONLINE.value, "网上"),
                                        (Channel.PHONE.value, "电话"),
                                        (Channel.WECHAT.value, "微信"),
                                        (Channel.WINDOW.value, "窗口")],
                               default=Channel.ONLINE.value, verbose_name="预约渠道")
    window = models.IntegerField(null=True, blank=True, verbose_name="窗口号")

    class Meta:
        db_table = "hq_appointments"
        ordering = ["site", "date", "slot", "code"]
        verbose_name = verbose_name_plural = "预约"
        constraints = [models.UniqueConstraint(fields=["site", "date", "code"],
                                               name="hq_appointments_one_code_a_day")]

    def __str__(self) -> str:
        return f"{self.date} {self.slot} {self.code}"


class ContentVersion(models.Model):
    """One document HQ published to one station, exactly as sent (its sha256 covers it)."""

    kind = models.TextField(choices=[(k.value, k.label) for k in Kind], verbose_name="类型")
    site = models.TextField(verbose_name="站点编号")
    version = models.TextField(verbose_name="版本")
    sha256 = models.TextField(verbose_name="SHA-256")
    published_by = models.TextField(verbose_name="发布人")
    published_at = models.DateTimeField(verbose_name="发布时间")
    document = models.TextField(verbose_name="内容")

    class Meta:
        db_table = "hq_content_versions"
        ordering = ["site", "kind", "-published_at"]
        verbose_name = verbose_name_plural = "已发布版本"
        constraints = [models.UniqueConstraint(fields=["site", "kind", "version"],
                                               name="hq_content_versions_once")]

    def __str__(self) -> str:
        return f"{self.site} {self.kind} {self.version}"


class ContentResult(models.Model):
    """A counter's latest answer on its content result topic, per kind (written by the
    collector with raw SQL, hq.publish.results)."""

    pk = models.CompositePrimaryKey("site", "device", "kind")
    site = models.TextField()
    device = models.TextField()
    kind = models.TextField()
    version = models.TextField(default="")  # what the last answer was about
    ok = models.IntegerField(default=0)
    error = models.TextField(default="")
    applied_version = models.TextField(default="")  # the newest version it took
    ts = models.TextField(default="")  # the counter's clock, as sent
    received_at = models.TextField(default="")

    class Meta:
        db_table = "hq_content_results"
