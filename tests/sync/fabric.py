"""The broker we ship, started for real: docs/mosquitto/mosquitto.conf with its paths and
ports moved under the test's directory, the dynamic-security file written by
provision/broker_rules.py from a fleet sheet, and a throwaway CA (openssl CLI) that can
revoke a certificate. Helpers for the attack tests (tests/sync/test_fabric_*.py)."""

from __future__ import annotations

import glob
import json
import os
import pwd
import queue
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from device.config import Config
from hq.collector import BrokerOptions, Collector
from hq.store import HqStore
from tests.sync.conftest import Hq, Mosquitto, device_config, free_port

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONF = REPO / "docs" / "mosquitto" / "mosquitto.conf"
RULES = REPO / "provision" / "broker_rules.py"
OPENSSL = shutil.which("openssl")
SITE, EAST = "demo-site", "east-site"
W03_PASSWORD = "pw-w03"
HQ_HOLDS_S = 20.0  # the stated time: every genuine event at HQ within this after draining
HQ_PASSWORD = "hq-secret"
ADMIN_PASSWORD = "admin-secret"

CA_CNF = """[ca]
default_ca = test
[test]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}/new
certificate = {d}/ca.crt
private_key = {d}/ca.key
serial = {d}/serial
crlnumber = {d}/crlnumber
default_md = sha256
default_days = 2
default_crl_days = 2
policy = any
[any]
commonName = supplied
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL or "openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Pki:
    """A CA with an index, so certificates can be revoked and a CRL issued."""

    def __init__(self, d: Path) -> None:
        if OPENSSL is None:
            pytest.skip("openssl CLI not installed")
        self.d = d
        d.mkdir(parents=True)
        (d / "new").mkdir()
        (d / "index.txt").write_text("")
        (d / "serial").write_text("1000\n")
        (d / "crlnumber").write_text("1000\n")
        (d / "ca.cnf").write_text(CA_CNF.format(d=d))
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-days", "2", "-subj",
                 "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
        (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        self.issue("server", "127.0.0.1", ext="server.ext")
        self.crl()

    def issue(self, name: str, cn: str, ext: str = "") -> tuple[str, str]:
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-subj", f"/CN={cn}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=self.d)
        _openssl("ca", "-batch", "-config", "ca.cnf", "-in", f"{name}.csr", "-out",
                 f"{name}.crt", "-notext", *(("-extfile", ext) if ext else ()), cwd=self.d)
        return str(self.d / f"{name}.crt"), str(self.d / f"{name}.key")

    def revoke(self, name: str) -> None:
        _openssl("ca", "-config", "ca.cnf", "-revoke", f"{name}.crt", cwd=self.d)
        self.crl()

    def crl(self) -> None:
        _openssl("ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem", cwd=self.d)

    @property
    def ca(self) -> str:
        return str(self.d / "ca.crt")


def plugin_path() -> str:
    found = glob.glob("/usr/lib/*/mosquitto_dynamic_security.so")
    if not found:
        pytest.skip("Mosquitto's dynamic-security plugin is not installed")
    return found[0]


class ShippedBroker(Mosquitto):
    """docs/mosquitto/mosquitto.conf, every path and port moved; nothing else changed.
    ``port`` is the certificate listener (8883), ``pw_port`` the password one (8884)."""

    def __init__(self, workdir: Path, pki: Pki) -> None:
        super().__init__(workdir)
        self.pki = pki
        self.pw_port = free_port()
        self.dynsec = workdir / "dynamic-security.json"

    def conf(self) -> Path:
        text = SHIPPED_CONF.read_text()
        p = self.pki.d
        for old, new in (
                ("listener 8883\n", f"listener {self.port} 127.0.0.1\n"),
                ("listener 8884\n", f"listener {self.pw_port} 127.0.0.1\n"),
                ("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so", plugin_path()),
                ("/var/lib/mosquitto/dynamic-security.json", str(self.dynsec)),
                ("/var/lib/mosquitto/", f"{self.workdir}/"),
                ("/etc/mosquitto/ca/ca.crt", f"{p}/ca.crt"),
                ("/etc/mosquitto/ca/crl.pem", f"{p}/crl.pem"),
                ("/etc/mosquitto/certs/broker.crt", f"{p}/server.crt"),
                ("/etc/mosquitto/certs/broker.key", f"{p}/server.key")):
            assert old in text, f"the shipped mosquitto.conf no longer has {old!r}"
            text = text.replace(old, new)
        path = self.workdir / "mosquitto.conf"
        path.write_text(f"user {pwd.getpwuid(os.getuid()).pw_name}\n" + text
                        + "log_dest stderr\nlog_type error\nlog_type warning\n"
                          "log_type notice\nlog_type information\n")
        return path


def write_rules(workdir: Path, broker: ShippedBroker, devices: list[dict[str, str]]) -> None:
    """Run provision/broker_rules.py on a fleet sheet of ``devices`` (site, device and
    either cert=1 or password=...) plus the HQ user ``kiosk-hq``."""
    workdir.mkdir(parents=True, exist_ok=True)
    lines = ["site,device,mqtt_password_file,client_cert_file"]
    for d in devices:
        pw = ""
        if "password" in d:
            pw = f"{d['site']}-{d['device']}.pw"
            (workdir / pw).write_text(d["password"] + "\n")
        lines.append(f"{d['site']},{d['device']},{pw},{'x.crt' if 'cert' in d else ''}")
    (workdir / "fleet.csv").write_text("\n".join(lines) + "\n")
    (workdir / "hq.pw").write_text(HQ_PASSWORD + "\n")
    (workdir / "admin.pw").write_text(ADMIN_PASSWORD + "\n")
    out = subprocess.run([sys.executable, str(RULES), str(workdir / "fleet.csv"), "--out",
                          str(broker.dynsec), "--hq", f"kiosk-hq={workdir / 'hq.pw'}",
                          "--admin", f"broker-admin={workdir / 'admin.pw'}"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def hq_collector(tmp_path: Path, broker: ShippedBroker, client_id: str = "kiosk-hq-test",
                 ) -> tuple[Collector, HqStore]:
    """A collector with systemd/hq.env's kind of settings: TLS, username and password,
    no client certificate, on the password listener."""
    store = HqStore.open(str(tmp_path / "hq.db"))
    col = Collector(store, BrokerOptions(port=broker.pw_port, client_id=client_id, tls=True,
                                         ca_file=broker.pki.ca, username="kiosk-hq",
                                         password=HQ_PASSWORD), repair_s=0.5)
    col.start()
    assert col.subscribed.wait(10), broker.log[-10:]
    return col, store


def cert_device(tmp_path: Path, broker: ShippedBroker, site: str, device: str,
                **mqtt_opts: Any) -> Config:
    name = f"{site}.{device}"
    crt = broker.pki.d / f"{name}.crt"
    if not crt.exists():
        broker.pki.issue(name, name)
    return device_config(tmp_path, broker.port, site=site, device=device, tls=True,
                         ca_file=broker.pki.ca, cert_file=str(crt),
                         key_file=str(broker.pki.d / f"{name}.key"), **mqtt_opts)


def ctrl(broker: ShippedBroker, *args: str) -> subprocess.CompletedProcess[str]:
    """mosquitto_ctrl as the README's revocation procedure runs it (TLS, admin user)."""
    tool = shutil.which("mosquitto_ctrl")
    if tool is None:
        pytest.skip("mosquitto_ctrl is not installed")
    return subprocess.run([tool, "-h", "127.0.0.1", "-p", str(broker.pw_port), "--cafile",
                           broker.pki.ca, "-u", "broker-admin", "-P", ADMIN_PASSWORD,
                           "dynsec", *args], capture_output=True, text=True, timeout=30)


