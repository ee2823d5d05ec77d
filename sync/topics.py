"""The MQTT topic contract (docs/mqtt.md, docs/asyncapi.yaml) in one place.

Device root ``{prefix}/{site}/{device}``; site content ``{prefix}/{site}/{kind}``.
Every level is an id that matches device.config_load's id rule, so no level can hold '/',
'+' or '#'.
"""

from __future__ import annotations

from dataclasses import dataclass

from device.errors import ParseError

# The site content HQ publishes, one retained document per kind and station. Also in
# provision/broker_rules.py (stdlib only, run on the broker host: a test keeps the two in
# step) and hq.publish.models.Kind (checked at import).
CONTENT_KINDS = ("catalogue", "roster", "appointments", "notices", "results", "holidays")
SHARE_GROUP = "hq"


@dataclass(frozen=True)
class Topics:
    prefix: str
    site: str
    device: str

    @property
    def root(self) -> str:
        return f"{self.prefix}/{self.site}/{self.device}"

    @property
    def events(self) -> str:
        return f"{self.root}/events"

    @property
    def state(self) -> str:
        return f"{self.root}/state"

    @property
    def health(self) -> str:
        return f"{self.root}/health"

    @property
    def confirmed(self) -> str:
        """Retained, QoS 1, written by HQ only: ``{"upto": N, "ts": ISO}``, the highest seq
        up to which HQ has committed every event of this counter (no gap below it). The
        counter keeps and re-publishes what HQ has not confirmed: delivery is checked end
        to end, never trusted to the broker (docs/mqtt.md)."""
        return f"{self.root}/confirmed"

    @property
    def commands(self) -> str:
        """Filter for every command addressed to this device."""
        return f"{self.root}/cmd/+"

    def command(self, name: str) -> str:
        return f"{self.root}/cmd/{name}"

    def command_result(self, name: str) -> str:
        return f"{self.root}/cmd/{name}/result"

    def content(self, kind: str) -> str:
        return f"{self.prefix}/{self.site}/{kind}"

    def content_result(self, kind: str) -> str:
        return f"{self.root}/content/{kind}/result"


def hq_filters(prefix: str, share: str = SHARE_GROUP) -> dict[str, str]:
    """What the HQ collector subscribes to, as shared subscriptions (MQTT 5 / 3.1.1)."""
    return {
        "events": f"$share/{share}/{prefix}/+/+/events",
        "state": f"$share/{share}/{prefix}/+/+/state",
        "health": f"$share/{share}/{prefix}/+/+/health",
        # What each counter did with HQ's site content (the console shows who applied what).
        "content_result": f"$share/{share}/{prefix}/+/+/content/+/result",
    }


def split_device_topic(prefix: str, topic: str) -> tuple[str, str, str]:
    """``{prefix}/{site}/{device}/{leaf}`` -> (site, device, leaf); else ParseError."""
    if not topic.startswith(prefix + "/"):
        raise ParseError(f"topic {topic!r} is not under {prefix!r}")
    parts = topic[len(prefix) + 1:].split("/")
    if len(parts) != 3 or not all(parts):
        raise ParseError(f"topic {topic!r} is not {prefix}/<site>/<device>/<leaf>")
    return parts[0], parts[1], parts[2]
