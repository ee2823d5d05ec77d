"""The host side of the boot test (provision/boot_test.py): a throwaway CA, a TLS
Mosquitto on 127.0.0.1 with passwords and a subscriber playing HQ, a one-answer SNTP
server, the boot partition's offset in the image, and the table of checks."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import queue
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import paho.mqtt.client as mqtt

NTP_EPOCH = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)


@dataclass(frozen=True)
class Tls:
    ca: Path
    cert: Path
    key: Path


def make_tls(d: Path) -> Tls:
    """A CA and a server certificate valid for the host as both sides see it: 127.0.0.1
    (the subscriber) and 10.0.2.2 (the guest, through QEMU's user network)."""
    d.mkdir(parents=True)

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, cwd=d, capture_output=True)

    ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=boot-test CA")
    ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=boot-test broker")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,IP:10.0.2.2\n")
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")
    for name in ("ca.key", "server.key"):
        (d / name).chmod(0o644)  # mosquitto drops root; the files are throwaway
    return Tls(d / "ca.crt", d / "server.crt", d / "server.key")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """Mosquitto on 127.0.0.1 (TLS, passwords) and an HQ-side subscriber that collects the
    event types the counter publishes on kiosk/v1/{site}/{device}/events."""

    def __init__(self, workdir: Path, tls: Tls, site: str, device: str) -> None:
        self.workdir, self.tls, self.site, self.device = workdir, tls, site, device
        self.port = free_port()
        self.device_password = os.urandom(12).hex()
        self.hq_password = os.urandom(12).hex()
        self.types: list[str] = []
        self.changed = threading.Condition()
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: mqtt.Client | None = None

    def __enter__(self) -> Broker:
        self.workdir.mkdir(parents=True)
        pw = self.workdir / "passwd"
        subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), f"{self.site}.{self.device}",
                        self.device_password], check=True, capture_output=True)
        subprocess.run(["mosquitto_passwd", "-b", str(pw), "hq", self.hq_password],
                       check=True, capture_output=True)
        pw.chmod(0o644)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
            f"listener {self.port} 127.0.0.1\n"
            f"cafile {self.tls.ca}\ncertfile {self.tls.cert}\nkeyfile {self.tls.key}\n"
            f"allow_anonymous false\npassword_file {pw}\n"
            "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
            "log_type information\n")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        lines: queue.Queue[str] = queue.Queue()
        log = (self.workdir / "mosquitto.log").open("w")
        proc = self.proc

        def pump() -> None:
            assert proc.stderr is not None
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace")
                log.write(line)
                log.flush()
                lines.put(line)
            lines.put("")

        threading.Thread(target=pump, daemon=True).start()
        while True:  # up when it logs "running"; read with a deadline, no sleeping
            line = lines.get(timeout=15)
            if not line:
                raise RuntimeError(f"mosquitto exited: see {self.workdir / 'mosquitto.log'}")
            if " running" in line:
                break
        self._subscribe()
        return self

    def _subscribe(self) -> None:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="boot-test-hq")
        c.username_pw_set("hq", self.hq_password)
        c.tls_set(ca_certs=str(self.tls.ca))
        subscribed = threading.Event()
        topic = f"kiosk/v1/{self.site}/{self.device}/events"

        def on_connect(client, userdata, flags, reason_code, properties):
            client.subscribe(topic, qos=1)

        def on_subscribe(client, userdata, mid, reason_codes, properties):
            subscribed.set()

        def on_message(client, userdata, msg):
            body = json.loads(msg.payload)
            # One envelope or a batch of them (mqtt.batch): docs/mqtt.md.
            for env in body if isinstance(body, list) else [body]:
                with self.changed:
                    self.types.append(str(env.get("type")))
                    self.changed.notify_all()

        c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
        c.connect("127.0.0.1", self.port)
        c.loop_start()
        if not subscribed.wait(15):
            raise RuntimeError("the HQ-side subscriber could not subscribe")
        self.client = c

    def wait_for(self, types: list[str], timeout: float) -> list[str]:
        """The event types received, once all of ``types`` are among them (or at timeout)."""
        with self.changed:
            self.changed.wait_for(lambda: all(t in self.types for t in types), timeout)
            return list(self.types)

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.client is not None:
            self.client.loop_stop()
            self.client.disconnect()
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@contextlib.contextmanager
def sntp_server() -> Iterator[bool]:
    """Answer SNTP on 127.0.0.1:123 with the host's clock (the guest's timesyncd reaches it
    as 10.0.2.2:123). Yields False if the port is taken: the clock check then warns."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 123))
    except OSError:
        sock.close()
        yield False
        return
    stop = threading.Event()

    def serve() -> None:
        while True:
            try:
                data, addr = sock.recvfrom(512)
            except OSError:
                return
            if stop.is_set():
                return
            if len(data) < 48:
                continue
            now = time.time() + NTP_EPOCH
            sec, frac = int(now), int((now % 1) * 2**32)
            # LI 0, version 4, mode 4 (server), stratum 2, poll, precision -20, root delay
            # and dispersion tiny, ref id, ref/orig/receive/transmit timestamps.
            reply = struct.pack("!BBBb II 4s II 8s II II", 0x24, 2, data[2], -20, 0, 0x10,
                                b"LOCL", sec, frac, data[40:48], sec, frac, sec, frac)
            sock.sendto(reply, addr)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield True
    finally:
        stop.set()
        # A closed UDP socket does not wake a blocked recvfrom: send it one datagram.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as wake:
            wake.sendto(b"", ("127.0.0.1", 123))
        t.join(timeout=5)
        sock.close()


def bootfs_offset(image: Path) -> int:
    """Byte offset of the first (FAT, boot) partition in the image."""
    table = json.loads(subprocess.run(["sfdisk", "--json", str(image)], check=True,
                                      capture_output=True, text=True).stdout)["partitiontable"]
    first = table["partitions"][0]
    return int(first["start"]) * int(table.get("sectorsize", 512))


@dataclass
class Checks:
    rows: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.rows.append((name, ok, detail))

    @property
    def passed(self) -> bool:
        return bool(self.rows) and all(ok for _, ok, _ in self.rows)

    def table(self) -> str:
        return "\n".join(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}"
                         for name, ok, detail in self.rows)
