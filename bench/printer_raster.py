"""Benchmark: render and encode a full Chinese checklist slip (一次性告知单) in raster mode.

    /tmp/dev/bin/python bench/printer_raster.py [--runs 30]

Measures job -> ESC/POS bytes (layout, Pillow text drawing, 1-bit packing, GS v 0 bands,
native QR) for 80 mm and 58 mm paper; the first run includes loading the fonts. Native
mode (GB18030 text, no drawing) is measured in the same run as the baseline. Target:
raster <= 150 ms per slip on the development machine (issue 4).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from device.printjobs import PrintJob
from drivers.printer.layout import WIDTH_DOTS, Profile, job_bytes

SLIP = PrintJob("checklist", {
    "station": "深圳市公安局示范分局示范派出所",
    "service_name": "户口迁入（投靠亲属：夫妻投靠、子女投靠父母、父母投靠子女）",
    "service_code": "hukou.move_in",
    "materials": [
        {"name": "迁入地居民户口簿", "original": True},
        {"name": "申请人及被投靠人居民身份证", "original": True, "copies": 1},
        {"name": "亲属关系证明", "note": "结婚证、出生医学证明或公证的亲属关系证明"},
        {"name": "近期免冠彩色照片", "note": "白底，二寸，2张"},
        {"name": "房屋产权证明或经登记备案的租赁合同", "original": True, "copies": 1},
        {"name": "户口迁移证", "note": "省外迁入的，凭准予迁入证明到迁出地开具"},
        {"name": "婚姻状况证明", "note": "夫妻投靠的，结婚须满两年"},
        {"name": "监护人同意书", "note": "未满十八周岁的，由监护人签字"},
        {"name": "居住证", "note": "在本市连续居住满一年的证明"},
        {"name": "户主同意入户的书面意见", "note": "投靠非直系亲属户的"},
    ],
    "notes": ["所有复印件请使用A4纸", "委托他人办理的，另需委托书及受托人身份证",
              "材料不全的，窗口一次性书面告知需补正的全部内容"],
    "time_limit": "5个工作日（省外迁入20个工作日）",
    "consult_phone": "0755-12345", "catalogue_version": "2026.11-3",
    "issued_at": "2026-11-26 09:40", "qr": "https://g.example.cn/guide/hukou.move_in",
})


def measure(profile: Profile, runs: int) -> tuple[float, float, float, int]:
    fonts = None
    t0 = time.perf_counter()
    if profile.chinese == "raster":
        fonts = profile.fonts()
    data = job_bytes(SLIP, profile, fonts)
    cold = (time.perf_counter() - t0) * 1000
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        job_bytes(SLIP, profile, fonts)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return cold, statistics.median(times), times[int(len(times) * 0.95) - 1], len(data)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    print(f"{'mode':<8} {'paper':>5} {'first ms':>9} {'median ms':>10} {'p95 ms':>7} "
          f"{'bytes':>7}")
    worst = 0.0
    for mode in ("raster", "native"):
        for mm in (80, 58):
            p = Profile(width_dots=WIDTH_DOTS[mm], chinese=mode)  # type: ignore[arg-type]
            cold, med, p95, size = measure(p, args.runs)
            if mode == "raster":
                worst = max(worst, med)
            print(f"{mode:<8} {mm:>4}mm {cold:>9.1f} {med:>10.1f} {p95:>7.1f} {size:>7}")
    ok = worst <= 150
    print(f"raster median worst {worst:.1f} ms: {'within' if ok else 'OVER'} the 150 ms target")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
