"""The one line-breaking rule (device/linebreak.py), with a column measure (ASCII 1,
Chinese 2) so each case is exact; the screens' rendered lines are checked under Xvfb in
tests/ui/test_layout.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.linebreak import breaks_allowed, fit, strip_markup, violations, wrap


def cols(text: str) -> float:
    return sum(1 if ord(c) < 0x80 else 2 for c in strip_markup(text))


def test_no_line_starts_with_closing_punctuation() -> None:
    text = "年满十六周岁的公民应当申领居民身份证；未满十六周岁的可以申领。"
    lines = wrap(text, 58, cols)
    # and no character alone on the last line: 申 goes down with 领。
    assert lines == ["年满十六周岁的公民应当申领居民身份证；未满十六周岁的可以",
                     "申领。"]
    assert violations(lines, text) == []


def test_a_bullet_or_number_never_sits_alone() -> None:
    for text in ("• 具有本地常住户口的中国公民", "1. 居民户口簿（原件）", "2、照片"):
        lines = wrap(text, 6, cols)
        assert len(strip_markup(lines[0]).strip()) > 2, lines
        assert violations(lines, text) == []


def test_phone_numbers_and_codes_never_break() -> None:
    assert wrap("电话：0755-8000 0001", 16, cols) == ["电话：", "0755-8000 0001"]
    assert wrap("版本 2026.11-default.1 生效", 18, cols) == ["版本", "2026.11-default.1", "生效"]
    assert wrap("周一至周五 9:00-12:00, 14:00-17:30", 20, cols) == [
        "周一至周五", "9:00-12:00,", "14:00-17:30"]
    assert wrap("工本费20元", 9, cols) == ["工本费", "20元"]


def test_no_single_character_alone_on_the_last_line() -> None:
    text = "未找到预约码 12345678，请核对后重试，或直接取号"
    assert wrap(text, 46, cols) == ["未找到预约码 12345678，请核对后重试，或直接", "取号"]
    assert wrap("一二三四五", 8, cols) == ["一二三", "四五"]


def test_opening_punctuation_stays_with_what_follows() -> None:
    lines = wrap("居民户口簿（原件）", 11, cols)
    assert lines == ["居民户口簿", "（原件）"]


def test_buttons_break_only_between_phrases_and_shrink_to_fit() -> None:
    assert wrap("居民身份证丢失补领、损坏换领", 20, cols, phrases=True) == [
        "居民身份证丢失补领、", "损坏换领"]
    # 非常不满意 at 2 columns per character is 10 wide: at 8 it must get smaller, not split.
    size, lines = fit("非常不满意", 8, 10, [1.0, 0.9, 0.8, 0.7],
                      lambda s: (lambda t: cols(t) * s), lambda s: 1.0)
    assert (size, lines) == (0.8, ["非常不满意"])
    assert violations(["非常不满", "意"], "非常不满意", phrases=True)


def test_markup_is_zero_width_and_stays_with_its_text() -> None:
    text = "本月本窗口满意率：[b][color=#ffd600]66.7%[/color][/b]（3 次评价）"
    lines = wrap(text, 30, cols)
    assert "".join(strip_markup(x) for x in lines) == strip_markup(text).replace(" 次", " 次")
    assert all(cols(x) <= 30 for x in lines)
    assert violations(lines, text) == []


def test_violations_name_each_defect() -> None:
    assert violations(["一二三", "。四"], "一二三。四")[0].startswith("line 2 starts with")
    assert "list marker alone" in violations(["•", "具有"], "• 具有")[0]
    assert "break inside" in violations(["0755-8000", "0001"], "0755-8000 0001")[0]


def test_continuation_lines_get_the_indent_or_the_hang() -> None:
    assert wrap("1. 亲属关系证明：结婚证或出生医学证明", 32, cols, indent="   ") == [
        "1. 亲属关系证明：结婚证或出生医", "   学证明"]
    assert wrap("一二三四五六七八九十", 10, cols, hang=4) == ["一二三四五", "六七八", "九十"]


CJK = st.sampled_from(list("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就"
                           "。，、；：？！（）《》“”•0123456789- "))


@settings(max_examples=300, deadline=None)
@given(text=st.text(CJK, max_size=80), width=st.integers(8, 40))
def test_any_text_wraps_within_width_by_the_rule(text: str, width: int) -> None:
    lines = wrap(text, width, cols)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    allowed = breaks_allowed(text)
    assert allowed  # offsets exist for every paragraph
    for line in lines:
        # Only a unit wider than the whole line (e.g. a long number) may overflow, and
        # then it is broken between characters: never wider than the line.
        assert cols(line) <= width, (line, width)


@pytest.mark.parametrize("text", ["", "\n", "一\n\n二"])
def test_empty_and_blank_paragraphs_are_kept(text: str) -> None:
    assert len(wrap(text, 10, cols)) == text.count("\n") + 1
