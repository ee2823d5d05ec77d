"""Issue 10 item 7 (the tool): `kiosk-hq publish` validates with the counters' own
schemas, refuses sites that are not one topic level, and exits non-zero when the broker
refuses the publish (PUBACK >= 128, paho#715), against the shipped broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.sync_cli import main_hq
from tests.sync.conftest import Hq, Running, fill_outbox, until
from tests.sync.fabric import (  # noqa: F401 (fixtures)
    HQ_HOLDS_S,
    HQ_PASSWORD,
    SITE,
    ShippedBroker,
    cert_device,
    fabric_fixture,
    fabric_hq_fixture,
)
from tests.sync.test_downlink_strict import _catalogue

pytestmark = pytest.mark.broker


def _doc(tmp_path: Path, name: str, doc: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False))
    return str(path)


def _hq_args(tmp_path: Path, fabric: ShippedBroker) -> list[str]:
    (tmp_path / "hq.password").write_text(HQ_PASSWORD + "\n")
    return ["--host", "127.0.0.1", "--port", str(fabric.pw_port), "--tls", "--ca",
            fabric.pki.ca, "--username", "kiosk-hq", "--password-file",
            str(tmp_path / "hq.password")]


@pytest.mark.parametrize(("site", "doc", "message"), [
    ("demo-site/demo-w01", _catalogue(), "site 'demo-site/demo-w01' is not a site id"),
    ("#", _catalogue(), "site '#' is not a site id"),
    ("+", _catalogue(), "site '+' is not a site id"),
    (SITE, _catalogue(service={"fees": [{"item": "x", "yuan": float("nan"), "basis": "b"}]}),
     "NaN is not a number JSON allows"),
    (SITE, _catalogue(version="2026.12.1\n"), "U+000A"),
    (SITE, _catalogue(service={"code": "id_card.renew\n"}), "U+000A"),
])
def test_publish_refuses_what_a_counter_would_refuse(
        tmp_path: Path, fabric: ShippedBroker, capsys: pytest.CaptureFixture[str],
        site: str, doc: object, message: str) -> None:
    code = main_hq(["publish", *_hq_args(tmp_path, fabric), "--site", site, "catalogue",
                    _doc(tmp_path, "c.json", doc)])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert "Traceback" not in err


def test_publish_exits_non_zero_when_the_broker_refuses(
        tmp_path: Path, fabric: ShippedBroker, fabric_hq: Hq, running: list[Running],
        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = cert_device(tmp_path, fabric, SITE, "demo-w01")
    fill_outbox(cfg, 30)
    r = Running(cfg)
    running.append(r)
    assert r.syncer.idle.wait(30)
    good = _doc(tmp_path, "c.json", _catalogue(version="2026.12.1"))
    # A counter's certificate may not write site content: PUBACK 135, exit 1.
    other = cert_device(tmp_path / "other", fabric, SITE, "demo-w02")
    code = main_hq(["publish", "--host", "127.0.0.1", "--port", str(fabric.port), "--tls",
                    "--ca", fabric.pki.ca, "--cert", other.mqtt.cert_file, "--key",
                    other.mqtt.key_file, "--site", SITE, "catalogue", good])
    out = capsys.readouterr()
    assert code == 1 and "refused catalogue" in out.err and "135" in out.err, out.err
    assert "published" not in out.out
    assert r.syncer.stats.content_applied == 0
    # HQ's user may: exit 0, and the counter applies it.
    assert main_hq(["publish", *_hq_args(tmp_path, fabric), "--site", SITE, "catalogue",
                    good]) == 0
    assert "published catalogue" in capsys.readouterr().out
    assert until(lambda: r.syncer.stats.content_applied == 1)
    assert fabric_hq.wait_count(30, HQ_HOLDS_S)
    fabric_hq.assert_complete(cfg)
    assert r.syncer.stats.connections == 1
