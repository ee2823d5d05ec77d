"""What the counters sent. Tables keep the names and columns of kiosk-hq 0.1 (hq.legacy):
the first migration describes that schema, so an old database is taken over as it is.

Text columns hold what the counter sent verbatim (ISO timestamps in UTC with ``Z``, the
event's JSON body): the chain hash covers those bytes, so they are never re-encoded. The
flags are integers (0/1) as in 0.1, so the same SQL runs on both databases.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class OfficerRole(StrEnum):
    """An officer's post at the counters (the roster's ``role``; the counter shows the label)."""

    WINDOW = "window"
    AUXILIARY = "auxiliary"
    LEADER = "leader"

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]


_ROLE_LABELS = {OfficerRole.WINDOW: "窗口民警", OfficerRole.AUXILIARY: "辅警",
                OfficerRole.LEADER: "带班领导"}


class Event(models.Model):
    id = models.TextField(primary_key=True)
    site = models.TextField()
    device = models.TextField()
    seq = models.BigIntegerField()
    ts = models.TextField()
    type = models.TextField()
    body = models.TextField()
    replayed = models.IntegerField(db_default=0)
    received_at = models.TextField()
    verified = models.IntegerField(db_default=0)
    simulated = models.IntegerField(db_default=0)
    # Copied out of the body at ingest (hq.facts): what the reports group and count by.
    level = models.TextField(null=True)
    officer = models.TextField(null=True)
    service = models.TextField(null=True)
    mirror_flags = models.IntegerField(db_default=0)
    seconds = models.FloatField(null=True)  # an away's length, a ticket's wait
    # Written documents and queue controls only (hq.facts.doc_facts), NULL on the rest.
    kind = models.TextField(null=True)  # notice, refusal, ...; out_of_order, requeued, ...
    case_no = models.TextField(null=True)  # a receipt's, and that of a promise.changed
    detail = models.TextField(null=True)  # what the report ranks: a reason, a unit, a need
    on_date = models.TextField(null=True)  # YYYY-MM-DD a document or a change promises
    # The station's shared queue's ticket.* only (hq.facts.station_facts), NULL on the rest.
    window_no = models.IntegerField(null=True)  # the station's window number (1..999)
    service_s = models.FloatField(null=True)  # ticket.done: how long the case took

    class Meta:
        db_table = "hq_events"
        indexes = [models.Index(fields=["site", "device", "seq"],
                                name="hq_events_site_device_seq"),
                   models.Index(fields=["type", "ts"], name="hq_events_type_ts"),
                   # The receipts whose promise moved: a promise.changed finds its receipt
                   # by case. Partial: only documents and promise changes have a case_no
                   # here, so the city's five million other rows cost it nothing.
                   models.Index(fields=["site", "case_no"], name="hq_events_site_case",
                                condition=models.Q(case_no__isnull=False))]


class Device(models.Model):
    """A counter: its verified chain head and its latest retained state and health."""

    pk = models.CompositePrimaryKey("site", "device")
    site = models.TextField()
    device = models.TextField()
    head_seq = models.BigIntegerField(db_default=0)
    head_hash = models.TextField()
    problems = models.BigIntegerField(db_default=0)
    state = models.TextField(null=True)
    health = models.TextField(null=True)
    last_seen = models.TextField(null=True)

    class Meta:
        db_table = "hq_devices"


class Problem(models.Model):
    """One rejected event, kept with its body; never in hq_events."""

    pk = models.CompositePrimaryKey("site", "device", "seq", "kind", "event_id")
    site = models.TextField()
    device = models.TextField()
    seq = models.BigIntegerField()
    kind = models.TextField()
    event_id = models.TextField()
    detail = models.TextField()
    body = models.TextField()
    detected_at = models.TextField()

    class Meta:
        db_table = "hq_problems"


class Quarantine(models.Model):
    """A refused MQTT message: its first 2,000 bytes and why."""

    id = models.TextField(primary_key=True)
    site = models.TextField()
    device = models.TextField()
    topic = models.TextField()
    reason = models.TextField()
    size = models.BigIntegerField()
    head = models.TextField()
    received_at = models.TextField()

    class Meta:
        db_table = "hq_quarantine"
        indexes = [models.Index(fields=["site", "device"], name="hq_quarantine_device")]


class Station(models.Model):
    """A police station (a site): what the console calls it and where it is."""

    site = models.TextField(primary_key=True, verbose_name="站点编号")
    name = models.TextField(verbose_name="名称")  # 城关派出所
    district = models.TextField(blank=True, default="", verbose_name="辖区")  # 城关区

    class Meta:
        db_table = "hq_stations"
        ordering = ["district", "name"]
        verbose_name = verbose_name_plural = "派出所"

    def __str__(self) -> str:
        return self.name


class Window(models.Model):
    """A counter's public name at its station (1号窗口)."""

    site = models.TextField(verbose_name="站点编号")
    device = models.TextField(verbose_name="设备编号")
    name = models.TextField(verbose_name="窗口名称")
    position = models.IntegerField(default=0, verbose_name="排序")

    class Meta:
        db_table = "hq_windows"
        ordering = ["site", "position", "device"]
        constraints = [models.UniqueConstraint(fields=["site", "device"],
                                               name="hq_windows_one_per_counter")]
        verbose_name = verbose_name_plural = "窗口"

    def __str__(self) -> str:
        return self.name


