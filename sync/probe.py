"""The broker check for `kiosk doctor`: one short MQTT connect with the counter's own TLS
settings and credentials (sync.uplink.make_client, the same client kiosk-sync builds).

It connects as the counter itself (client id ``<site>.<device>``, or ``mqtt.client_id``):
the shipped broker binds each counter's login to that id (docs/mosquitto/README.md) and
refuses any other, so a check with an id of its own would fail on a healthy counter. The
broker drops kiosk-sync's session for that moment; kiosk-sync reconnects at once and its
outbox loses nothing. It subscribes and publishes nothing.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from typing import Any

from device.config import Config
from device.errors import SyncError

Verdict = tuple[str, str, str]
PASS, WARN, FAIL = "PASS", "WARN", "FAIL"


def broker(cfg: Config, timeout: float = 5.0) -> Verdict:
    m = cfg.mqtt
    if not m.host:
        return (WARN, "no broker configured (mqtt.host is empty): events wait in the outbox",
                "set [mqtt] host, port, ca_file and the device's credentials")
    from sync.uplink import make_client

    where = f"{m.host}:{m.port}" + (" (TLS)" if m.tls else "")
    client_id = m.client_id or f"{cfg.device.site}.{cfg.device.id}"
    try:
        client = make_client(cfg, client_id)
    except SyncError as exc:
        return FAIL, f"broker: {exc}", "install the certificate/password files named in [mqtt]"
    except (OSError, ssl.SSLError, ValueError) as exc:
        return (FAIL, f"broker: cannot load the TLS files: {exc}",
                "mqtt.ca_file, cert_file and key_file must be PEM files readable by kiosk")
    done = threading.Event()
    result: dict[str, Any] = {}

    def on_connect(_c: Any, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
        result["rc"] = reason_code
        done.set()

    client.on_connect = on_connect
    client.connect_timeout = timeout
    try:
        client.connect(m.host, m.port, keepalive=max(10, int(timeout * 2)))
        deadline = time.monotonic() + timeout
        while not done.is_set() and time.monotonic() < deadline:
            client.loop(timeout=0.1)
    except ConnectionRefusedError:
        return (FAIL, f"broker: nothing accepts connections at {where}",
                "the broker is down or the port is wrong (mqtt.port); ask HQ, or check "
                "the firewall between the station and HQ")
    except socket.gaierror as exc:
        return (FAIL, f"broker: cannot resolve {m.host!r}: {exc.strerror}",
                "check mqtt.host and the Pi's DNS (resolvectl status)")
    except ssl.SSLError as exc:
        return (FAIL, f"broker: TLS handshake with {where} failed: {exc.reason or exc}",
                "mqtt.ca_file must be the CA that signed the broker's certificate, the "
                "client certificate must be this device's, and the clock must be right")
    except TimeoutError:
        return (FAIL, f"broker: no answer from {where} within {timeout:g} s",
                "a firewall drops the traffic, or the host is wrong")
    except OSError as exc:
        return FAIL, f"broker: cannot connect to {where}: {exc}", "check network and mqtt.host"
    finally:
        with contextlib.suppress(Exception):  # already closed
            client.disconnect()
    rc = result.get("rc")
    if rc is None:
        return (FAIL, f"broker: connected to {where} but got no CONNACK within {timeout:g} s",
                "is it an MQTT port? TLS on one side only? (mqtt.tls must match the listener)")
    if rc.is_failure:
        return (FAIL, f"broker: {where} refused the login: {rc}",
                "check mqtt.username and the password file, or the client certificate; "
                "HQ must have created this device's account")
    user = f" as {m.username}" if m.username else ""
    return PASS, f"broker: connected to {where}{user}", ""
