"""Refusal and fault codes: every code has its texts, fault values are the wire format,
and a refusal's English text names what the counter gives with it."""

from __future__ import annotations

import re
import string

import pytest

from device.codes import FAULTS, REFUSALS, Fault, Refusal, fault_texts, refusal_text

CJK = re.compile(r"[\u4e00-\u9fff]")

# What device.fault events, HQ and the control socket carry today: a renamed value would
# orphan every stored event and HQ's dashboards, so this list changes only by adding.
WIRE_FAULTS = {"gone", "no_reply", "stuck", "start_failed", "no_player", "play_failed",
               "paper_out", "cover_open", "offline", "error", "port_gone", "no_font",
               "commit_failed", "integrity_check_failed", "db_full"}


@pytest.mark.parametrize(("codes", "table"), [(Refusal, REFUSALS), (Fault, FAULTS)])
def test_every_code_has_its_three_texts(codes: type, table: dict) -> None:
    assert set(table) == set(codes)  # no code without texts, no texts without a code
    for code in codes:
        texts = table[code]
        assert CJK.search(texts.citizen), code  # the screen speaks Chinese
        assert texts.fix.strip() and texts.log.strip(), code
        assert texts.log.isascii() and texts.fix.isascii(), code  # the journal: English


def test_fault_values_are_the_wire_format() -> None:
    assert {f.value for f in Fault} == WIRE_FAULTS


def test_a_refusal_text_names_its_detail() -> None:
    for code, texts in REFUSALS.items():
        names = {f for _, f, _, _ in string.Formatter().parse(texts.log) if f}
        filled = refusal_text(code, {n: "X-1" for n in names})
        assert "{" not in filled, code
    assert refusal_text(Refusal.RATED, {"case_no": "C-7"}) == "case C-7 was already rated"


def test_a_fault_value_from_outside_finds_its_texts_or_none() -> None:
    assert fault_texts("paper_out") is FAULTS[Fault.PAPER_OUT]
    assert fault_texts("meteor_strike") is None  # a newer counter's code: no crash
