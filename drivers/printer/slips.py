"""What each kind of print job says: the ticket, the one-time checklist (一次性告知单), the
notice to supply missing materials, the refusal, the receipt, the referral, the
after-hours intake receipt (户口代办受理回执) and the home-visit appointment (上门服务预约单),
as lists of blocks.

A job's ``data`` dict (docs/printer.md lists the keys of every kind) becomes a short list
of :mod:`.blocks`. Every key is optional: a missing one leaves its line out (or prints "—"
where the slip makes no sense without it), a value of the wrong type is printed as text.
How blocks become bytes (paper width, Chinese mode) is :mod:`.layout`'s business.
"""

from __future__ import annotations

from typing import Any

from device.printjobs import PrintJob
from drivers.printer import commands as cmd
from drivers.printer.blocks import Block, Cut, Qr, Rule, Text
from drivers.printer.chinese import clean

PRIORITY_MARKS = {"green_channel": "绿色通道 优先办理", "appointment": "预约签到 优先办理"}


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


def _notice_head(title: str, data: dict[str, Any]) -> list[Block]:
    """A written notice's head: title, station, the case and the service it concerns."""
    b = _header(title, data)
    _line(b, "受理编号：", _s(data, "case_no"))
    _line(b, "办理事项：", _s(data, "service_name", "—"), hang=5)
    return b


def _notice_foot(b: list[Block], data: dict[str, Any], phone_label: str, phone_key: str
                 ) -> list[Block]:
    """Who issued it, where to call, when, the guide it follows, and the cut."""
    b.append(Rule())
    _officer_lines(b, data)
    _line(b, phone_label, _s(data, phone_key))
    _line(b, "告知时间：", _s(data, "issued_at"))
    _guide(b, data)
    b.append(Cut())
    return b


def _guide(b: list[Block], data: dict[str, Any]) -> None:
    """The catalogue version the document follows and the QR code to its service guide."""
    _line(b, "指南版本：", _s(data, "catalogue_version"))
    _qr(b, data, "扫码查看办事指南")


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
    b = _notice_head("补正材料告知书", data)
    b.append(Text("经审查，您提交的申请材料不齐全，请补正以下材料：", bold=True))
    b += _numbered(_items(data.get("missing")))
    _line(b, "备注：", _s(data, "remarks"), hang=3)
    deadline = _s(data, "deadline")
    if deadline:
        b.append(Text(f"请于{deadline}前补正，补齐后到本窗口办理，无需重新排队。"))
    return _notice_foot(b, data, "咨询电话：", "consult_phone")


REMEDY = ("如不服本决定，可以自收到本告知书之日起六十日内依法申请行政复议，"
          "或者六个月内依法提起行政诉讼。")


def refusal_blocks(data: dict[str, Any]) -> list[Block]:
    b = _notice_head("不予受理告知书", data)
    b.append(Text("不予受理理由：", bold=True))
    b.append(Text(_s(data, "reason", "—")))
    b.append(Text("法律依据：", bold=True))
    b.append(Text(_s(data, "legal_basis", "—")))
    b.append(Text("救济途径：", bold=True))
    b.append(Text(_s(data, "remedy", REMEDY)))
    return _notice_foot(b, data, "监督电话：", "complaint_phone")


def receipt_blocks(data: dict[str, Any]) -> list[Block]:
    b = _header("受理回执", data)
    b.append(Text(f"受理编号：{_s(data, 'case_no', '—')}", bold=True))
    _line(b, "办理事项：", _s(data, "service_name", "—"), hang=5)
    _line(b, "受理时间：", _s(data, "accepted_at"))
    b.append(Text(f"承诺办结日期：{_s(data, 'promised_date', '—')}", bold=True))
    _line(b, "领取方式：", _s(data, "pickup"), hang=5)
    _officer_lines(b, data)
    _line(b, "咨询电话：", _s(data, "consult_phone"))
    _guide(b, data)
    # One clause a line: as one paragraph it broke 办/结 across the lines at 58 mm.
    b += [Text("请妥善保管本回执，"), Text("凭回执领取证件。"),
          Text("如不能按期办结，"), Text("我们将提前告知您。")]
    b.append(Cut())
    return b


def referral_blocks(data: dict[str, Any]) -> list[Block]:
    b = _notice_head("转办告知书", data)
    _line(b, "所办事项：", _s(data, "matter"), hang=5)
    b.append(Text("您所办事项不属于本窗口职责范围，请前往：", bold=True))
    b.append(Text(_s(data, "to_unit", "—"), bold=True, hang=2))
    _line(b, "地址：", _s(data, "to_address"), hang=3)
    _line(b, "电话：", _s(data, "to_phone"))
    _line(b, "受理范围：", _s(data, "to_matters"), hang=5)
    b.append(Text("本窗口已记录您的事项，如有疑问请拨打咨询电话。"))
    return _notice_foot(b, data, "咨询电话：", "consult_phone")


def intake_blocks(data: dict[str, Any]) -> list[Block]:
    """What the duty officer received after hours and the day the registration officer
    takes it up. The closing sentences are one clause a line, each short enough for 58 mm,
    so no word is broken across lines."""
    b = _header("户口代办受理回执", data)
    b.append(Text(f"受理编号：{_s(data, 'case_no', '—')}", bold=True))
    _line(b, "办理事项：", _s(data, "service_name", "—"), hang=5)
    _line(b, "受理时间：", _s(data, "accepted_at"))
    received = _items(data.get("received"))
    b.append(Text(f"已收材料（共{len(received)}项）：", bold=True))
    b += _numbered(received)
    _line(b, "备注：", _s(data, "remarks"), hang=3)
    b.append(Text(f"移交日期：{_s(data, 'handover_date', '—')}", bold=True))
    b += [Text("值班民警已代收上述材料，"), Text("将于移交日期转户籍民警办理。")]
    b.append(Rule())
    _line(b, "值班民警：", _s(data, "officer"))
    _line(b, "咨询电话：", _s(data, "consult_phone"))
    _guide(b, data)
    b += [Text("请妥善保管本回执。"), Text("办理进度请拨打咨询电话查询。"), Cut()]
    return b


def home_visit_blocks(data: dict[str, Any]) -> list[Block]:
    """The visit's day, time slot and who it is for; no address and no name (they stay
    on the workstation)."""
    b = _notice_head("上门服务预约单", data)
    b.append(Text(f"上门日期：{_s(data, 'visit_date', '—')}", bold=True))
    b.append(Text(f"上门时段：{_s(data, 'slot', '—')}", bold=True))
    _line(b, "服务对象：", _s(data, "need"))
    b += [Text("民警将在预约时段上门办理，"), Text("请提前备齐所需材料。"),
          Text("如需改约，请拨打咨询电话。")]
    return _notice_foot(b, data, "咨询电话：", "consult_phone")


BUILDERS = {
    "ticket": ticket_blocks,
    "checklist": checklist_blocks,
    "notice": notice_blocks,
    "refusal": refusal_blocks,
    "receipt": receipt_blocks,
    "referral": referral_blocks,
    "intake": intake_blocks,
    "home_visit": home_visit_blocks,
}


def blocks_for(job: PrintJob) -> list[Block]:
    data = job.data if isinstance(job.data, dict) else {}
    return BUILDERS[job.kind](data)
