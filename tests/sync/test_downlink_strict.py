"""Issue 10 item 8: the device downlink refuses non-finite numbers, strings that only
match before a trailing newline, rollbacks HQ did not order, integers beyond 64 bits and
unbounded resend ranges, and answers every command. Handlers are fed directly; the last
test runs the attacks through the shipped broker against a real kiosk-sync."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sync.schema import MAX_RESEND
from sync.uplink import Syncer
from tests.sync.conftest import Hq, Running, fill_outbox, unsent, until
from tests.sync.fabric import (  # noqa: F401 (fixtures)
    HQ_HOLDS_S,
    HQ_PASSWORD,
    SITE,
    Raw,
    ShippedBroker,
    cert_device,
    fabric_fixture,
    fabric_hq_fixture,
)
from tests.sync.test_sync_downlink import CATALOGUE, content_rows


def _catalogue(**changes: Any) -> dict[str, Any]:
    service = {**CATALOGUE["services"][0], **changes.pop("service", {})}
    return {**CATALOGUE, "services": [service], **changes}


def _send(s: Syncer, topic: str, payload: bytes) -> dict[str, Any]:
    out = s.handle_message(topic, payload)
    assert out is not None
    return out[1]


@pytest.mark.parametrize(("payload", "reason"), [
    (json.dumps(_catalogue(service={"fees": [{"item": "工本费", "yuan": float("nan"),
                                              "basis": "x"}]})).encode(), "NaN"),
    (json.dumps(_catalogue(service={"fees": [{"item": "工本费", "yuan": float("inf"),
                                              "basis": "x"}]})).encode(), "Infinity"),
    (json.dumps(_catalogue()).replace('"yuan": 20', '"yuan": 1e999').encode(), "finite"),
    (json.dumps(_catalogue(version="2026.12.1\n")).encode(), "U+000A"),
    (json.dumps(_catalogue(service={"code": "id_card.renew\n"})).encode(), "U+000A"),
    (json.dumps(_catalogue(published_at="2026-11-01garbage")).encode(), "does not match"),
    (json.dumps(_catalogue(title="办事\ud800指南")).encode(), "lone surrogate"),
    (json.dumps(_catalogue(title="办事\x1b[2J")).encode(), "control character"),
    (json.dumps(_catalogue(version="2" + "0" * 5000)).encode(), "longer than 64"),
    (json.dumps(_catalogue()).replace('"yuan": 20', '"yuan": ' + "9" * 5000).encode(),
     "5000 digits"),
])
def test_content_that_only_looked_valid_is_refused(syncer: Syncer, payload: bytes,
                                                   reason: str) -> None:
    before = content_rows(syncer)
    res = _send(syncer, syncer.topics.content("catalogue"), payload)
    assert res["ok"] is False and res["applied"] is False
    assert reason in res["error"], res["error"]
    assert content_rows(syncer) == before


def test_patterns_match_the_whole_string() -> None:
    from device.errors import ParseError
    from sync.schema import validate

    schema = {"type": "string", "maxLength": 500, "pattern": "^[a-z]+$"}  # multi-line text
    validate("abc", schema)
    with pytest.raises(ParseError, match="does not match"):
        validate("abc\n", schema)  # re.search("^[a-z]+$") accepts it
    with pytest.raises(ParseError, match="does not match"):
        validate("２０２６-11-01", {"type": "string", "maxLength": 40,
                                   "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"})


def test_an_older_version_needs_hqs_rollback_command(syncer: Syncer) -> None:
    t = syncer.topics
    topic = t.content("catalogue")
    assert _send(syncer, topic, json.dumps(_catalogue(version="2026.11.10")).encode())["applied"]
    older = json.dumps(_catalogue(version="2026.11.9")).encode()
    res = _send(syncer, topic, older)
    assert not res["ok"] and "older than the stored '2026.11.10'" in res["error"]
    assert "cmd/rollback" in res["error"]
    assert [v for _, v, _ in content_rows(syncer)] == ["2026.11.10"]
    # HQ orders it: recorded, applied at once (the refused document is at hand).
    res = _send(syncer, t.command("rollback"), json.dumps(
        {"id": "rb1", "kind": "catalogue", "version": "2026.11.9"}).encode())
    assert res["ok"] and res["id"] == "rb1"
    assert res["result"] == {"kind": "catalogue", "version": "2026.11.9", "applied": True}
    assert [v for _, v, _ in content_rows(syncer)] == ["2026.11.9"]
    # The permission was for that one step: going back further needs another order.
    res = _send(syncer, topic, json.dumps(_catalogue(version="2026.11.1")).encode())
    assert not res["ok"] and "older" in res["error"]
    # An order that comes first waits for its document, across a restart of the process.
    res = _send(syncer, t.command("rollback"), json.dumps(
        {"id": "rb2", "kind": "catalogue", "version": "2026.10.1"}).encode())
    assert res["result"]["applied"] is False
    again = Syncer(syncer.cfg)
    try:
        res = _send(again, topic, json.dumps(_catalogue(version="2026.10.1")).encode())
        assert res["ok"] and res["applied"]
    finally:
        again.close()


@pytest.mark.parametrize(("name", "payload", "reason"), [
    ("resend", b'{"id": "r1", "from_seq": 1, "to_seq": ' + b"9" * 5000 + b"}", "5000 digits"),
    ("resend", json.dumps({"id": "r2", "from_seq": 1, "to_seq": 2**63}).encode(), "above"),
    ("resend", json.dumps({"id": "r3", "from_seq": 2**63, "to_seq": 2**63}).encode(), "above"),
    ("resend", json.dumps({"id": "r4", "from_seq": 1, "to_seq": 2**62}).encode(),
     f"more than {MAX_RESEND} events"),
    ("resend", json.dumps({"id": "r5", "from_seq": 5, "to_seq": 4}).encode(), "below"),
    ("resend", b'{"id": "r6", "from_seq": NaN}', "NaN"),
    ("ping", b'{"id": "p\\n1"}', "control character"),
    ("rollback", json.dumps({"id": "rb", "kind": "catalogue",
                             "version": "v1\n"}).encode(), "U+000A"),
    ("rollback", json.dumps({"id": "rb", "kind": "secrets", "version": "1"}).encode(),
     "not one of"),
])
def test_every_bad_command_gets_an_error_result(syncer: Syncer, name: str, payload: bytes,
                                                reason: str) -> None:
    fill_outbox(syncer.cfg, 30)
    syncer.store.mark_sent(list(range(1, 31)))
    topic, res = syncer.handle_message(syncer.topics.command(name), payload) or ("", {})
    assert topic == syncer.topics.command_result(name)
    assert res["ok"] is False and reason in res["error"], res
    assert unsent(syncer.cfg) == 0  # nothing re-queued


def test_bounded_resend_and_odd_names_still_get_results(syncer: Syncer) -> None:
    fill_outbox(syncer.cfg, 30)
    syncer.store.mark_sent(list(range(1, 31)))
    res = _send(syncer, syncer.topics.command("resend"), b'{"id": "r", "from_seq": 25}')
    assert res["ok"] and res["result"] == {"requeued": 6}
    topic, res = syncer.handle_message(syncer.topics.command("名字"), b'{"id": "x"}') or ("", {})
    assert topic == syncer.topics.command_result("invalid") and not res["ok"]
    res = _send(syncer, syncer.topics.command("ping"), b'{"id": "\\ud800"}')
    assert not res["ok"] and "id" not in res  # the reply itself stays valid UTF-8
    json.dumps(res, ensure_ascii=False).encode("utf-8")


def test_downlink_attacks_through_the_shipped_broker(
        tmp_path: Path, fabric: ShippedBroker, fabric_hq: Hq, running: list[Running]) -> None:
    cfg = cert_device(tmp_path, fabric, SITE, "demo-w01")
    fill_outbox(cfg, 50)
    r = Running(cfg)
    running.append(r)
    assert r.syncer.idle.wait(30)
    tool = Raw(fabric, "hq-tool", user="kiosk-hq", password=HQ_PASSWORD)
    try:
        assert tool.connack() == 0
        root = f"kiosk/v1/{SITE}/demo-w01"
        assert tool.subscribe(f"{root}/cmd/+/result") == 1
        assert tool.subscribe(f"{root}/content/+/result") == 1
        nan = json.dumps(_catalogue(service={"fees": [{"item": "x", "yuan": float("nan"),
                                                       "basis": "x"}]})).encode()
        assert tool.publish(f"kiosk/v1/{SITE}/catalogue", nan, retain=True) < 128
        attacks = {
            "resend": b'{"id": "a1", "from_seq": 1, "to_seq": ' + b"9" * 5000 + b"}",
            "ping": b'{"id": "a2"}',
        }
        for name, payload in attacks.items():
            assert tool.publish(f"{root}/cmd/{name}", payload) < 128
        huge = json.dumps({"id": "a3", "from_seq": 1, "to_seq": 2**62}).encode()
        assert tool.publish(f"{root}/cmd/resend", huge) < 128
        got: dict[str, dict[str, Any]] = {}
        while len(got) < 4:
            _topic, payload = tool.messages.get(timeout=10)
            doc = json.loads(payload)
            got[doc.get("id") or doc["kind"]] = doc
        assert got["catalogue"]["ok"] is False and "NaN" in got["catalogue"]["error"]
        assert got["a1"]["ok"] is False and got["a3"]["ok"] is False
        assert got["a2"]["ok"] is True
        assert r.syncer.stats.content_applied == 0
        fill_outbox(cfg, 20)
        assert fabric_hq.wait_count(70, HQ_HOLDS_S), fabric_hq.count()
        fabric_hq.assert_complete(cfg)
        assert until(lambda: unsent(cfg) == 0)  # marked after the PUBACKs
        assert r.syncer.stats.connections == 1
    finally:
        tool.close()


def test_a_command_that_hits_a_bug_is_still_answered(
        syncer: Syncer, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> tuple[int, str]:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(syncer.store, "head", broken)
    res = _send(syncer, syncer.topics.command("ping"), b'{"id": "p9"}')
    assert res == {"name": "ping", "ok": False, "id": "p9", "ts": res["ts"],
                   "error": "internal error: RuntimeError"}
