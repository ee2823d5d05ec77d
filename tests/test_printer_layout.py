"""Every print job, both Chinese modes, both paper widths: exact bytes, and the Chinese
read back out of them."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw, ImageFont

from device.printjobs import JOB_KINDS, PrintJob
from drivers.printer import commands as cmd
from drivers.printer.chinese import FALLBACK_SEARCH, native_ok
from drivers.printer.decode import Item, parse, raster_image
from drivers.printer.layout import WIDTH_DOTS, Profile, job_bytes, wrap_columns
from tests.printer_support import (
    COMBOS,
    JOBS,
    RARE_EXT_A,
    RARE_EXT_B,
    fonts_match_goldens,
    golden_name,
    read_golden,
)

MICROHEI = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
HANAZONO_A = FALLBACK_SEARCH[0]


def profile(mode: str, mm: int, **kw: object) -> Profile:
    return Profile(width_dots=WIDTH_DOTS[mm], chinese=mode, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- goldens


@pytest.mark.parametrize(("kind", "mode", "mm"), COMBOS,
                         ids=[golden_name(*c) for c in COMBOS])
def test_golden_bytes(kind: str, mode: str, mm: int) -> None:
    raster_involved = mode == "raster" or any(
        not native_ok(c) for c in str(JOBS[kind].data))
    if raster_involved and not fonts_match_goldens():
        pytest.skip("raster goldens were made with other font files (tests/golden/printer/"
                    "fonts.json); the decode tests below still check these jobs")
    got = job_bytes(JOBS[kind], profile(mode, mm))
    want = read_golden(golden_name(kind, mode, mm))
    if got != want:  # show where, in decoded form, not a 40 KB bytes diff
        g, w = parse(got)[0], parse(want)[0]
        first = next((i for i, (a, b) in enumerate(zip(g, w, strict=False)) if a != b),
                     min(len(g), len(w)))
        pytest.fail(f"bytes differ from golden at item {first}: got {g[first:first + 3]!r}"
                    f" want {w[first:first + 3]!r}")


def _gb(text: str) -> bytes:
    return b"\x1c&" + text.encode("gb18030") + b"\x1c."


@pytest.mark.parametrize("mm", [58, 80])
def test_ticket_native_bytes_stated(mm: int) -> None:
    """The ticket, command by command, written out independently of the layout code."""
    rule = b"-" * (32 if mm == 58 else 48) + b"\n"
    qr_module = b"\x05" if mm == 58 else b"\x06"
    url = b"https://q.example.cn/t/A023"
    want = b"".join([
        b"\x1b@",                                  # ESC @
        b"\x1ba\x01", b"\x1bE\x01", _gb("示范派出所"), b"\n",   # centre, bold
        b"\x1bE\x00", _gb("排队号"), b"\n",
        b"\x1bE\x01", b"\x1d!\x11", b"A023\n",     # GS ! 0x11: double width and height
        b"\x1ba\x00", b"\x1bE\x00", b"\x1d!\x00", rule,
        _gb("办理业务：居民身份证换领"), b"\n",
        _gb("您前面还有 3 人等候"), b"\n",
        _gb("预计等候：约 24 分钟"), b"\n",
        _gb("请留意叫号，到 1 号窗口办理"), b"\n",
        _gb("取号时间：2026-11-26 09:31"), b"\n",
        b"\x1ba\x01",
        b"\x1d(k\x04\x001A2\x00",                  # QR model 2
        b"\x1d(k\x03\x001C" + qr_module,           # module size
        b"\x1d(k\x03\x001E1",                      # error correction M
        b"\x1d(k" + bytes([len(url) + 3, 0]) + b"1P0" + url,
        b"\x1d(k\x03\x001Q0", b"\n",               # print the symbol
        _gb("扫码查看排队进度"), b"\n",
        _gb("过号请重新取号，谢谢配合"), b"\n",
        b"\x1dVB\x03",                             # GS V 66 3: feed and partial cut
    ])
    assert job_bytes(JOBS["ticket"], profile("native", mm)) == want


# --------------------------------------------------------------------------- read back


def _flat(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _has_ink(item: Item) -> bool:
    return any(item.value[2])


def _expected_phrases(job: PrintJob) -> list[str]:
    out = []
    for key, value in job.data.items():
        if key == "service_code":  # for the event, not the paper
            continue
        for v in (value if isinstance(value, list) else [value]):
            text = v.get("name") if isinstance(v, dict) else v
            if isinstance(text, str) and not text.startswith("http"):
                out.append(text)
    return out


@pytest.mark.parametrize("mm", [58, 80])
@pytest.mark.parametrize("kind", JOB_KINDS)
def test_native_chinese_survives(kind: str, mm: int) -> None:
    items, _ = parse(job_bytes(JOBS[kind], profile("native", mm)))
    text = _flat("".join(i.value for i in items if i.kind == "text"))
    images = [i for i in items if i.kind == "raster"]
    for phrase in _expected_phrases(JOBS[kind]):
        if all(native_ok(c) for c in phrase):
            assert _flat(phrase) in text, phrase
        else:  # the line with the rare character went as an image, with ink
            assert _flat(phrase) not in text
            assert images and all(_has_ink(i) for i in images)
    # Chinese mode is always left again, and every Chinese byte was inside it
    assert [i.kind for i in items if i.kind in ("cn_on", "cn_off")] == \
        ["cn_on", "cn_off"] * (sum(i.kind == "cn_on" for i in items))
    assert items[0].kind == "init" and items[-1].kind == "cut"
    qr = [i.value["data"] for i in items if i.kind == "qr"]
    assert qr == ([JOBS[kind].data["qr"]] if "qr" in JOBS[kind].data else [])


def _render_independently(text: str, width: int, px: int, bold: bool, centre: bool,
                          fonts: dict[str, str] | None = None) -> Image.Image:
    """Draw one line the plain Pillow way (the test's own code, not the driver's)."""
    line_h = 60 if px == 48 else 30
    img = Image.new("1", (width, line_h), 0)
    d = ImageDraw.Draw(img)
    runs: list[tuple[str, str]] = []
    for c in text:  # consecutive characters of one font are drawn in one call
        path = fonts.get(c, MICROHEI) if fonts else MICROHEI
        if runs and runs[-1][0] == path:
            runs[-1] = (path, runs[-1][1] + c)
        else:
            runs.append((path, c))
    basic = ImageFont.Layout.BASIC  # the driver's engine (no shaping needed for CJK)
    total = sum(ImageFont.truetype(p, px, layout_engine=basic).getlength(r) for p, r in runs)
    x = (width - total) / 2 if centre else 0.0
    for path, run in runs:
        f = ImageFont.truetype(path, px, layout_engine=basic)
        d.text((x, (line_h - px) // 2), run, font=f, fill=1,
               stroke_width=1 if bold else 0, stroke_fill=1)
        x += f.getlength(run)
    return img


def _similar(a: Image.Image, b: Image.Image) -> float:
    """Share of ink dots in either image that are ink in both (1.0 = identical)."""
    both = ImageChops.logical_and(a, b).histogram()[255]
    either = ImageChops.logical_or(a, b).histogram()[255]
    return both / either if either else 1.0


TITLES = {"ticket": None, "checklist": "一次性告知单", "notice": "补正材料告知书",
          "refusal": "不予受理告知书", "receipt": "受理回执", "referral": "转办告知书",
          "intake": "户口代办受理回执", "home_visit": "上门服务预约单"}


@pytest.mark.parametrize("mm", [58, 80])
@pytest.mark.parametrize("kind", JOB_KINDS)
def test_raster_chinese_survives(kind: str, mm: int) -> None:
    width = WIDTH_DOTS[mm]
    items, _ = parse(job_bytes(JOBS[kind], profile("raster", mm)))
    assert not [i for i in items if i.kind in ("text", "cn_on")]  # no ROM font used
    images = [i for i in items if i.kind == "raster"]
    assert images and all(_has_ink(i) for i in images)
    assert all(i.value[0] * 8 == width for i in images)
    title = TITLES[kind]
    if title:  # the first line of the first image is the title, drawn big and bold
        top = raster_image(images[0]).crop((0, 0, width, 60)).convert("1")
        want = _render_independently(title, width, 48, True, True)
        assert _similar(top, want) > 0.95
        assert _similar(top, _render_independently("受理回执" if title != "受理回执"
                                                    else "一次性告知单", width, 48, True,
                                                    True)) < 0.5


@pytest.mark.parametrize("mm", [58, 80])
def test_rare_name_character_goes_raster_in_native_mode(mm: int) -> None:
    width = WIDTH_DOTS[mm]
    items, _ = parse(job_bytes(JOBS["receipt"], profile("native", mm)))
    images = [i for i in items if i.kind == "raster"]
    assert len(images) == 1  # only the officer line; everything else stays native
    line = f"经办民警：王{RARE_EXT_B}（000002）"
    got = raster_image(images[0]).convert("1")
    want = _render_independently(line, width, 24, False, False, {RARE_EXT_B: HANAZONO_A})
    assert _similar(got, want) > 0.95
    # drawn with the fallback font, not as the main font's empty box
    boxed = _render_independently(line, width, 24, False, False)
    assert _similar(got, boxed) < _similar(got, want)


def test_extension_a_two_byte_gb18030_still_goes_raster() -> None:
    # 䶮 is FE9F in GB18030 (two bytes) but not in GBK: no ROM font has it.
    assert len(RARE_EXT_A.encode("gb18030")) == 2 and not native_ok(RARE_EXT_A)
    items, _ = parse(job_bytes(JOBS["notice"], profile("native", 80)))
    assert RARE_EXT_A not in "".join(i.value for i in items if i.kind == "text")
    assert sum(i.kind == "raster" for i in items) == 1


def test_gb2312_rom_sends_gbk_only_characters_as_raster() -> None:
    job = PrintJob("ticket", {"number": "A1", "service_name": "朱镕基路分局"})  # 镕: GBK only
    gbk = parse(job_bytes(job, profile("native", 80)))[0]
    gb2312 = parse(job_bytes(job, profile("native", 80, charset="gb2312")))[0]
    assert not [i for i in gbk if i.kind == "raster"]
    assert len([i for i in gb2312 if i.kind == "raster"]) == 1


def test_raster_qr_profile_sends_the_code_as_an_image() -> None:
    items = parse(job_bytes(JOBS["ticket"], profile("native", 58, qr="raster")))[0]
    assert not [i for i in items if i.kind == "qr"]
    assert len([i for i in items if i.kind == "raster"]) == 1


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize("mode", ["native", "raster"])
@pytest.mark.parametrize("kind", JOB_KINDS)
def test_empty_data_still_prints_a_slip(kind: str, mode: str) -> None:
    items, _ = parse(job_bytes(PrintJob(kind, {}), profile(mode, 58)))
    assert items[0].kind == "init" and items[-1].kind == "cut"


def test_job_data_cannot_inject_printer_commands() -> None:
    evil = "A1\x1b@\x1dV\x00\x10\x14\x08"
    job = PrintJob("ticket", {"number": evil, "service_name": "换\n领\t证"})
    items, _ = parse(job_bytes(job, profile("native", 80)))
    assert [i.kind for i in items].count("init") == 1
    assert [i.kind for i in items].count("cut") == 1
    assert not [i for i in items if i.kind in ("clear", "status")]


@pytest.mark.parametrize("mode", ["native", "raster"])
def test_surrogates_private_use_and_unassigned_still_print(mode: str) -> None:
    job = PrintJob("ticket", {"number": "A\ud800\ufeff1", "service_name": "\U0010fffd\ue000办"})
    items, _ = parse(job_bytes(job, profile(mode, 80)))
    assert items[-1].kind == "cut"
    if mode == "native":  # the surrogate and the BOM became spaces; the line stays native
        assert "A  1" in [i.value for i in items if i.kind == "text"]


_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=60),
                    st.lists(st.one_of(st.text(max_size=30), st.dictionaries(
                        st.sampled_from(["name", "copies", "note", "original"]),
                        st.one_of(st.text(max_size=20), st.integers(), st.booleans()),
                        max_size=4)), max_size=5))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(JOB_KINDS), st.dictionaries(st.sampled_from(
    ["number", "service_name", "people_ahead", "window", "qr", "materials", "missing",
     "reason", "legal_basis", "promised_date", "officer", "case_no", "station", "notes"]),
    _values, max_size=8))
def test_any_data_gives_a_valid_stream(kind: str, data: dict[str, object]) -> None:
    items, _ = parse(job_bytes(PrintJob(kind, data), profile("native", 58)))
    assert items[-1].kind == "cut"
    for it in items:  # no native line is wider than the paper
        if it.kind == "text":
            assert sum(1 if ord(c) < 0x80 else 2 for c in it.value) <= 32


def test_wrap_keeps_closing_punctuation_off_the_line_start() -> None:
    lines = wrap_columns("请妥善保管本回执，凭回执领取证件。", 32)
    assert lines == ["请妥善保管本回执，凭回执领取证", "件。"]
    assert wrap_columns("1. 亲属关系证明：结婚证或出生医学证明", 32, hang=3)[1].startswith("   ")


def test_commands_module_bytes() -> None:
    assert cmd.status_query(4) == b"\x10\x04\x04"
    assert cmd.size(2, 2) == b"\x1d!\x11"
    with pytest.raises(ValueError):
        cmd.raster(1, 2, b"\x00")


# --------------------------------------------------------------------------- one trip


def _native_text(job: PrintJob, mm: int) -> list[str]:
    """The slip's lines as the printer's ROM font prints them (decoded back from GB18030)."""
    items, _ = parse(job_bytes(job, profile("native", mm)))
    text = "".join(i.value if i.kind == "text" else ("\n" if i.kind in ("lf", "raster") else "")
                   for i in items)
    return text.split("\n")


@pytest.mark.parametrize("mm", [58, 80])
def test_checklist_tells_everything_needed_for_one_trip(mm: int) -> None:
    lines = _native_text(JOBS["checklist"], mm)
    flat = _flat("".join(lines))
    data = JOBS["checklist"].data
    for condition in data["conditions"]:
        assert _flat(condition) in flat, condition
    for phrase in ("居民户口簿", "居民身份证（原件、复印件1份）", "迁移证（省外迁入）",
                   "所需材料（共6项）"):
        assert _flat(phrase) in flat, phrase
    # fees: what, how much, and by which rule
    for phrase in ("收费标准：", "户口簿工本费：免费", "居民身份证工本费（换领）：20元",
                   "依据：财政部国家发展改革委财税〔2012〕97号", "依据：发改价格〔2003〕2322号"):
        assert _flat(phrase) in flat, phrase
    # where and when, whom to ask, which guide
    for phrase in ("办理地点：示范派出所1号窗口（户籍业务窗口）",
                   "办公时间：周一至周五9:00-12:00,14:00-17:30；周六9:00-12:00",
                   "办理时限：5个工作日", "指南版本：2026.11-3"):
        assert _flat(phrase) in flat, phrase
    # the phone is printed whole on one line, never split across two
    assert any("咨询电话：0755-8000 0001" in line for line in lines)


def test_checklist_of_a_free_service_says_so() -> None:
    job = PrintJob("checklist", {"service_name": "出生登记", "materials": ["出生医学证明"],
                                 "fees": []})
    assert "收费标准：" in _native_text(job, 80) and "不收费" in "".join(_native_text(job, 80))


@pytest.mark.parametrize(("flags", "mark"), [
    ({"green_channel": True}, "【绿色通道 优先办理】"),
    ({"appointment": True}, "【预约签到 优先办理】"),
    ({}, None),
])
def test_ticket_marks_priority_and_names_station_window_and_service(flags, mark) -> None:
    job = PrintJob("ticket", {"number": "A024", "service_name": "出生登记", "window": 2,
                              "station": "示范派出所", **flags})
    lines = _native_text(job, 58)
    assert "示范派出所" in lines and "办理业务：出生登记" in lines
    assert "请留意叫号，到 2 号窗口办理" in lines
    marks = [line for line in lines if "优先办理" in line]
    assert marks == ([mark] if mark else [])


def test_wrap_keeps_numbers_phones_and_list_markers_whole() -> None:
    assert wrap_columns("咨询电话：0755-8000 0001 请在工作时间拨打", 24) == [
        "咨询电话：0755-8000 0001", "请在工作时间拨打"]
    assert wrap_columns("· 居民身份证工本费（换领）：20元", 30, hang=2) == [
        "· 居民身份证工本费（换领）：", "  20元"]
