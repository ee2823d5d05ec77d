"""Print jobs to ESC/POS bytes, for 58 mm (384 dots) and 80 mm (576 dots) paper.

A job's ``data`` dict (docs/printer.md lists the keys of every kind) becomes a short list
of blocks (text lines, rules, a QR code, the cut), and the blocks become bytes in one of
two Chinese modes:

* native: the printer's own Chinese font (FS & ... FS . around GB18030 bytes); a line with
  a character the ROM font cannot carry is drawn as a raster image instead;
* raster: every text line is drawn with Pillow and sent as GS v 0 images.

Every key is optional: a missing one leaves its line out (or prints "—" where the slip
makes no sense without it), a value of the wrong type is printed as text. The output is
a pure function of the job and the profile, so the tests can compare bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from device import linebreak
from device.config import PrinterSection
from device.printjobs import PrintJob
from drivers.printer import commands as cmd
from drivers.printer.chinese import (
    Fonts,
    RasterLine,
    char_columns,
    clean,
    encode_native,
    find_fallbacks,
    find_font,
    image_bands,
    native_ok,
    render,
    wrap_raster,
)

PRIORITY_MARKS = {"green_channel": "绿色通道 优先办理", "appointment": "预约签到 优先办理"}

WIDTH_DOTS = {58: 384, 80: 576}
COLUMN_DOTS = 12  # ROM font A: 12 dots per ASCII column, 24 per Chinese character


@dataclass(frozen=True)
class Profile:
    """What the layout needs to know about the printer."""

    width_dots: int = 576
    chinese: Literal["native", "raster"] = "native"
    charset: Literal["gbk", "gb2312"] = "gbk"
    qr: Literal["native", "raster"] = "native"
    font: str = ""
    fallback_fonts: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, cfg: PrinterSection) -> Profile:
        return cls(width_dots=WIDTH_DOTS[cfg.paper_mm], chinese=cfg.chinese,
                   charset=cfg.rom_charset, qr=cfg.qr, font=cfg.font,
                   fallback_fonts=tuple(cfg.fallback_fonts))

    @property
    def columns(self) -> int:
        return self.width_dots // COLUMN_DOTS

    @property
    def qr_module(self) -> int:
        return 6 if self.width_dots >= 576 else 5

    def fonts(self) -> Fonts:
        return Fonts(find_font(self.font), find_fallbacks(self.fallback_fonts))


# --------------------------------------------------------------------------- blocks


@dataclass(frozen=True)
class Text:
    text: str
    align: int = cmd.ALIGN_LEFT
    bold: bool = False
    big: bool = False
    hang: int = 0  # continuation lines are indented by this many columns


@dataclass(frozen=True)
class Rule:
    pass


@dataclass(frozen=True)
class Blank:
    pass


@dataclass(frozen=True)
class Qr:
    data: str


@dataclass(frozen=True)
class Cut:
    pass


Block = Text | Rule | Blank | Qr | Cut


# --------------------------------------------------------------------------- job kinds


def _s(data: dict[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return "是" if value else "否"
    return clean(str(value)).strip()


def _items(value: Any) -> list[str]:
    """A list of materials: strings, or dicts {name, copies, original, note}."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        value = [value]
    out = []
    for item in value:
        if isinstance(item, dict):
            text = _s(item, "name", "—")
            extra = []
            if item.get("original") is True:
                extra.append("原件")
            copies = _s(item, "copies")
            if copies:
                extra.append(f"复印件{copies}份")
            if extra:
                text += "（" + "、".join(extra) + "）"
            note = _s(item, "note")
            if note:
                text += f"：{note}"
            out.append(text)
        else:
            out.append(clean(str(item)).strip() or "—")
    return out


def _numbered(items: list[str]) -> list[Block]:
    return [Text(f"{i}. {t}", hang=3) for i, t in enumerate(items, 1)]


