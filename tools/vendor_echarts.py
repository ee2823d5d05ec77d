"""Put ECharts into hq/static/vendor/echarts/ (gitignored) from the npm registry, checked
against the pinned sha512: the console serves its charts itself (police networks have no
CDN). ./setup.sh runs it; without npm the report pages show their tables only.

    python tools/vendor_echarts.py
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "5.6.0"
INTEGRITY = ("oTbVTsXfKuEhxftHqL5xprgLoc0k7uScAwtryCgWF6hPYFLRwOUHiFmHGCBKP5NPFNkDVopOieyUqYGH8"
             "Fa3kA==")
DEST = Path(__file__).resolve().parents[1] / "hq" / "static" / "vendor" / "echarts"


def main() -> int:
    target = DEST / "echarts.min.js"
    stamp = DEST / "VERSION"
    if target.exists() and stamp.exists() and stamp.read_text().strip() == VERSION:
        return 0
    npm = shutil.which("npm")
    if npm is None:
        print("vendor_echarts: no npm here; the console's charts stay off", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "pack", "--silent", f"echarts@{VERSION}"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        tgz = Path(tmp) / f"echarts-{VERSION}.tgz"
        digest = base64.b64encode(hashlib.sha512(tgz.read_bytes()).digest()).decode()
        if digest != INTEGRITY:
            print(f"vendor_echarts: {tgz.name} does not match the pinned sha512",
                  file=sys.stderr)
            return 1
        with tarfile.open(tgz) as tar:
            member = tar.extractfile("package/dist/echarts.min.js")
            assert member is not None
            DEST.mkdir(parents=True, exist_ok=True)
            target.write_bytes(member.read())
            lic = tar.extractfile("package/LICENSE")
            if lic is not None:
                (DEST / "LICENSE").write_bytes(lic.read())
    stamp.write_text(VERSION + "\n")
    print(f"vendor_echarts: ECharts {VERSION} in {DEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
