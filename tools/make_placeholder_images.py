"""Generate the placeholder images in ui/images: an abstract officer silhouette (never a
real person) and sample forms (样表) for the service guide.

    python tools/make_placeholder_images.py

A site replaces the photo per officer (roster photo = path) and the forms by file name.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parents[1] / "ui" / "images"
FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


def silhouette(path: Path) -> None:
    w, h = 380, 460
    img = Image.new("RGB", (w, h), (38, 70, 120))
    d = ImageDraw.Draw(img)
    for y in range(h):  # soft vertical gradient
        c = 38 + y * 40 // h
        d.line([(0, y), (w, y)], fill=(c, c + 32, c + 82))
    d.ellipse([w / 2 - 80, 70, w / 2 + 80, 250], fill=(205, 215, 230))  # head
    d.rounded_rectangle([w / 2 - 150, 270, w / 2 + 150, h + 60], radius=110,
                        fill=(25, 45, 90))  # shoulders, uniform blue
    d.polygon([(w / 2 - 40, 270), (w / 2 + 40, 270), (w / 2, 340)], fill=(205, 215, 230))
    d.rectangle([w / 2 - 60, 360, w / 2 - 20, 390], fill=(255, 214, 0))  # badge
    font = ImageFont.truetype(FONT, 26)
    d.text((w / 2, h - 28), "照片示意", font=font, fill=(255, 255, 255), anchor="mm")
    img.save(path, optimize=True)


def form(path: Path, title: str, rows: list[str]) -> None:
    w, h = 840, 600
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    big, small = ImageFont.truetype(FONT, 36), ImageFont.truetype(FONT, 24)
    d.text((w / 2, 50), title, font=big, fill=(0, 0, 0), anchor="mm")
    d.text((w - 40, 50), "样表", font=small, fill=(200, 0, 0), anchor="rm")
    top, left, right, rh = 100, 40, w - 40, 60
    for i, label in enumerate(rows):
        y = top + i * rh
        d.rectangle([left, y, right, y + rh], outline=(0, 0, 0), width=2)
        d.line([(left + 220, y), (left + 220, y + rh)], fill=(0, 0, 0), width=2)
        d.text((left + 14, y + rh / 2), label, font=small, fill=(0, 0, 0), anchor="lm")
        d.text((left + 240, y + rh / 2), "（请用黑色签字笔填写）", font=small,
               fill=(150, 150, 150), anchor="lm")
    img.save(path, optimize=True)


# The sample forms the guide shows: file, title, the fields a citizen fills in.
FORMS = (
    ("id_card_application.png", "居民身份证申领登记表",
     ["姓名", "性别", "民族", "出生日期", "公民身份号码", "常住户口所在地", "申领原因",
      "联系电话"]),
    ("birth_registration.png", "出生登记申报表",
     ["婴儿姓名", "性别", "出生日期", "出生地点", "父亲姓名", "母亲姓名", "随父/随母", "申报人"]),
    ("household_move.png", "户口迁移申请表",
     ["姓名", "公民身份号码", "迁出地", "迁入地", "迁移原因", "与户主关系", "申请人签名", "日期"]),
    ("change_application.png", "户口登记项目变更更正申请表",
     ["姓名", "公民身份号码", "变更项目", "原登记内容", "变更后内容", "变更原因", "证明材料",
      "申请人签名"]),
)


def main() -> None:
    silhouette(OUT / "officer_placeholder.png")
    forms = OUT / "forms"
    forms.mkdir(parents=True, exist_ok=True)
    for name, title, fields in FORMS:
        form(forms / name, title, fields)

if __name__ == "__main__":
    main()
