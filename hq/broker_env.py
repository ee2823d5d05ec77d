"""The console's broker settings, from the same environment variables the ``kiosk-hq``
commands read (kiosk/sync_cli.py's _broker_args): the console has no command line of its
own for them, and importing kiosk from hq would turn the layers upside down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from device.errors import ParseError
from hq.collector import BrokerOptions


def broker_options(client_id: str, env: Mapping[str, str] | None = None) -> BrokerOptions:
    """KIOSK_HQ_BROKER, KIOSK_HQ_PORT, KIOSK_HQ_TLS (1), KIOSK_HQ_CA, KIOSK_HQ_CERT,
    KIOSK_HQ_KEY, KIOSK_HQ_USERNAME, KIOSK_HQ_PASSWORD_FILE, KIOSK_HQ_PREFIX."""
    e = os.environ if env is None else env
    port_text = e.get("KIOSK_HQ_PORT", "1883")
    try:
        port = int(port_text)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise ParseError(f"KIOSK_HQ_PORT={port_text!r} is not a port: set it to the broker's "
                         "port, e.g. 1883 (8883 with TLS)") from None
    password = ""
    password_file = e.get("KIOSK_HQ_PASSWORD_FILE", "")
    if password_file:
        try:
            password = Path(password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ParseError(f"KIOSK_HQ_PASSWORD_FILE={password_file}: {exc.strerror}. Fix: "
                             "point it at a readable file holding the broker password") from None
    return BrokerOptions(host=e.get("KIOSK_HQ_BROKER", "127.0.0.1"), port=port,
                         client_id=client_id, prefix=e.get("KIOSK_HQ_PREFIX", "kiosk/v1"),
                         tls=e.get("KIOSK_HQ_TLS", "") == "1", ca_file=e.get("KIOSK_HQ_CA", ""),
                         cert_file=e.get("KIOSK_HQ_CERT", ""), key_file=e.get("KIOSK_HQ_KEY", ""),
                         username=e.get("KIOSK_HQ_USERNAME", ""), password=password)
