"""The MQTT contract as an AsyncAPI 3.0 document, built from the code's own schemas.

``python -m sync.asyncapi > docs/asyncapi.yaml`` regenerates the file; a test checks
the committed file equals this output (so the document cannot drift from the code)
and validates it against the official AsyncAPI 3.0.0 JSON Schema.
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import yaml

from device import __version__
from device.events import EventType
from sync.schema import (
    COMMAND_RESULT_SCHEMA,
    COMMAND_SCHEMAS,
    CONFIRMED_SCHEMA,
    CONTENT_RESULT_SCHEMA,
    CONTENT_SCHEMAS,
    ID_PATTERN,
)
from sync.topics import CONTENT_KINDS

HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}

ENVELOPE: dict[str, Any] = {
    "type": "object",
    "description": "One event, exactly as stored in the counter's journal. `hash` = SHA-256 "
                   "over `prev` and the canonical JSON (sorted keys, no spaces, UTF-8) of "
                   "every field except `prev` and `hash`; HQ recomputes it per device.",
    "required": ["v", "id", "site", "device", "seq", "ts", "type", "data", "prev", "hash"],
    "additionalProperties": False,
    "properties": {
        "v": {"type": "integer", "const": 1},
        "id": {"type": "string", "format": "uuid", "description": "UUIDv7; HQ dedupes on it"},
        "site": {"type": "string", "pattern": ID_PATTERN},
        "device": {"type": "string", "pattern": ID_PATTERN},
        "seq": {"type": "integer", "minimum": 1,
                "description": "per device, from 1, never repeats (also across restarts)"},
        "ts": {"type": "string", "format": "date-time", "description": "UTC, milliseconds"},
        "type": {"type": "string", "enum": [str(t) for t in EventType]},
        "data": {"type": "object", "description": "type-specific; never personal data"},
        "prev": HEX64,
        "hash": HEX64,
    },
}

STATE: dict[str, Any] = {
    "type": "object",
    "required": ["online"],
    "properties": {
        "online": {"type": "boolean",
                   "description": "false from the Last Will or a clean shutdown"},
        "ts": {"type": "string", "format": "date-time"},
        "mode": {"type": "string", "enum": ["idle", "serving", "rating", "away"]},
        "officer": {"type": "string", "description": "badge number of the officer on duty"},
        "away": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
            "reason": {"type": "string"}, "return_at": {"type": "string"},
            "backup": {"type": "string"}, "since": {"type": "string"}}}]},
        "software": {"type": "string"},
        "catalogue_version": {"type": ["string", "null"]},
        "content_versions": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

HEALTH: dict[str, Any] = {
    "type": "object",
    "required": ["ts", "head_seq", "outbox_depth"],
    "properties": {
        "ts": {"type": "string", "format": "date-time"},
        "head_seq": {"type": "integer", "description": "last seq the counter committed"},
        "outbox_depth": {"type": "integer", "description": "events not yet acknowledged"},
        "oldest_unsent_age_s": {"type": ["number", "null"]},
        "db_bytes": {"type": "integer"},
        "disk_free_bytes": {"type": ["integer", "null"]},
        "cpu_temp_c": {"type": ["number", "null"]},
        "peripherals": {"type": "object", "additionalProperties": {
            "type": "object", "properties": {"ok": {"type": "boolean"},
                                             "fault": {"type": "string"},
                                             "since": {"type": "string"}}}},
        "people_waiting": {"type": ["integer", "null"]},
        "inflight": {"type": "integer"},
        "connection": {"type": "integer"},
    },
}


# What each site content kind is for (the channel's description says it first).
KIND_ABOUT = {
    "catalogue": "The services and their guides (device/catalogue.py).",
    "roster": "The station's officers.",
    "appointments": "One day's bookings, by code (no citizen's name).",
    "notices": "Notices for the home and away screens, each with its validity.",
    "results": "The station's latest published month of evaluation results; the home "
               "screen shows its figure (device/results.py). Sent by HQ when a month is "
               "published.",
    "holidays": "The working-day calendar from last year on: per year the official days "
                "off and the make-up workdays (调休), for receipts' promised dates "
                "(device/holidays.py checks the dates).",
}
assert set(KIND_ABOUT) == set(CONTENT_KINDS), "describe every content kind"


def _param(description: str, enum: list[str] | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"description": description}
    if enum:
        p["enum"] = enum
    return p


def _msg(name: str, title: str, schema_ref: str, *, description: str,
         **_ignored: Any) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "contentType": "application/json",
        "description": description,
        "payload": {"$ref": f"#/components/schemas/{schema_ref}"},
    }


def build() -> dict[str, Any]:
    site = {"$ref": "#/components/parameters/site"}
    device = {"$ref": "#/components/parameters/device"}
    root = "kiosk/v1/{site}/{device}"
    channels: dict[str, Any] = {
        "events": {
            "address": f"{root}/events",
            "title": "Events (uplink, QoS 1)",
            "description": "The outbox. A row is marked sent only after its PUBACK with a "
                           "reason code below 128. At-least-once: HQ dedupes on `id`. "
                           "HQ subscribes as `$share/hq/kiosk/v1/+/+/events`.",
            "parameters": {"site": site, "device": device},
            "messages": {"event": {"$ref": "#/components/messages/event"},
                         "eventBatch": {"$ref": "#/components/messages/eventBatch"}},
        },
        "state": {
            "address": f"{root}/state",
            "title": "Counter state (retained, QoS 1, Last Will)",
            "parameters": {"site": site, "device": device},
            "messages": {"state": {"$ref": "#/components/messages/state"}},
        },
        "health": {
            "address": f"{root}/health",
            "title": "Health (QoS 0, every mqtt.health_interval_s)",
            "parameters": {"site": site, "device": device},
            "messages": {"health": {"$ref": "#/components/messages/health"}},
        },
        "contentResult": {
            "address": f"{root}/content/{{kind}}/result",
            "title": "Result of applying site content (QoS 1)",
            "parameters": {"site": site, "device": device,
                           "kind": {"$ref": "#/components/parameters/kind"}},
            "messages": {"contentResult": {"$ref": "#/components/messages/contentResult"}},
        },
    }
    for kind in CONTENT_KINDS:
        channels[kind] = {
            "address": f"kiosk/v1/{{site}}/{kind}",
            "title": f"Site {kind} (downlink, retained, versioned)",
            "description": KIND_ABOUT[kind] + " Validated on the counter; applied in one "
                           "transaction into `site_content` when its version differs from "
                           "the stored one. "
                           "The outcome goes to the device's content result channel.",
            "parameters": {"site": site},
            "messages": {kind: {"$ref": f"#/components/messages/{kind}"}},
        }
    for name in COMMAND_SCHEMAS:
        channels[f"cmd_{name}"] = {
            "address": f"{root}/cmd/{name}",
            "title": f"Command {name} (downlink, QoS 1)",
            "parameters": {"site": site, "device": device},
            "messages": {f"cmd_{name}": {"$ref": f"#/components/messages/cmd_{name}"}},
        }
        channels[f"cmd_{name}_result"] = {
            "address": f"{root}/cmd/{name}/result",
            "title": f"Result of command {name} (QoS 1)",
            "parameters": {"site": site, "device": device},
            "messages": {"commandResult": {"$ref": "#/components/messages/commandResult"}},
        }

    # End to end: HQ's receipt to each counter (what the counter does with it: sync/confirm.py).
    channels["confirmed"] = {
        "address": f"{root}/confirmed",
        "title": "HQ's confirmation (downlink, retained, QoS 1, written by HQ only)",
        "description": "`upto` = the highest seq up to which HQ has committed every event of "
                       "this counter. The counter keeps it (retention prunes nothing above "
                       "it) and publishes again, flagged replayed, what was sent "
                       "mqtt.confirm_timeout_s ago and is still above it.",
        "parameters": {"site": site, "device": device},
        "messages": {"confirmed": {"$ref": "#/components/messages/confirmed"}},
    }

    def op(action: str, channel: str, summary: str, qos: int = 1,
           retain: bool = False) -> dict[str, Any]:
        return {"action": action, "channel": {"$ref": f"#/channels/{channel}"},
                "summary": summary,
                "bindings": {"mqtt": {"qos": qos, "retain": retain,
                                      "bindingVersion": "0.2.0"}}}

    operations: dict[str, Any] = {
        "sendEvents": op("send", "events", "The counter publishes its outbox."),
        "sendState": op("send", "state", "Retained state; the Last Will sets online=false.",
                        retain=True),
        "sendHealth": op("send", "health", "Periodic health.", qos=0),
        "sendContentResult": op("send", "contentResult", "Accepted or rejected, with why."),
        "receiveConfirmed": op("receive", "confirmed", "HQ's receipt: what it holds.",
                               retain=True),
    }
    for kind in CONTENT_KINDS:
        operations[f"receive_{kind}"] = op("receive", kind, f"HQ's {kind} for the site.",
                                           retain=True)
    for name in COMMAND_SCHEMAS:
        operations[f"receive_cmd_{name}"] = op("receive", f"cmd_{name}", f"Command {name}.")
        operations[f"send_cmd_{name}_result"] = op("send", f"cmd_{name}_result",
                                                   f"Answer to {name}.")

    schemas: dict[str, Any] = {
        "Envelope": ENVELOPE,
        "EventBatch": {"type": "array", "minItems": 1,
                       "items": {"$ref": "#/components/schemas/Envelope"},
                       "description": "mqtt.batch > 1: consecutive envelopes of one device, "
                                      "in seq order, byte for byte as stored."},
        "State": STATE,
        "Health": HEALTH,
        "ContentResult": CONTENT_RESULT_SCHEMA,
        "CommandResult": COMMAND_RESULT_SCHEMA,
        "Confirmed": CONFIRMED_SCHEMA,
    }
    messages: dict[str, Any] = {
        "event": _msg("event", "One event", "Envelope", qos=1, retain=False,
                      description="MQTT 5 user property `replayed: true` marks an event sent "
                                  "from a backlog (older than mqtt.replay_after_s when sent, "
                                  "or queued before a reconnect). It is outside the envelope, "
                                  "so the hash chain is unaffected."),
        "eventBatch": _msg("eventBatch", "A batch of events", "EventBatch", qos=1,
                           retain=False, description="A JSON array of envelopes (mqtt.batch)."),
        "state": _msg("state", "Counter state", "State", qos=1, retain=True,
                      description="Retained. Last Will: {\"online\": false}."),
        "health": _msg("health", "Health", "Health", qos=0, retain=False,
                       description="Outbox depth, oldest unsent age, disk, CPU temperature, "
                                   "peripherals, people waiting."),
        "contentResult": _msg("contentResult", "Content result", "ContentResult", qos=1,
                              retain=False, description="ok=false: rejected, nothing changed."),
        "commandResult": _msg("commandResult", "Command result", "CommandResult", qos=1,
                              retain=False, description="Echoes the request id. Every "
                              "command gets one, also one that failed validation."),
        "confirmed": _msg("confirmed", "Confirmed up to", "Confirmed", qos=1, retain=True,
                          description="Published by HQ after its commit when the counter's "
                                      "contiguous seq advances."),
    }
    for kind in CONTENT_KINDS:
        name = kind.capitalize()
        schemas[name] = copy.deepcopy(CONTENT_SCHEMAS[kind])
        messages[kind] = _msg(kind, f"Site {kind}", name, qos=1, retain=True,
                              description="Retained; versions only go forward (numbers "
                                          "compared as numbers): an older one is refused "
                                          "unless cmd/rollback named it.")
    for cmd in COMMAND_SCHEMAS:
        name = "Cmd" + "".join(p.capitalize() for p in cmd.split("_"))
        schemas[name] = copy.deepcopy(COMMAND_SCHEMAS[cmd])
        messages[f"cmd_{cmd}"] = _msg(f"cmd_{cmd}", f"Command {cmd}", name, qos=1,
                                      retain=False, description="Answered on .../result.")

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "counter-kiosk MQTT contract",
            "version": __version__,
            "description": "Counters publish events, state and health under "
                           "kiosk/v1/{site}/{device}; HQ publishes site content under "
                           "kiosk/v1/{site} and commands under .../cmd/{name}. "
                           "See docs/mqtt.md. Generated by `python -m sync.asyncapi`.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "city": {
                "host": "mqtt.example.gov.cn:8883",
                "protocol": "secure-mqtt",
                "protocolVersion": "5",
                "description": "TLS; a counter is the user <site>.<device>: client "
                               "certificate with that CN on 8883 or password on 8884; "
                               "rules in docs/mosquitto/README.md.",
                "security": [{"$ref": "#/components/securitySchemes/deviceCertificate"},
                             {"$ref": "#/components/securitySchemes/devicePassword"}],
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "parameters": {
                "site": _param("site (station) id: [a-z0-9][a-z0-9_-]{0,63}"),
                "device": _param("device (counter) id, unique in its site; the broker "
                                 "user is <site>.<device>"),
                "kind": _param("site content kind", list(CONTENT_KINDS)),
            },
            "securitySchemes": {
                "deviceCertificate": {"type": "X509",
                                      "description": "client certificate, CN = <site>.<device>"},
                "devicePassword": {"type": "userPassword",
                                   "description": "username = <site>.<device>, password from "
                                                  "mqtt.password_file"},
            },
        },
    }


def render() -> str:
    header = ("# Generated by `python -m sync.asyncapi > docs/asyncapi.yaml`; do not edit.\n"
              "# tests/sync/test_sync_asyncapi.py checks it is current and valid AsyncAPI 3.0.\n")
    return header + yaml.safe_dump(build(), sort_keys=False, allow_unicode=True, width=100)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render())
