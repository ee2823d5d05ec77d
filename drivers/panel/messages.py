"""What the panel tells the officer after a form: done, in Chinese, or why not.

A refusal of the core has its Chinese text in device/codes.py; the link's reply (in
English, for workstation developers) follows it, so nothing it names is lost.
"""

from __future__ import annotations

from typing import Any

from device.codes import REFUSALS
from device.core import Core, Outcome

_DONE = {
    "call_next": "已叫号{ticket}", "recall": "已重呼{ticket}", "no_show": "已过号",
    "call": "已叫号{number}", "transfer": "{number}已转移",
    "case_start": "已开始办理（受理编号{case_no}）", "case_end": "已结束办理，请群众评价",
    "away": "已设置暂离，公示牌已更新", "back": "已返回窗口",
    "notice": "补正材料告知书已显示在群众屏幕上，群众点“确认并打印”后打印",
    "refusal": "不予受理告知书已显示在群众屏幕上，群众点“确认并打印”后打印",
    "receipt": "受理回执已显示在群众屏幕上，群众点“确认并打印”后打印",
    "referral": "转办告知书已显示在群众屏幕上，群众点“确认并打印”后打印",
    "promise_change": "已记录新的承诺日期（受理编号{case_no}）",
    "intake": "户口代办受理回执已显示在群众屏幕上，群众点“确认并打印”后打印，并转下一工作日办理",
    "home_visit": "上门服务预约单已显示在群众屏幕上，群众点“确认并打印”后打印",
}


def done_text(msg: dict[str, Any], core: Core) -> str:
    s = core.state
    ticket = f" {s.ticket}" if s.ticket else ""
    if msg["op"] == "call_next" and not s.ticket:
        return f"无人等候，已开始办理（受理编号{s.case_no}）"
    return _DONE[msg["op"]].format(ticket=ticket, number=msg.get("number", ""),
                                   case_no=msg.get("case_no") or s.case_no)


def refused_text(reply: dict[str, Any], outcome: Outcome | None) -> str:
    error = str(reply.get("error", ""))
    if outcome is not None and outcome.refused is not None:
        return f"未执行：{REFUSALS[outcome.refused].citizen}（{error}）"
    return f"未执行：{error}"
