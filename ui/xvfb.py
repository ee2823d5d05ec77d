"""A private Xvfb display for tests, screenshots and the benchmark on machines without one.

``Xvfb -displayfd`` picks a free display number itself and writes it to a pipe when it is
ready, so there is no guessing and no waiting loop.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import shutil
import signal
import subprocess

from device.errors import UiError


def _die_with_parent() -> None:
    # A test run killed by a timeout must not leave its X server behind.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Xvfb:
    def __init__(self, width: int = 1280, height: int = 800) -> None:
        self.size = f"{width}x{height}x24"
        self.proc: subprocess.Popen[bytes] | None = None
        self.display = ""

    def start(self, timeout: float = 15.0) -> str:
        exe = shutil.which("Xvfb")
        if exe is None:
            raise UiError("Xvfb not found. Fix: apt install xvfb (setup.sh does)")
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            [exe, "-displayfd", str(write), "-screen", "0", self.size, "-nolisten", "tcp",
             "-noreset"], pass_fds=(write,), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        os.close(write)
        try:
            ready, _, _ = select.select([read], [], [], timeout)
            number = os.read(read, 32).decode().strip() if ready else ""
        finally:
            os.close(read)
        if not number:
            self.stop()
            raise UiError(f"Xvfb did not report a display within {timeout:.0f} s")
        self.display = f":{number}"
        return self.display

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __enter__(self) -> Xvfb:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def ensure_display() -> Xvfb | None:
    """Start a private Xvfb when there is no display; returns it (the caller stops it)."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    x = Xvfb()
    os.environ["DISPLAY"] = x.start()
    return x
