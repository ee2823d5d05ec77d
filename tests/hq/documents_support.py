"""A known week of written documents and queue controls at two stations, sealed and
chained as the counters send them (device/documents.py's records, device/ticket_ops.py's
facts), for the document report's tests. The figures the tests expect are in FIGURES."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from device.events import GENESIS, Draft, EventType, seal
from hq.store import HqStore

DAY1 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a Monday
PERIOD = ("2026-11-01", "2026-11-07")
NOW = "2026-11-10T10:00"  # the console's clock: C9's handover day is past, C18's is not
E = EventType
# device/handover.py's events (the after-hours intake handed on, and taken up): sent as
# their type strings, which the collector takes like any event type (sync/inbound.py).
INTAKE_QUEUED, INTAKE_CALLED = "intake.queued", "intake.called"


class Counter:
    def __init__(self, site: str, device: str) -> None:
        self.site, self.device, self.seq, self.prev = site, device, 0, GENESIS
        self.out: list[tuple[dict[str, Any], bool]] = []
        self.at = DAY1

    def add(self, etype: EventType | str, **data: Any) -> None:
        self.seq += 1
        self.at += timedelta(minutes=3)
        # intake.* are plain strings here: seal writes str(type) either way.
        env = seal(Draft(etype, data), site=self.site,  # type: ignore[arg-type]
                   device=self.device, seq=self.seq, prev=self.prev, ts=self.at)
        self.prev = env.hash
        self.out.append((env.to_dict(), False))

    def doc(self, kind: str, case_no: str, service: str = "hukou", officer: str = "000001",
            *, withdrawn: bool = False, **extra: Any) -> None:
        """Shown on the mirror, then issued (the citizen's tap) or withdrawn."""
        record = {"kind": kind, "case_no": case_no, "service": service, "officer": officer,
                  "catalogue_version": "2026-11-01", **extra}
        self.add(E.DOCUMENT_SHOWN, **record)
        self.add(E.DOCUMENT_WITHDRAWN if withdrawn else E.DOCUMENT_ISSUED, **record)


NOT_OURS = "不属于本机关职责范围"
MISSING = "申请材料不齐全且拒绝补正"


def build(url: str) -> None:
    a, b, c = Counter("s1", "w01"), Counter("s1", "w02"), Counter("s2", "w01")
    a.doc("notice", "C1", materials=["户口簿", "居民身份证"], deadline="2026-11-09")
    a.doc("notice", "C14", materials=["户口簿"], withdrawn=True)  # corrected, never issued
    a.doc("refusal", "C2", reason=NOT_OURS, legal_basis="《行政许可法》第三十二条")
    a.doc("refusal", "C3", reason=NOT_OURS, legal_basis="《行政许可法》第三十二条")
    a.doc("refusal", "C4", reason=MISSING, legal_basis="《行政许可法》第三十二条")
    a.doc("receipt", "C5", service="id_card.first", promised_date="2026-11-20",
          promise="20个工作日")
    a.doc("receipt", "C6", service="id_card.first", promised_date="2026-11-25")
    a.add(E.PROMISE_CHANGED, case_no="C5", new_date="2026-11-27", reason="需外地协查",
          officer="000001")
    a.add(E.PROMISE_CHANGED, case_no="C5", new_date="2026-12-01", reason="系统故障",
          officer="000001")
    a.doc("referral", "C7", to="exit_entry", to_unit="市公安局出入境管理支队")
    # After-hours intakes, each handed on to its day's registration queue
    # (device/handover.py): C8 taken up at window 2 on the 3rd, C9 never (overdue), C18's
    # day still to come.
    for case_no, day in (("C8", "2026-11-03"), ("C9", "2026-11-05"), ("C18", "2026-11-30")):
        a.doc("intake", case_no, materials=["户口簿"], handover_date=day)
        a.add(INTAKE_QUEUED, case_no=case_no, service="hukou", officer="000001",
              handover_date=day, number="DB001")  # each its own day's first
    a.doc("home_visit", "C10", visit_date="2026-11-05", slot="am", need="elderly")
    a.doc("home_visit", "C11", visit_date="2026-11-06", slot="pm", need="disabled")
    a.doc("home_visit", "C12", visit_date="2026-11-06", slot="am", need="elderly")
    a.doc("certificate", "C13")  # a kind a newer counter sends
    # The queue: one call in order, one by number first in line (not out of order), one
    # past two waiting tickets; two recalls; a no-show requeued and one dropped; a
    # transfer to another service and one to window 3.
    a.add(E.TICKET_CALLED, number="A001", service="hukou", window=1, priority=0,
          waited_s=60.0)
    a.add(E.TICKET_CALLED, number="A002", service="hukou", window=1, priority=0,
          waited_s=60.0, out_of_order=True, skipped=0)
    a.add(E.TICKET_CALLED, number="A005", service="hukou", window=1, priority=0,
          waited_s=60.0, out_of_order=True, skipped=2)
    a.add(E.TICKET_RECALLED, count=1, window=1, number="A005", case_no="C15")
    a.add(E.TICKET_RECALLED, count=2, window=1, number="A005", case_no="C15")
    a.add(E.TICKET_NO_SHOW, no_shows=1, requeued=True, ahead=2, number="A005",
          case_no="C15", service="hukou", officer="000001", duration_s=40.0)
    a.add(E.TICKET_NO_SHOW, no_shows=3, requeued=False, number="A003", case_no="C16",
          service="hukou", officer="000001", duration_s=30.0)
    a.add(E.TICKET_TRANSFERRED, from_service="hukou", to_service="id_card.first",
          number="A006", case_no="")
    a.add(E.TICKET_TRANSFERRED, from_service="hukou", to_window=3, number="A007",
          case_no="C17", service="hukou", officer="000001", duration_s=20.0)
    b.doc("receipt", "D1", service="hukou", officer="000002", promised_date="2026-11-16")
    # The registration officer calls C8's intake: its "wait" is the night since the
    # receipt, which no citizen waited (not in the evaluation report's waits or calls).
    b.add(E.TICKET_CALLED, number="DB001", service="hukou", window=2, priority=0,
          waited_s=50_400.0, intake="C8")
    b.add(INTAKE_CALLED, case_no="C8", number="DB001", service="hukou",
          handover_date="2026-11-03", window=2)
    b.doc("refusal", "D2", officer="000002", reason=NOT_OURS, legal_basis="同上")
    # Station s2: a chief of s1 must see none of it.
    c.doc("refusal", "S1", officer="000009", reason="只在二所", legal_basis="同上")
    c.doc("referral", "S2", officer="000009", to="traffic", to_unit="二所才有的去向")
    c.add(E.TICKET_RECALLED, count=1, window=1, number="B001", case_no="S3")
    late = Counter("s1", "w02")  # after the period: counts nowhere
    late.at = DAY1 + timedelta(days=9)
    late.seq, late.prev = b.seq, b.prev
    late.doc("refusal", "L1", officer="000002", reason="期外", legal_basis="同上")
    hq = HqStore.open(url)
    try:
        hq.ingest(a.out + b.out + c.out + late.out)
    finally:
        hq.close()
