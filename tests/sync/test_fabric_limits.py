"""Issue 10 items 9 and 10 against the broker we ship: systemd/hq.env's settings work with
the shipped TLS listeners as they are; a failed connection is logged with its reason on
the counter; a copied certificate can be revoked (crlfile, README procedure); an
oversized publish is refused. HQ still holds every genuine event exactly once."""

from __future__ import annotations

import logging
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.sync.conftest import Hq, Running, fill_outbox, unsent, until
from tests.sync.fabric import (  # noqa: F401 (fixtures)
    HQ_HOLDS_S,
    HQ_PASSWORD,
    REPO,
    SHIPPED_CONF,
    SITE,
    Raw,
    ShippedBroker,
    cert_device,
    ctrl,
    fabric_fixture,
    fabric_hq_fixture,
)

pytestmark = pytest.mark.broker

HQ_ENV = REPO / "systemd" / "hq.env"


def _env(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def _listeners() -> dict[int, list[str]]:
    """Shipped conf: listener port -> its option lines."""
    out: dict[int, list[str]] = {}
    port = 0
    for line in SHIPPED_CONF.read_text().splitlines():
        if m := re.match(r"listener (\d+)", line):
            port = int(m.group(1))
            out[port] = []
        elif port and line and not line.startswith("#"):
            out[port].append(line)
    return out


def test_the_shipped_hq_env_collects_from_the_shipped_broker(
        tmp_path: Path, fabric: ShippedBroker, running: list[Running]) -> None:
    """Item 9: hq.env (TLS, username/password, no client certificate) against the shipped
    TLS listener failed with "peer did not return a certificate"."""
    env = _env(HQ_ENV)
    port = int(env["KIOSK_HQ_PORT"])
    listener = _listeners()[port]
    assert "require_certificate false" in listener  # HQ's listener asks no certificate
    args = shlex.split(env["KIOSK_HQ_ARGS"])
    assert "--cert" not in args and "--tls" in args
    # The very arguments, with the files moved under the test directory.
    moved = {"/etc/counter-kiosk/ca.crt": fabric.pki.ca,
             "/etc/counter-kiosk/hq.password": str(tmp_path / "hq.password")}
    (tmp_path / "hq.password").write_text(HQ_PASSWORD + "\n")
    args = [moved.get(a, a) for a in args]
    db = tmp_path / "hq-cli.db"
    proc = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from kiosk.sync_cli import main_hq; sys.exit(main_hq())",
         "collect", "--db", str(db), "--host", "127.0.0.1", "--port", str(fabric.pw_port),
         *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr or ()] and None,
                     daemon=True).start()
    seen: list[str] = []
    try:
        while " connected" not in (seen[-1] if seen else ""):  # then it subscribes
            seen.append(lines.get(timeout=20))
        cfg = cert_device(tmp_path, fabric, SITE, "demo-w02")
        fill_outbox(cfg, 100)
        r = Running(cfg)
        running.append(r)
        assert r.syncer.idle.wait(30)

        from hq.store import HqStore

        def held() -> int:
            if not db.exists():
                return 0
            s = HqStore.open(str(db))
            try:
                return s.count()
            finally:
                s.close()

        assert until(lambda: held() == 100, HQ_HOLDS_S), held()
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    err = "\n".join(seen)
    assert "certificate" not in err.lower(), err