def _header(title: str, data: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = [Text(title, cmd.ALIGN_CENTER, bold=True, big=True)]
    station = _s(data, "station")
    if station:
        blocks.append(Text(station, cmd.ALIGN_CENTER))
    blocks.append(Rule())
    return blocks


def _line(blocks: list[Block], label: str, value: str, **kw: Any) -> None:
    if value:
        blocks.append(Text(f"{label}{value}", hang=kw.pop("hang", 0), **kw))


def _officer_lines(blocks: list[Block], data: dict[str, Any]) -> None:
    officer, window = _s(data, "officer"), _s(data, "window")
    _line(blocks, "经办民警：", officer)
    _line(blocks, "办理窗口：", f"{window}号窗口" if window.isdigit() else window)


def _qr(blocks: list[Block], data: dict[str, Any], caption: str) -> None:
    code = _s(data, "qr")
    if code:
        blocks += [Qr(code), Text(caption, cmd.ALIGN_CENTER)]


def ticket_blocks(data: dict[str, Any]) -> list[Block]:
    b: list[Block] = []
    station = _s(data, "station")
    if station:
        b.append(Text(station, cmd.ALIGN_CENTER, bold=True))
    b.append(Text("排队号", cmd.ALIGN_CENTER))
    b.append(Text(_s(data, "number", "—"), cmd.ALIGN_CENTER, bold=True, big=True))
    for key, mark in PRIORITY_MARKS.items():
        if data.get(key) is True:  # the citizen shows it at the window: say it plainly
            b.append(Text(f"【{mark}】", cmd.ALIGN_CENTER, bold=True))
            break
    b.append(Rule())
    _line(b, "办理业务：", _s(data, "service_name"), hang=5)
    ahead = _s(data, "people_ahead")
    if ahead:
        b.append(Text(f"您前面还有 {ahead} 人等候"))
    _line(b, "预计等候：约 ", _s(data, "est_wait_min") and _s(data, "est_wait_min") + " 分钟")
    window = _s(data, "window")
    if window:
        b.append(Text(f"请留意叫号，到 {window} 号窗口办理" if window.isdigit()
                      else f"请留意叫号，到{window}办理"))
    _line(b, "取号时间：", _s(data, "issued_at"))
    _qr(b, data, "扫码查看排队进度")
    b.append(Text("过号请重新取号，谢谢配合", cmd.ALIGN_CENTER))
    b.append(Cut())
    return b


def _fee_lines(value: Any) -> list[Block]:
    """Fees as {item, yuan or amount, basis}: what is paid, how much, by which rule."""
    if not isinstance(value, list | tuple):
        value = [value]
    if not value:
        return [Text("不收费", hang=2)]
    out: list[Block] = []
    for fee in value:
        if not isinstance(fee, dict):
            out.append(Text(f"· {clean(str(fee)).strip() or '—'}", hang=2))
            continue
        yuan = fee.get("yuan")
        amount = _s(fee, "amount") or (
            ("免费" if yuan == 0 else f"{yuan:g}元")
            if isinstance(yuan, int | float) and not isinstance(yuan, bool) else "—")
        out.append(Text(f"· {_s(fee, 'item', '—')}：{amount}", hang=2))
        basis = _s(fee, "basis")
        if basis:
            out.append(Text(f"  依据：{basis}", hang=4))
    return out


def _where_when(b: list[Block], data: dict[str, Any]) -> None:
    window, name = _s(data, "window"), _s(data, "window_name")
    place = " ".join(x for x in (_s(data, "station"),
                                 f"{window}号窗口" if window.isdigit() else window) if x)
    if name:
        place += f"（{name}）"
    _line(b, "办理地点：", place, hang=5)
    _line(b, "办公时间：", _s(data, "hours"), hang=5)


def checklist_blocks(data: dict[str, Any]) -> list[Block]:
    """Everything needed to finish in one trip: conditions, every material, fees with
    their basis, where and when, the consultation phone and the catalogue version."""
    b = _header("一次性告知单", data)
    _line(b, "办理事项：", _s(data, "service_name", "—"), hang=5)
    conditions = _items(data.get("conditions"))
    if conditions:
        b.append(Text("办理条件：", bold=True))
        b += [Text(f"· {c}", hang=2) for c in conditions]
    materials = _items(data.get("materials"))
    b.append(Text(f"所需材料（共{len(materials)}项）：", bold=True))
    b += _numbered(materials)
    notes = _items(data.get("notes"))
    if notes:
        b.append(Text("注意事项：", bold=True))
        b += _numbered(notes)
    if "fees" in data:
        b.append(Text("收费标准：", bold=True))
        b += _fee_lines(data.get("fees"))
    b.append(Rule())
    _line(b, "办理时限：", _s(data, "time_limit"), hang=5)
    _where_when(b, data)
    _line(b, "咨询电话：", _s(data, "consult_phone"))
    _line(b, "指南版本：", _s(data, "catalogue_version"))
    _line(b, "打印时间：", _s(data, "issued_at"))
    _qr(b, data, "扫码查看办事指南")
    b.append(Text("本单一次性告知办理所需全部材料，窗口不再要求本单以外的材料。"))
    b.append(Cut())
    return b


def notice_blocks(data: dict[str, Any]) -> list[Block]:
    b = _header("补正材料告知书", data)
    _line(b, "受理编号：", _s(data, "case_no"))
    _line(b, "办理事项：", _s(data, "service_name", "—"), hang=5)
    b.append(Text("经审查，您提交的申请材料不齐全，请补正以下材料：", bold=True))
    b += _numbered(_items(data.get("missing")))
    deadline = _s(data, "deadline")
    if deadline:
        b.append(Text(f"请于{deadline}前补正，补齐后到本窗口办理，无需重新排队。"))
    b.append(Rule())
    _officer_lines(b, data)
    _line(b, "咨询电话：", _s(data, "consult_phone"))
    _line(b, "告知时间：", _s(data, "issued_at"))
    b.append(Cut())
    return b


REMEDY = ("如不服本决定，可以自收到本告知书之日起六十日内依法申请行政复议，"
          "或者六个月内依法提起行政诉讼。")


def refusal_blocks(data: dict[str, Any]) -> list[Block]:
    b = _header("不予受理告知书", data)
    _line(b, "受理编号：", _s(data, "case_no"))
    _line(b, "办理事项：", _s(data, "service_name", "—"), hang=5)
    b.append(Text("不予受理理由：", bold=True))
    b.append(Text(_s(data, "reason", "—")))
    b.append(Text("法律依据：", bold=True))
    b.append(Text(_s(data, "legal_basis", "—")))
    b.append(Text("救济途径：", bold=True))
    b.append(Text(_s(data, "remedy", REMEDY)))
    b.append(Rule())
    _officer_lines(b, data)
    _line(b, "监督电话：", _s(data, "complaint_phone"))
    _line(b, "告知时间：", _s(data, "issued_at"))
    b.append(Cut())
    return b


def receipt_blocks(data: dict[str, Any]) -> list[Block]:
    b = _header("受理回执", data)
    b.append(Text(f"受理编号：{_s(data, 'case_no', '—')}", bold=True))
    _line(b, "办理事项：", _s(data, "service_name", "—"), hang=5)
    _line(b, "受理时间：", _s(data, "accepted_at"))
    b.append(Text(f"承诺办结日期：{_s(data, 'promised_date', '—')}", bold=True))
    _line(b, "领取方式：", _s(data, "pickup"), hang=5)
    _officer_lines(b, data)
    _line(b, "咨询电话：", _s(data, "consult_phone"))
    _qr(b, data, "扫码查询办理进度")
    b.append(Text("请妥善保管本回执，凭回执领取证件。"))
    b.append(Cut())
    return b


BUILDERS = {
    "ticket": ticket_blocks,
    "checklist": checklist_blocks,
    "notice": notice_blocks,
    "refusal": refusal_blocks,
    "receipt": receipt_blocks,
}


def blocks_for(job: PrintJob) -> list[Block]:
    data = job.data if isinstance(job.data, dict) else {}
    return BUILDERS[job.kind](data)


# --------------------------------------------------------------------------- encoding


def columns_of(text: str) -> int:
    return sum(char_columns(c) for c in text)


def wrap_columns(text: str, columns: int, hang: int = 0) -> list[str]:
    """Wrap by ROM-font columns (ASCII 1, Chinese 2) by the one line-breaking rule
    (device/linebreak.py: no 。 at a line start, phone numbers whole); continuation
    lines start with ``hang`` spaces."""
    return linebreak.wrap(text, columns, columns_of, indent=" " * hang) or [""]


@dataclass
class _State:
    align: int = 0
    bold: bool = False
    big: bool = False
    out: list[bytes] = field(default_factory=list)

    def set(self, align: int, bold: bool, big: bool) -> None:
        # ESC @ leaves left / not bold / normal size: send only what changes.
        if align != self.align:
            self.out.append(cmd.align(align))
            self.align = align
        if bold != self.bold:
            self.out.append(cmd.bold(bold))
            self.bold = bold
        if big != self.big:
            self.out.append(cmd.size(2, 2) if big else cmd.size(1, 1))
            self.big = big


def _raster_bytes(lines: Sequence[RasterLine], profile: Profile, fonts: Fonts) -> bytes:
    img = render(lines, profile.width_dots, fonts)
    return b"".join(cmd.raster(w, h, d) for w, h, d in image_bands(img))


def qr_image(data: str, module: int, width_dots: int) -> Any:
    """A QR code drawn as a mode "1" image (ink = 1), centred on the paper width."""
    import qrcode
    from PIL import Image

    code = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    n = len(matrix)
    small = Image.new("1", (n, n), 0)
    small.putdata([1 if cell else 0 for row in matrix for cell in row])
    side = n * module
    img = Image.new("1", (width_dots, side + 2 * module), 0)
    img.paste(small.resize((side, side), Image.Resampling.NEAREST),
              ((width_dots - side) // 2, module))
    return img


def _qr_bytes(st: _State, data: str, profile: Profile) -> None:
    if profile.qr == "native":
        st.set(cmd.ALIGN_CENTER, False, False)
        st.out.append(cmd.qr(data, profile.qr_module) + cmd.LF)
    else:
        img = qr_image(data, profile.qr_module, profile.width_dots)
        st.out += [cmd.raster(w, h, d) for w, h, d in image_bands(img)]


def encode(blocks: Iterable[Block], profile: Profile, fonts: Fonts | None = None) -> bytes:
    """The bytes of one job: ESC @, the blocks, the cut."""
    if profile.chinese == "raster":
        return _encode_raster(blocks, profile, fonts or profile.fonts())
    return _encode_native(blocks, profile, fonts)


def _encode_native(blocks: Iterable[Block], profile: Profile, fonts: Fonts | None) -> bytes:
    st = _State(out=[cmd.INIT])
    for block in blocks:
        if isinstance(block, Text):
            cols = profile.columns // (2 if block.big else 1)
            for line in wrap_columns(clean(block.text), cols, block.hang):
                if all(native_ok(c, profile.charset) for c in line):
                    st.set(block.align, block.bold, block.big)
                    st.out.append(encode_native(line) + cmd.LF)
                else:
                    # The ROM font cannot carry a character of this line: draw the line.
                    fonts = fonts or profile.fonts()
                    st.out.append(_raster_bytes(
                        [RasterLine(line, block.align, block.big, block.bold)],
                        profile, fonts))
        elif isinstance(block, Rule):
            st.set(cmd.ALIGN_LEFT, False, False)
            st.out.append(b"-" * profile.columns + cmd.LF)
        elif isinstance(block, Blank):
            st.out.append(cmd.LF)
        elif isinstance(block, Qr):
            _qr_bytes(st, block.data, profile)
        elif isinstance(block, Cut):
            st.out.append(cmd.cut())
    return b"".join(st.out)


def _encode_raster(blocks: Iterable[Block], profile: Profile, fonts: Fonts) -> bytes:
    st = _State(out=[cmd.INIT])
    lines: list[RasterLine] = []

    def flush() -> None:
        if lines:
            st.out.append(_raster_bytes(lines, profile, fonts))
            lines.clear()

    for block in blocks:
        if isinstance(block, Text):
            px = 48 if block.big else 24
            indent = block.hang * COLUMN_DOTS
            for i, line in enumerate(wrap_raster(clean(block.text), profile.width_dots,
                                                 fonts, px, indent)):
                lines.append(RasterLine(line, block.align, block.big, block.bold,
                                        indent if i else 0))
        elif isinstance(block, Rule):
            lines.append(RasterLine("", rule=True))
        elif isinstance(block, Blank):
            lines.append(RasterLine(""))
        elif isinstance(block, Qr):
            flush()
            _qr_bytes(st, block.data, profile)
        elif isinstance(block, Cut):
            flush()
            st.out.append(cmd.cut())
    flush()
    return b"".join(st.out)


def job_bytes(job: PrintJob, profile: Profile, fonts: Fonts | None = None) -> bytes:
    return encode(blocks_for(job), profile, fonts)