class Raw:
    """A raw MQTT 5 client that records CONNACK, SUBACK and PUBACK codes and messages."""

    def __init__(self, broker: ShippedBroker, client_id: str, *, user: str = "",
                 password: str = "", cert: str = "", clean_start: bool = True) -> None:
        self.connacks: queue.Queue[int] = queue.Queue()
        self.answers: queue.Queue[tuple[str, int, int]] = queue.Queue()
        self.subacks: queue.Queue[list[int]] = queue.Queue()
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        # Set by the first CONNACK or disconnect: the broker has answered the login.
        self.answered = threading.Event()
        c = self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                 protocol=mqtt.MQTTv5, reconnect_on_failure=False)
        if cert:
            c.tls_set(ca_certs=broker.pki.ca, certfile=str(broker.pki.d / f"{cert}.crt"),
                      keyfile=str(broker.pki.d / f"{cert}.key"),
                      tls_version=ssl.PROTOCOL_TLS_CLIENT)
        else:
            c.tls_set(ca_certs=broker.pki.ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)
            c.username_pw_set(user, password)
        def on_connect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            self.connacks.put(rc.value)
            self.answered.set()

        def on_disconnect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            self.answers.put(("disconnect", 0, rc.value))
            self.answered.set()

        c.on_connect = on_connect
        c.on_disconnect = on_disconnect
        c.on_publish = lambda _c, _u, mid, rc, _p: self.answers.put(("puback", mid, rc.value))
        c.on_message = lambda _c, _u, m: self.messages.put((m.topic, bytes(m.payload)))
        c.on_subscribe = lambda _c, _u, _m, rcs, _p: self.subacks.put([r.value for r in rcs])
        c.connect("127.0.0.1", broker.port if cert else broker.pw_port, clean_start=clean_start)
        c.loop_start()

    def connack(self) -> int:
        return self.connacks.get(timeout=10)

    def publish(self, topic: str, payload: Any, *, retain: bool = False) -> int:
        """The PUBACK reason code; -rc when paho refused it locally, -1000 - reason when
        the broker disconnected instead of answering."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        info = self.c.publish(topic, data, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return -int(info.rc)
        kind, mid, rc = self.answers.get(timeout=10)
        if kind == "disconnect":
            return -1000 - rc
        assert mid == info.mid
        return rc

    def subscribe(self, topic: str) -> int:
        self.c.subscribe(topic, qos=1)
        (code,) = self.subacks.get(timeout=10)
        return code

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture(name="fabric")
def fabric_fixture(tmp_path: Path) -> Iterator[ShippedBroker]:
    pki = Pki(tmp_path / "pki")
    b = ShippedBroker(tmp_path / "broker", pki)
    write_rules(tmp_path / "provision", b, [
        {"site": SITE, "device": "demo-w01", "cert": "1"},
        {"site": SITE, "device": "demo-w02", "cert": "1"},
        {"site": SITE, "device": "demo-w03", "password": W03_PASSWORD},
        {"site": EAST, "device": "east-w01", "cert": "1"},
    ])
    for name in ("demo-w01", "demo-w02"):
        pki.issue(f"{SITE}.{name}", f"{SITE}.{name}")
    b.start()
    yield b
    b.stop()


@pytest.fixture(name="fabric_hq")
def fabric_hq_fixture(tmp_path: Path, fabric: ShippedBroker) -> Iterator[Hq]:
    col, store = hq_collector(tmp_path, fabric)
    yield Hq(tmp_path / "hq.db", store, col)
    col.stop()
    store.close()