@pytest.mark.parametrize("case", ["no certificate", "wrong host name"])
def test_a_refused_connection_is_logged_with_its_reason(
        tmp_path: Path, fabric: ShippedBroker, running: list[Running], case: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """Item 9: the reason was logged only as "Unspecified error", or not at all."""
    import dataclasses

    cfg = cert_device(tmp_path, fabric, SITE, "demo-w01")
    if case == "no certificate":
        m = dataclasses.replace(cfg.mqtt, cert_file="", key_file="")
        want = re.compile(r"(certificate required|EOF).*mqtt.cert_file is empty", re.I)
    else:  # the broker's certificate names 127.0.0.1 only
        m = dataclasses.replace(cfg.mqtt, host="localhost")
        want = re.compile(r"certificate verify failed.*(mismatch|match)", re.I)
    cfg = dataclasses.replace(cfg, mqtt=m)
    fill_outbox(cfg, 3)
    with caplog.at_level(logging.WARNING, logger="sync"):
        r = Running(cfg)
        running.append(r)
        assert until(lambda: r.syncer.stats.connect_failures >= 2), r.syncer.stats
    assert r.syncer.stats.connections == 0 and unsent(cfg) == 3
    logged = [rec.getMessage() for rec in caplog.records if rec.name == "sync"]
    assert any(want.search(line) for line in logged), logged


def _refused_at_tls(fabric: ShippedBroker, cert: str, tries: int = 20) -> bool:
    """True once a new TLS login with ``cert`` is refused. The broker applies a CRL
    reloaded on SIGHUP in its own time, so a probe it still accepted proves nothing
    yet: probe again, a bounded number of times, each waiting for the broker's answer."""
    for _ in range(tries):
        try:
            probe = Raw(fabric, "probe", cert=cert)
        except OSError:
            return True  # refused during the handshake
        try:
            if not probe.answered.wait(10):
                return False
            if probe.connacks.empty():
                return True  # disconnected without a CONNACK
        finally:
            probe.close()
    return False


def test_a_revoked_certificate_gets_nothing_through(
        tmp_path: Path, fabric: ShippedBroker, fabric_hq: Hq,
        running: list[Running]) -> None:
    """Item 10: with no crlfile a copied certificate could not be revoked. The README's
    procedure: revoke, re-issue the CRL, reload the broker, disable the counter's user."""
    thief = cert_device(tmp_path / "thief", fabric, SITE, "demo-w01")
    fill_outbox(thief, 20)
    t = Running(thief)
    running.append(t)
    good = cert_device(tmp_path, fabric, SITE, "demo-w02")
    fill_outbox(good, 50)
    g = Running(good)
    running.append(g)
    assert t.syncer.idle.wait(30) and g.syncer.idle.wait(30)
    assert fabric_hq.wait_count(70, HQ_HOLDS_S)
    fabric.pki.issue(f"{SITE}.demo-w03", f"{SITE}.demo-w03")
    ok = Raw(fabric, "probe", cert=f"{SITE}.demo-w03")  # the same path, not revoked
    assert ok.connack() == 0
    ok.close()
    fabric.pki.revoke(f"{SITE}.demo-w01")
    assert fabric.proc is not None
    fabric.proc.send_signal(signal.SIGHUP)  # the README: reload reads the new CRL
    # A new TLS connection with the revoked certificate is refused (the CRL, not the
    # dynamic-security user, which is still enabled here).
    assert _refused_at_tls(fabric, f"{SITE}.demo-w01")
    out = ctrl(fabric, "disableClient", f"{SITE}.demo-w01")  # kicks the live session
    assert out.returncode == 0, out.stdout + out.stderr
    assert until(lambda: t.syncer.stats.connect_failures >= 2), t.syncer.stats
    fill_outbox(thief, 10)
    fill_outbox(good, 30)
    assert fabric_hq.wait_count(100, HQ_HOLDS_S), fabric_hq.count()
    fabric_hq.assert_complete(good)
    assert unsent(thief) == 10  # never accepted again
    assert t.syncer.stats.connections == 1
    assert fabric_hq.collector.connected.is_set()


def test_an_oversized_publish_is_refused_and_collection_goes_on(
        tmp_path: Path, fabric: ShippedBroker, fabric_hq: Hq,
        running: list[Running]) -> None:
    """Item 10: a 100 MB publish was accepted (no message_size_limit)."""
    assert "message_size_limit 1048576" in SHIPPED_CONF.read_text()
    a = Raw(fabric, "a", cert=f"{SITE}.demo-w01")
    try:
        assert a.connack() == 0
        big = b"[" + b",".join([b'{"v":1}'] * 200_000) + b"]"  # 1.6 MB of "events"
        code = a.publish(f"kiosk/v1/{SITE}/demo-w01/events", big)
        # Mosquitto 2.0.11 drops an MQTT 5 client whose publish is too large instead of
        # answering it (a PUBACK >= 128 would do as well): either way it is not taken.
        assert code >= 128 or code <= -1000, code
    finally:
        a.close()
    good = cert_device(tmp_path, fabric, SITE, "demo-w02")
    fill_outbox(good, 60)
    g = Running(good)
    running.append(g)
    assert g.syncer.idle.wait(30)
    assert fabric_hq.wait_count(60, HQ_HOLDS_S), fabric_hq.count()
    fabric_hq.assert_complete(good)
    assert fabric_hq.collector.stats.messages <= 10  # six batches of ten; never the big one


def test_kiosk_doctor_logs_in_as_the_counter_on_the_shipped_broker(
        tmp_path: Path, fabric: ShippedBroker) -> None:
    """The broker binds a password counter to its client id: the doctor's broker check
    used an id of its own ("<id>-doctor") and was refused on a healthy counter."""
    import dataclasses

    from sync.probe import broker
    from tests.sync.conftest import device_config

    pw = tmp_path / "w03.pw"
    pw.write_text("pw-w03\n")
    cfg = device_config(tmp_path, fabric.pw_port, site=SITE, device="demo-w03", tls=True,
                        ca_file=fabric.pki.ca, username=f"{SITE}.demo-w03",
                        password_file=str(pw))
    status, detail, _fix = broker(cfg)
    assert status == "PASS", detail
    wrong = dataclasses.replace(cfg, mqtt=dataclasses.replace(cfg.mqtt, username="demo-w03"))
    assert broker(wrong)[0] == "FAIL"
