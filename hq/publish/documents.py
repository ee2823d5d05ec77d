"""Site-content documents built from the models, validated by the counters' own parser,
versioned, recorded and published (retained) to one station.

A station's document holds the city-wide rows (blank site) and its own; results and
holidays are derived from the published month and the calendar (hq/publish/derived.py).
The version is
``YYYYMMDD.N`` (the console's date in Asia/Shanghai, N counting that day's publications):
the counters order versions with numbers as numbers (sync.downlink.version_key), so each
new one is newer than every earlier one, a hand-written ``2026.11.2`` included.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q

from device.errors import ParseError
from hq import clock
from hq.collector import BrokerOptions
from hq.conf import TIME_ZONE
from hq.fleet.models import Officer, OfficerRole, Service
from hq.publish import derived
from hq.publish.models import Appointment, ContentVersion, Kind, Notice
from sync.downlink import is_older, parse_content

ZONE = ZoneInfo(TIME_ZONE)
# Where each kind's rows are edited, for the message that names the fix.
EDIT_WHERE = {Kind.CATALOGUE: "管理后台 › 服务事项", Kind.ROSTER: "管理后台 › 民警",
              Kind.APPOINTMENTS: "管理后台 › 预约", Kind.NOTICES: "管理后台 › 公告",
              Kind.RESULTS: "管理后台 › 派出所、窗口（名称）",
              Kind.HOLIDAYS: "管理后台 › 节假日安排"}


class Refused(ParseError):
    """The counters would refuse this document: nothing was stored or published."""


@dataclass(frozen=True)
class Published:
    version: ContentVersion
    topic: str


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _fees(svc: Service) -> list[dict[str, Any]]:
    fees = []
    for n, line in enumerate(_lines(svc.fees), 1):
        parts = [p.strip() for p in line.split("|")]
        try:
            if len(parts) != 3:
                raise ValueError
            amount = float(parts[1])
            yuan: int | float = int(amount) if amount.is_integer() else amount
        except ValueError:
            raise Refused(f"服务事项 {svc.name}（{svc.code}）的收费标准第 {n} 行 {line!r} 看不懂。"
                          "修改方法：每行写“项目 | 金额（元） | 依据”，例如 工本费 | 20 | "
                          "发改价格〔2003〕2322号") from None
        fees.append({"item": parts[0], "yuan": yuan, "basis": parts[2]})
    return fees


def _catalogue(site: str, _day: date, using: str) -> dict[str, Any]:
    services = []
    for s in Service.objects.using(using).filter(Q(site="") | Q(site=site)):
        doc: dict[str, Any] = {"code": s.code, "name": s.name, "materials": _lines(s.materials)}
        for key in ("category", "summary", "time_limit", "authority"):
            if getattr(s, key):
                doc[key] = getattr(s, key)
        for key in ("conditions", "process", "basis", "forms"):
            if _lines(getattr(s, key)):
                doc[key] = _lines(getattr(s, key))
        if s.fees.strip():
            doc["fees"] = _fees(s)
        services.append(doc)
    return {"title": "办事指南", "services": services}


def _roster(site: str, _day: date, using: str) -> dict[str, Any]:
    officers = []
    for o in Officer.objects.using(using).filter(site=site).select_related("backup"):
        role = OfficerRole(o.role).label
        if o.backup is not None:  # the schema has no field of its own for the B-post
            role = f"{role}（B岗：{o.backup.name} {o.backup.badge}）"
        doc = {"badge": o.badge, "name": o.name, "role": role}
        if o.phone:
            doc["phone"] = o.phone
        if o.photo:
            doc["photo"] = o.photo
        if o.pin_hash:
            doc["pin_hash"] = o.pin_hash
        officers.append(doc)
    return {"officers": officers}


def _appointments(site: str, day: date, using: str) -> dict[str, Any]:
    rows = Appointment.objects.using(using).filter(site=site, date=day).select_related("service")
    appts = []
    for a in rows:
        doc: dict[str, Any] = {"code": a.code, "service": a.service.code, "slot": a.slot,
                               "channel": a.channel}
        if a.window is not None:
            doc["window"] = a.window
        appts.append(doc)
    return {"date": day.isoformat(), "appointments": appts}


def _iso(t: datetime) -> str:
    return t.astimezone(ZONE).isoformat(timespec="seconds")


def _notices(site: str, _day: date, using: str) -> dict[str, Any]:
    notices = []
    for n in Notice.objects.using(using).filter(Q(site="") | Q(site=site)):
        doc = {"id": f"n{n.pk}", "text": n.text, "level": n.level}
        if n.starts:
            doc["from"] = _iso(n.starts)
        if n.ends:
            doc["until"] = _iso(n.ends)
        notices.append(doc)
    return {"notices": notices}


BUILDERS: dict[Kind, Callable[[str, date, str], dict[str, Any]]] = {
    Kind.CATALOGUE: _catalogue, Kind.ROSTER: _roster, Kind.APPOINTMENTS: _appointments,
    Kind.NOTICES: _notices, Kind.RESULTS: derived.results, Kind.HOLIDAYS: derived.holidays}


def next_version(kind: Kind, site: str, now: datetime, using: str) -> str:
    day = now.astimezone(ZONE).strftime("%Y%m%d")
    earlier = list(ContentVersion.objects.using(using).filter(kind=kind.value, site=site)
                   .values_list("version", flat=True))
    n = 1 + sum(1 for v in earlier if v.startswith(day + "."))
    version = f"{day}.{n}"
    while any(not is_older(v, version) for v in earlier):  # a clock set back, say
        n += 1
        version = f"{day}.{n}"
    return version


def build(kind: Kind, site: str, using: str, now: datetime | None = None) -> bytes:
    """The document of ``kind`` for ``site`` with a new version, checked by parse_content."""
    now = now or clock.now()
    doc = {"version": next_version(kind, site, now, using), "published_at": _iso(now),
           **BUILDERS[kind](site, now.astimezone(ZONE).date(), using)}
    payload = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    try:
        parse_content(kind.value, payload)
    except ParseError as exc:
        raise Refused(f"计数器会拒收这份{kind.label}：{exc}。修改方法：在 {EDIT_WHERE[kind]} "
                      "中改正上面提到的字段后重新发布。") from None
    return payload


def publish(kind: Kind, site: str, who: str, opts: BrokerOptions, using: str,
            push: Callable[[BrokerOptions, str, str, str, bytes], str] | None = None
            ) -> Published:
    """Build, validate, publish, then record. Recorded after the broker's PUBACK: no row for
    a document the counters never got, and no database lock held while the broker answers
    (the collector writes to the same database)."""
    from hq.publish.push import publish_content

    push = push or publish_content
    now = clock.now()
    payload = build(kind, site, using, now)
    topic = push(opts, opts.prefix, site, kind.value, payload)
    row = ContentVersion.objects.using(using).create(
        kind=kind.value, site=site, version=json.loads(payload)["version"],
        sha256=hashlib.sha256(payload).hexdigest(), published_by=who, published_at=now,
        document=payload.decode("utf-8"))
    return Published(row, topic)
