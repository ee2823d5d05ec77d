"""Shared pieces of the printer tests: sample jobs, golden files, a fake serial printer.

Not a test module (no test_ prefix). The goldens are regenerated only by hand with
``python -m tests.printer_regen_goldens`` and reviewed through the .txt view next to
each .bin.gz; CI only compares.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import select
import threading
from pathlib import Path

from device.printjobs import PrintJob
from drivers.printer import decode
from drivers.printer.chinese import FALLBACK_SEARCH, FONT_SEARCH
from drivers.printer.status import Paper, status_byte

GOLDEN = Path(__file__).parent / "golden" / "printer"
RARE_EXT_B = "𠮷"  # U+20BB7: a four-byte GB18030 code, in no printer ROM font
RARE_EXT_A = "䶮"  # U+4DAE: two-byte in GB18030 (FE9F) but not in GBK

JOBS: dict[str, PrintJob] = {
    "ticket": PrintJob("ticket", {
        "number": "A023", "service_name": "居民身份证换领", "people_ahead": 3,
        "est_wait_min": 24, "window": 1, "issued_at": "2026-11-26 09:31",
        "qr": "https://q.example.cn/t/A023", "station": "示范派出所"}),
    "ticket_appointment": PrintJob("ticket", {
        "number": "A024", "service_name": "出生登记", "people_ahead": 0, "est_wait_min": 0,
        "window": 2, "issued_at": "2026-11-26 09:32", "station": "示范派出所",
        "appointment": True, "green_channel": False}),
    "checklist": PrintJob("checklist", {
        "service_name": "户口迁入（投靠亲属）", "service_code": "hukou.move_in",
        "conditions": ["投靠配偶、子女或父母，且被投靠人在本市有合法固定住所",
                       "被投靠人落户满三年"],
        "materials": ["居民户口簿",
                      {"name": "居民身份证", "original": True, "copies": 1},
                      {"name": "亲属关系证明", "note": "结婚证或出生医学证明"},
                      "近期免冠彩色照片2张", "房屋产权证明或租赁合同（经登记备案）",
                      "迁移证（省外迁入）"],
        "notes": ["未满十六周岁的由监护人陪同办理"],
        "fees": [{"item": "户口簿工本费", "yuan": 0,
                  "basis": "财政部 国家发展改革委 财税〔2012〕97号"},
                 {"item": "居民身份证工本费（换领）", "yuan": 20,
                  "basis": "发改价格〔2003〕2322号"}],
        "window": 1, "window_name": "户籍业务窗口",
        "hours": "周一至周五 9:00-12:00, 14:00-17:30；周六 9:00-12:00",
        "time_limit": "5个工作日", "consult_phone": "0755-8000 0001",
        "catalogue_version": "2026.11-3", "issued_at": "2026-11-26 09:40",
        "qr": "https://g.example.cn/hukou.move_in", "station": "示范派出所"}),
    "notice": PrintJob("notice", {
        "case_no": "W01-20261126-007", "service_name": "居民身份证首次申领",
        "missing": ["户口簿原件", "监护人居民身份证"], "deadline": "2026年12月10日",
        "remarks": "监护人须本人到场",
        "officer": f"刘{RARE_EXT_A}（000001）", "window": 1,
        "consult_phone": "0755-12345", "issued_at": "2026-11-26 10:02",
        "catalogue_version": "2026.11-3",
        "qr": "https://g.example.cn/guide?service=id_card.first&v=2026.11-3",
        "station": "示范派出所"}),
    "refusal": PrintJob("refusal", {
        "case_no": "W01-20261126-008", "service_name": "户口迁出",
        "reason": "申请人不属于本辖区户籍人口，本所无权办理。",
        "legal_basis": "《中华人民共和国户口登记条例》第三条、第十条",
        "officer": "李明（000001）", "window": 1, "complaint_phone": "12389",
        "issued_at": "2026-11-26 10:15", "catalogue_version": "2026.11-3",
        "qr": "https://g.example.cn/guide?service=hukou.move_out&v=2026.11-3",
        "station": "示范派出所"}),
    "receipt": PrintJob("receipt", {
        "case_no": "W01-20261126-009", "service_name": "居民身份证换领",
        "accepted_at": "2026-11-26 10:30", "promised_date": "2026年12月16日",
        "pickup": "本窗口领取或邮政寄递", "officer": f"王{RARE_EXT_B}（000002）",
        "window": 1, "consult_phone": "0755-12345", "catalogue_version": "2026.11-3",
        "qr": "https://g.example.cn/guide?service=id_card.renew&v=2026.11-3",
        "station": "示范派出所"}),
    "referral": PrintJob("referral", {
        "case_no": "W01-20261126-010", "service_name": "户口迁入（投靠亲属）",
        "matter": "办理港澳通行证签注", "to_unit": "市公安局出入境管理支队",
        "to_address": "市行政服务中心一楼出入境窗口", "to_phone": "12367",
        "to_matters": "护照、往来港澳台通行证及签注", "officer": "李明（000001）",
        "window": 1, "consult_phone": "0755-12345", "issued_at": "2026-11-26 10:40",
        "catalogue_version": "2026.11-3",
        "qr": "https://g.example.cn/guide?service=hukou.move_in&v=2026.11-3",
        "station": "示范派出所"}),
    "intake": PrintJob("intake", {
        "case_no": "W01-20261204-011", "service_name": "出生登记",
        "accepted_at": "2026-12-04 19:40",
        "received": ["《出生医学证明》（原件）", "父母双方的居民户口簿（原件）",
                     "父母双方的居民身份证（原件）"],
        "remarks": "材料由申请人亲属代交", "handover_date": "2026年12月7日",
        "officer": "李明（000001）", "window": 1, "consult_phone": "0755-12345",
        "catalogue_version": "2026.11-3",
        "qr": "https://g.example.cn/guide?service=hukou.birth&v=2026.11-3",
        "station": "示范派出所"}),
    "home_visit": PrintJob("home_visit", {
        "case_no": "W01-20261126-012", "service_name": "居民身份证有效期满换领",
        "visit_date": "2026年12月8日", "slot": "09:00-11:00", "need": "残疾人",
        "officer": "李明（000001）", "window": 1, "consult_phone": "0755-12345",
        "issued_at": "2026-11-26 11:05", "catalogue_version": "2026.11-3",
        "qr": "https://g.example.cn/guide?service=id_card.renew&v=2026.11-3",
        "station": "示范派出所"}),
}

COMBOS = [(kind, mode, mm) for kind in JOBS for mode in ("native", "raster")
          for mm in (58, 80)]


def golden_name(kind: str, mode: str, mm: int) -> str:
    return f"{kind}-{mode}-{mm}"


def read_golden(name: str) -> bytes:
    return gzip.decompress((GOLDEN / f"{name}.bin.gz").read_bytes())


def write_golden(name: str, data: bytes) -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same bytes give the same file (no spurious diffs on regeneration)
    (GOLDEN / f"{name}.bin.gz").write_bytes(gzip.compress(data, mtime=0))
    (GOLDEN / f"{name}.txt").write_text(decode.decode_text(data) + "\n", encoding="utf-8")
    preview = images_preview(data)
    if preview is not None:  # for the reviewer: every image of the job, top to bottom
        preview.save(GOLDEN / f"{name}.png", optimize=True)


def images_preview(data: bytes):  # type: ignore[no-untyped-def]
    from PIL import Image, ImageOps

    items, _ = decode.parse(data)
    images = [decode.raster_image(it) for it in items if it.kind == "raster"]
    if not images:
        return None
    width = max(im.width for im in images)
    out = Image.new("1", (width, sum(im.height for im in images)), 0)
    y = 0
    for im in images:
        out.paste(im, (0, y))
        y += im.height
    return ImageOps.invert(out.convert("L")).convert("1")  # ink = black on white


def font_fingerprint() -> dict[str, str]:
    """sha256 of the fonts raster output depends on (raster goldens are only valid
    with the same font files and the pinned Pillow)."""
    out = {}
    for path in (*FONT_SEARCH, *FALLBACK_SEARCH):
        if os.path.exists(path):
            out[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return out


def fonts_match_goldens() -> bool:
    f = GOLDEN / "fonts.json"
    return f.exists() and json.loads(f.read_text()) == font_fingerprint()


class FakeSerialPrinter:
    """A printer on the far side of a pty: parses the stream as it arrives (so DLE EOT is
    found where it sits, never inside image data), answers status queries from its
    state, and keeps what it printed. ``paper_after``: paper runs out after that many
    more bytes (the rest of the job is not printed)."""

    def __init__(self, answer: bool = True) -> None:
        self.master, self.slave = os.openpty()
        import tty

        tty.setraw(self.slave)
        tty.setraw(self.master)
        self.path = os.ttyname(self.slave)
        self.answer = answer
        self.paper = Paper.OK
        self.paper_after: int | None = None
        self.printed = bytearray()
        self.queries: list[int] = []
        self.lock = threading.Lock()
        self.received = threading.Condition(self.lock)
        self._buf = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            r, _, _ = select.select([self.master], [], [], 0.05)
            if not r:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            with self.lock:
                self._feed(chunk)
                self.received.notify_all()

    def _feed(self, chunk: bytes) -> None:
        self._buf += chunk
        items, used = decode.parse(self._buf, partial=True)
        data, self._buf = self._buf[:used], self._buf[used:]
        for it in items:
            if it.kind == "status":
                self.queries.append(it.value)
                if self.answer:
                    os.write(self.master, bytes([status_byte(
                        it.value, offline=self.paper is Paper.OUT, paper=self.paper)]))
        # Everything but the real-time commands (status query 3 bytes, clear 10) is paper.
        body = bytearray()
        pos = 0
        for it in items:
            if it.kind in ("status", "clear"):
                body += data[pos:it.at]
                pos = it.at + (3 if it.kind == "status" else 10)
        body += data[pos:]
        if self.paper is Paper.OUT:
            return
        if self.paper_after is not None and len(body) > self.paper_after:
            body = body[:self.paper_after]
            self.paper, self.paper_after = Paper.OUT, None
        elif self.paper_after is not None:
            self.paper_after -= len(body)
        self.printed += body

    def wait_printed(self, predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
        with self.received:
            return self.received.wait_for(lambda: predicate(bytes(self.printed)), timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
