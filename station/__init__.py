"""The station: one queue for all windows of a hall (docs/station.md).

``kiosk-station`` owns it: :mod:`station.store` (station.db), :mod:`station.queue` (the
pure calling rules), :mod:`station.service` (every request op of the protocol) and
:mod:`station.rpc` (the MQTT 5 request/response server). It imports device's leaves and
paho only, never the counter's drivers, UI, program shells or HQ.
"""
