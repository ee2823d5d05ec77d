"""`kiosk-station`: the station queue's server (docs/station.md).

    kiosk-station --config /etc/counter-kiosk/station.toml

READY=1 once station.db is open (the broker may come later: the server reconnects
forever); WATCHDOG=1 only while the serving loop makes rounds (kiosk/sdnotify.py).
Exit codes: 0 stopped, 1 failed, 2 bad configuration (the message names the fix).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from device.errors import ConfigError, KioskError
from kiosk import logsetup, sdnotify

EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2
# Three of the longest waits the loop makes (the reconnect back-off, 5 s) and then some.
BEAT_MAX_AGE_S = 30.0
log = logging.getLogger("station")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="kiosk-station",
                                description="serve the station's shared queue to its windows, "
                                            "entrance and hall display over MQTT 5")
    p.add_argument("--config", default=os.environ.get("KIOSK_STATION_CONFIG"),
                   help="station.toml (default: $KIOSK_STATION_CONFIG)")
    args = p.parse_args(argv)
    from station.config import load
    from station.rpc import StationServer, serve

    try:
        if not args.config:
            raise ConfigError("no --config given. Fix: pass --config with the path of the "
                              "station's station.toml (or set KIOSK_STATION_CONFIG)")
        cfg = load(args.config)
        if not cfg.mqtt.host:
            raise ConfigError(f"{cfg.source}: mqtt.host is empty. Fix: set [mqtt] host to the "
                              "station broker's name (127.0.0.1 when it runs here)",
                              key="mqtt.host")
    except ConfigError as exc:
        print(f"kiosk-station: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    logsetup.setup("INFO")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    beat = sdnotify.Heartbeat(max_age_s=BEAT_MAX_AGE_S)
    watchdogs: list[sdnotify.Watchdog] = []

    def started(server: StationServer) -> None:
        log.info("kiosk-station starting: db=%s broker=%s:%s", cfg.db_path, cfg.mqtt.host,
                 cfg.mqtt.port)
        watchdogs.append(sdnotify.start_service(
            beat.alive, status=f"serving {server.topics.req} on {cfg.mqtt.host}:{cfg.mqtt.port}"))

    try:
        serve(cfg, stop, heartbeat=beat, started=started)
    except ConfigError as exc:
        print(f"kiosk-station: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KioskError as exc:
        print(f"kiosk-station: {exc}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        for w in watchdogs:
            w.stop()
    log.info("kiosk-station stopped")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
