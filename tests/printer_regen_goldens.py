"""Regenerate the printer golden files (by hand, never in CI):

    /tmp/dev/bin/python -m tests.printer_regen_goldens

Then review ``git diff tests/golden/printer/*.txt`` (the decoded view of each job) and
commit the .bin.gz with it. The raster goldens depend on the font files recorded in
fonts.json and the pinned Pillow; elsewhere those tests skip.
"""

from __future__ import annotations

import json

from drivers.printer.layout import WIDTH_DOTS, Profile, job_bytes
from tests.printer_support import COMBOS, GOLDEN, JOBS, font_fingerprint, golden_name, write_golden


def main() -> None:
    for kind, mode, mm in COMBOS:
        profile = Profile(width_dots=WIDTH_DOTS[mm], chinese=mode)  # type: ignore[arg-type]
        write_golden(golden_name(kind, mode, mm), job_bytes(JOBS[kind], profile))
    (GOLDEN / "fonts.json").write_text(json.dumps(font_fingerprint(), indent=1) + "\n")
    print(f"wrote {len(COMBOS)} goldens to {GOLDEN}")


if __name__ == "__main__":
    main()
