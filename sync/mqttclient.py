"""The paho client kiosk-sync (and `kiosk probe`) builds from ``[mqtt]``, and what a
refused connection usually means."""

from __future__ import annotations

import ssl
from pathlib import Path

import paho.mqtt.client as mqtt

from device.config import Config, MqttSection
from device.errors import SyncError


def make_client(cfg: Config, client_id: str) -> mqtt.Client:
    """A paho client with TLS and credentials from ``[mqtt]`` (not yet connected)."""
    m = cfg.mqtt
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5, reconnect_on_failure=False)
    if m.tls:
        for key in ("ca_file", "cert_file", "key_file"):
            value = getattr(m, key)
            if value and not Path(value).is_file():
                raise SyncError(f"mqtt.{key} = {value!r}: no such file. Fix: install the "
                                "device's certificate files or correct the path.")
        client.tls_set(ca_certs=m.ca_file or None, certfile=m.cert_file or None,
                       keyfile=m.key_file or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    if m.username:
        password = None
        if m.password_file:
            try:
                password = Path(m.password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SyncError(f"mqtt.password_file = {m.password_file!r}: {exc.strerror}. "
                                "Fix: provision the device's password file (mode 0600).") from None
        client.username_pw_set(m.username, password)
    # Must be set before connect (pitfalls: paho ignores it afterwards).
    client.max_inflight_messages_set(max(1, m.inflight))
    return client


def refusal_hint(m: MqttSection) -> str:
    """What a connection the broker ended before CONNACK usually means (for the log)."""
    # With TLS 1.3 the broker's verdict on our certificate comes after the handshake,
    # often as a bare EOF.
    if not m.tls:
        return ""
    if not m.cert_file:
        return ("; mqtt.cert_file is empty: a certificate listener (8883) requires a "
                "client certificate, password counters use the password listener")
    return (f"; the broker did not accept the certificate {m.cert_file} (revoked, "
            "expired or not signed by its CA?)")
