"""The kiosk-sync and kiosk-hq commands as systemd runs them: READY=1, watchdog pings,
STOPPING=1 on SIGTERM, exit codes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.sync_cli import main_sync
from tests.sync.conftest import Mosquitto, device_config, fill_outbox

SYNC = [sys.executable, "-c",
        "import sys; from kiosk.sync_cli import main_sync; sys.exit(main_sync())"]


def _notify_socket(tmp_path: Path) -> tuple[socket.socket, str]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    return sock, path


@pytest.mark.broker
def test_kiosk_sync_under_systemd_notify(tmp_path: Path, broker: Mosquitto) -> None:
    cfg = device_config(tmp_path, broker.port)
    fill_outbox(cfg, 20)
    conf = tmp_path / "c.toml"
    conf.write_text(f'[device]\nsite = "s1"\nid = "w01"\nstate_dir = "{cfg.state_dir}"\n'
                    f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\ntls = false\n')
    sock, path = _notify_socket(tmp_path)
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"}
    proc = subprocess.Popen([*SYNC, "--config", str(conf)], env=env,
                            stdout=subprocess.DEVNULL)
    try:
        got = [sock.recv(4096).decode()]
        assert got[0].startswith("READY=1\nSTATUS=publishing to 127.0.0.1:")
        while "WATCHDOG=1" not in got:  # a ping every 0.1 s while the loop beats
            got.append(sock.recv(4096).decode())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        while "STOPPING=1" not in got:
            got.append(sock.recv(4096).decode())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()


def test_kiosk_sync_without_a_broker_is_a_config_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text(f'[device]\nstate_dir = "{tmp_path}"\n')
    assert main_sync(["--config", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "mqtt.host is empty" in err and "Fix:" in err


@pytest.mark.broker
def test_kiosk_hq_publish_validates_then_retains(tmp_path: Path, broker: Mosquitto,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import queue

    import paho.mqtt.client as mqtt

    from kiosk.sync_cli import main_hq
    from tests.sync.test_sync_downlink import NOTICES

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": "n9", "notices": [{"id": "x"}]}))
    assert main_hq(["publish", "--port", str(broker.port), "--site", "s1", "notices",
                    str(bad)]) == 2
    assert "missing required field 'text'" in capsys.readouterr().err
    good = tmp_path / "notices.json"
    good.write_text(json.dumps(NOTICES, ensure_ascii=False))
    assert main_hq(["publish", "--port", str(broker.port), "--site", "s1", "notices",
                    str(good)]) == 0
    got: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="late", protocol=mqtt.MQTTv5)
    c.on_message = lambda _c, _u, m: got.put((m.topic, bytes(m.payload), bool(m.retain)))
    c.connect("127.0.0.1", broker.port)
    c.subscribe("kiosk/v1/s1/+", qos=1)
    c.loop_start()
    try:
        topic, payload, retained = got.get(timeout=10)
    finally:
        c.loop_stop()
        c.disconnect()
    assert (topic, json.loads(payload), retained) == ("kiosk/v1/s1/notices", NOTICES, True)
