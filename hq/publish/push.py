"""Publish one site-content document to a station's counters: validated as the counters
validate it, retained, QoS 1, and believed published only on the broker's PUBACK (paho#715:
``publish()`` and ``is_published()`` say yes even when the broker refused it)."""

from __future__ import annotations

import os
import queue
import re
from typing import Any

import paho.mqtt.client as mqtt

from device.errors import ParseError, SyncError
from hq.collector import BrokerOptions
from sync.downlink import parse_content
from sync.schema import ID_PATTERN
from sync.topics import Topics


def publish_content(opts: BrokerOptions, prefix: str, site: str, kind: str,
                    payload: bytes) -> str:
    """Publish ``payload`` as ``kind`` for ``site``; returns the topic. Raises ParseError
    when the site or the document is invalid, SyncError when the broker does not take it
    (both naming the fix)."""
    if not re.fullmatch(ID_PATTERN, site):
        raise ParseError(f"site {site!r} is not a site id: use 1-64 lower-case letters, "
                        "digits, '-' or '_' (no '/', '+' or '#'), e.g. demo-site")
    parse_content(kind, payload)  # refuse to publish what every counter would reject
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                         client_id=opts.client_id or f"kiosk-hq-publish-{os.getpid()}",
                         protocol=mqtt.MQTTv5)
    if opts.tls:
        client.tls_set(ca_certs=opts.ca_file or None, certfile=opts.cert_file or None,
                       keyfile=opts.key_file or None)
    if opts.username:
        client.username_pw_set(opts.username, opts.password or None)
    answers: queue.Queue[tuple[str, Any]] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, rc, _p: answers.put(("connack", rc))
    client.on_publish = lambda _c, _u, _m, rc, _p: answers.put(("puback", rc))
    client.on_disconnect = lambda _c, _u, _f, rc, _p: answers.put(("disconnect", rc))
    topic = Topics(prefix, site, "-").content(kind)
    where = f"{opts.host}:{opts.port}"
    try:
        client.connect(opts.host, opts.port)
    except OSError as exc:
        raise SyncError(f"cannot reach the broker at {where}: {exc}. Fix: check the host, "
                        "the port and that mosquitto runs.") from None
    client.loop_start()
    try:
        what, rc = answers.get(timeout=10)
        if what != "connack" or rc.is_failure:
            raise SyncError(f"the broker at {where} refused the connection: {rc}")
        client.publish(topic, payload, qos=1, retain=True)
        what, rc = answers.get(timeout=10)
    except queue.Empty:
        raise SyncError(f"no answer from the broker at {where} within 10 s; nothing is "
                        "known to be published") from None
    finally:
        client.disconnect()
        client.loop_stop()
    if what != "puback" or rc.is_failure:
        raise SyncError(f"the broker refused {kind} on {topic}: {rc} "
                        f"({'PUBACK' if what == 'puback' else 'disconnected'} reason code "
                        f"{rc.value}); check that this user may write site content")
    return topic
