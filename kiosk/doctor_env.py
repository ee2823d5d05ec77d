"""What the doctor's checks share: a check's result and the world they look at.

:class:`Env` is every outside fact a check reads (clock, disks, commands, systemd, the
device and broker probes), so the tests replace one part at a time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASS


def _run(cmd: Sequence[str]) -> str | None:
    """stdout of a command, or None when it is missing or fails."""
    if shutil.which(cmd[0]) is None:
        return None
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _fs_type(path: Path) -> str:
    """The file system type holding ``path`` (from /proc/self/mountinfo; "" if unknown)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return ""
    target = str(path.resolve())
    best, fstype = "", ""
    for line in lines:
        left, _, right = line.partition(" - ")
        parts, rparts = left.split(), right.split()
        if len(parts) < 5 or not rparts:
            continue
        mount = parts[4].replace("\\040", " ")
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, fstype = mount, rparts[0]
    return fstype


@dataclass
class Env:
    """The world the doctor looks at. Tests replace parts (a clock, a full disk...)."""

    clock: Callable[[], float] = time.time
    disk_usage: Callable[[Path], Any] = shutil.disk_usage
    run: Callable[[Sequence[str]], str | None] = _run
    which: Callable[[str], str | None] = shutil.which
    fs_type: Callable[[Path], str] = _fs_type
    systemd: bool = field(default_factory=lambda: os.path.isdir("/run/systemd/system"))
    probes: Callable[[], Any] = lambda: _load_probes()
    broker_probe: Callable[[], Any] = lambda: _load_broker_probe()


# Imported when the check runs, not with the doctor: a venv with a broken hardware or
# MQTT library then reports FAIL with the fix instead of `kiosk doctor` not starting.
def _load_probes() -> Any:
    from drivers import probes

    return probes


def _load_broker_probe() -> Any:
    from sync import probe

    return probe
