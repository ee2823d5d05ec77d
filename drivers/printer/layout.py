"""Print jobs to ESC/POS bytes, for 58 mm (384 dots) and 80 mm (576 dots) paper.

A job's ``data`` dict becomes a short list of blocks (text lines, rules, a QR code, the
cut; :mod:`.slips` says which for each kind), and this module turns the blocks into bytes
in one of two Chinese modes:

* native: the printer's own Chinese font (FS & ... FS . around GB18030 bytes); a line with
  a character the ROM font cannot carry is drawn as a raster image instead;
* raster: every text line is drawn with Pillow and sent as GS v 0 images.

The output is a pure function of the job and the profile, so the tests can compare bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from device import linebreak
from device.config import PrinterSection
from device.printjobs import PrintJob
from drivers.printer import commands as cmd
from drivers.printer.blocks import Blank, Block, Cut, Qr, Rule, Text
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
from drivers.printer.slips import blocks_for

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
