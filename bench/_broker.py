"""A throwaway Mosquitto for the benchmarks (127.0.0.1, free port, temp dir)."""

from __future__ import annotations

import os
import pwd
import queue
import resource
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    def __init__(self, extra: str = "", nofile: int = 65536) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-broker-"))
        self.port = free_port()
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            "max_connections -1\nmax_inflight_messages 1000\nmax_queued_messages 0\n"
            "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
            "log_type information\nconnection_messages false\n" + extra)

        self.conf, self.nofile = conf, nofile
        self._spawn()

    def _spawn(self) -> None:
        nofile = self.nofile

        def limits() -> None:  # mosquitto needs one fd per client
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            want = nofile if hard == resource.RLIM_INFINITY else min(nofile, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=limits)
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            assert self.proc.stderr is not None
            for raw in self.proc.stderr:
                lines.put(raw.decode("utf-8", "replace"))
            lines.put("")

        threading.Thread(target=pump, daemon=True).start()
        while True:
            line = lines.get(timeout=10)
            if not line:
                raise RuntimeError("mosquitto exited")
            if " running" in line:
                break

    def kill(self) -> None:
        """SIGKILL: no persistence file written, every connection dropped at once."""
        self.proc.kill()
        self.proc.wait(timeout=10)

    def restart(self) -> None:
        self._spawn()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
