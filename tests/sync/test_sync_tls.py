"""TLS with per-device client certificates (CN = device id, use_identity_as_username)
on a real Mosquitto with the shipped ACL. Certificates are made here with the openssl CLI."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.collector import BrokerOptions, Collector
from sync.hq_store import HqStore
from tests.sync.conftest import (
    Mosquitto,
    Running,
    device_config,
    fill_outbox,
    free_port,
    unsent,
    until,
)

pytestmark = pytest.mark.broker

ACL = Path(__file__).resolve().parents[2] / "docs" / "mosquitto" / "acl"
OPENSSL = shutil.which("openssl")


def _run(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL or "openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d: Path, clients: list[str]) -> None:
    d.mkdir(parents=True)
    _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
         "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, ext in [("server", "server.ext"), *((c, "") for c in clients)]:
        cn = "127.0.0.1" if name == "server" else name
        _run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
        _run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-out", f"{name}.crt",
             *(("-extfile", ext) if ext else ()), cwd=d)


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, int, Path]]:
    if OPENSSL is None:
        pytest.skip("openssl CLI not installed")
    pki = tmp_path / "pki"
    make_pki(pki, ["demo-w01", "kiosk-hq"])
    tls_port = free_port()
    b = Mosquitto(tmp_path / "broker", extra=(
        f"allow_anonymous false\nacl_file {ACL}\n"
        f"listener {tls_port} 127.0.0.1\ncafile {pki}/ca.crt\ncertfile {pki}/server.crt\n"
        f"keyfile {pki}/server.key\nrequire_certificate true\nuse_identity_as_username true\n"))
    b.start()
    yield b, tls_port, pki
    b.stop()


def test_device_certificate_drains_through_tls(tmp_path: Path,
                                               tls_broker: tuple[Mosquitto, int, Path],
                                               running: list[Running]) -> None:
    broker, port, pki = tls_broker
    store = HqStore.open(str(tmp_path / "hq.db"))
    col = Collector(store, BrokerOptions(port=port, client_id="hq-tls", tls=True,
                                         ca_file=str(pki / "ca.crt"),
                                         cert_file=str(pki / "kiosk-hq.crt"),
                                         key_file=str(pki / "kiosk-hq.key")))
    col.start()
    try:
        assert col.subscribed.wait(10), broker.log[-5:]
        cfg = device_config(tmp_path, port, site="demo-site", device="demo-w01", tls=True,
                            ca_file=str(pki / "ca.crt"), cert_file=str(pki / "demo-w01.crt"),
                            key_file=str(pki / "demo-w01.key"))
        fill_outbox(cfg, 300)
        r = Running(cfg)
        running.append(r)
        assert r.syncer.idle.wait(20)
        assert col.wait_for(lambda c: c.stats.new == 300, 10)
        assert unsent(cfg) == 0
        # The same certificate claiming to be another counter gets nothing through.
        forged = device_config(tmp_path, port, site="demo-site", device="demo-w02", tls=True,
                               ca_file=str(pki / "ca.crt"),
                               cert_file=str(pki / "demo-w01.crt"),
                               key_file=str(pki / "demo-w01.key"))
        fill_outbox(forged, 5)
        f = Running(forged)
        running.append(f)
        assert f.syncer.connected.wait(10)
        # Its state publish is refused and Mosquitto drops it; it reconnects, never acked.
        assert until(lambda: f.syncer.stats.connections >= 2), f.syncer.stats
        assert f.syncer.stats.acked == 0 and unsent(forged) == 5
    finally:
        col.stop()
        store.close()


def test_a_client_without_a_certificate_is_refused(tmp_path: Path,
                                                   tls_broker: tuple[Mosquitto, int, Path],
                                                   running: list[Running]) -> None:
    _broker, port, pki = tls_broker
    cfg = device_config(tmp_path, port, device="demo-w01", site="demo-site", tls=True,
                        ca_file=str(pki / "ca.crt"))
    fill_outbox(cfg, 3)
    r = Running(cfg)
    running.append(r)
    # The TLS handshake fails (the broker requires a certificate): retried, never connected.
    assert until(lambda: r.syncer.stats.connect_failures >= 2), r.syncer.stats
    assert r.syncer.stats.connections == 0
    assert unsent(cfg) == 3