class Officer(models.Model):
    """An officer of the roster, by police badge number (警号)."""

    badge = models.TextField(primary_key=True, verbose_name="警号")
    name = models.TextField(verbose_name="姓名")
    site = models.TextField(blank=True, default="", verbose_name="所属站点")
    role = models.TextField(choices=[(r.value, r.label) for r in OfficerRole],
                            default=OfficerRole.WINDOW.value, verbose_name="岗位")
    # The counters show it so a citizen can reach the officer's desk, never a mobile number.
    phone = models.TextField(blank=True, default="", verbose_name="办公电话")
    photo = models.TextField(blank=True, default="", verbose_name="照片文件",
                             help_text="计数器上的照片路径，例如 photos/000001.jpg")
    # The officer panel's sign-in at the counters: the PIN's hash only (device/pins.py:
    # Django's PBKDF2 format, which the counters check without Django). Set in the admin.
    pin_hash = models.TextField(blank=True, default="", editable=False,
                                verbose_name="操作台PIN（散列）")
    # AB岗: who stands in when this officer is away (the same station's roster).
    backup = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="backs_up", verbose_name="B岗（替岗民警）")

    class Meta:
        db_table = "hq_officers"
        ordering = ["site", "badge"]
        verbose_name = verbose_name_plural = "民警"

    def __str__(self) -> str:
        return f"{self.name} {self.badge}"


class Service(models.Model):
    """A service of the catalogue, by the code the counters send (id_card.first)."""

    code = models.TextField(primary_key=True, verbose_name="事项编码")
    name = models.TextField(verbose_name="事项名称")  # 首次申领居民身份证
    # Blank: every station offers it; a site id: only that station's counters list it.
    site = models.TextField(blank=True, default="", verbose_name="所属站点",
                            help_text="留空表示全市通用")
    category = models.TextField(blank=True, default="", verbose_name="类别")
    summary = models.TextField(blank=True, default="", verbose_name="简介")
    # The lists of the catalogue, one item a line (what the counter's guide shows in order).
    conditions = models.TextField(blank=True, default="", verbose_name="办理条件",
                                  help_text="每行一条")
    materials = models.TextField(default="", verbose_name="申请材料",
                                 help_text="每行一条，至少一条")
    process = models.TextField(blank=True, default="", verbose_name="办理流程",
                               help_text="每行一步")
    time_limit = models.TextField(blank=True, default="", verbose_name="办理时限")
    fees = models.TextField(blank=True, default="", verbose_name="收费标准",
                            help_text="每行一项：项目 | 金额（元） | 依据，"
                            "例如 工本费 | 20 | 发改价格〔2003〕2322号")
    basis = models.TextField(blank=True, default="", verbose_name="设定依据",
                             help_text="每行一条")
    authority = models.TextField(blank=True, default="", verbose_name="办理机关")
    forms = models.TextField(blank=True, default="", verbose_name="表格下载", help_text="每行一项")
    position = models.IntegerField(default=0, verbose_name="排序")

    class Meta:
        db_table = "hq_services"
        ordering = ["position", "code"]
        verbose_name = verbose_name_plural = "服务事项"

    def __str__(self) -> str:
        return self.name
