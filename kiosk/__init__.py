"""The counter-kiosk programs: the composition root.

``kiosk`` (the counter), ``kiosk-sync`` (its uplink) and ``kiosk-hq`` (the collector) are
wired here: this package builds a counter from a config (:mod:`kiosk.build`), runs it
(:mod:`kiosk.app`), parses the command line (:mod:`kiosk.cli`, :mod:`kiosk.sync_cli`),
checks a counter on site (:mod:`kiosk.doctor`) and talks to systemd (:mod:`kiosk.sdnotify`)
and to ``kiosk sim`` (:mod:`kiosk.control`). It imports device/, drivers/, ui/ and sync/
openly; none of them imports it (the contracts in pyproject.toml, checked by lint-imports).
"""
