"""provision/broker_rules.py as the operator runs it: bad sheets stop with the line and the
fix; a good one gives each counter exactly its own topics (the broker tests in
tests/sync/test_fabric_*.py prove the file works on a real Mosquitto)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[1] / "provision" / "broker_rules.py"
HEAD = "site,device,mqtt_username,mqtt_password_file,client_cert_file\n"


def run(tmp_path: Path, rows: str, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "fleet.csv").write_text(HEAD + rows)
    (tmp_path / "w02.pw").write_text("s3cret\n")
    (tmp_path / "hq.pw").write_text("hq\n")
    return subprocess.run([sys.executable, str(RULES), str(tmp_path / "fleet.csv"), "--out",
                           str(tmp_path / "dynsec.json"), "--hq", f"kiosk-hq={tmp_path}/hq.pw",
                           *extra], capture_output=True, text=True)


@pytest.mark.parametrize(("rows", "message"), [
    ("s1,w02,other-name,w02.pw,\n", "line 2: mqtt_username 'other-name': a counter's broker "
                                    "user is '<site>.<device>' = 's1.w02'"),
    ("s1,w01,,,\n", "line 2: no credentials"),
    ("s1,W01,,,c.crt\n", "line 2: device 'W01' is not a valid id"),
    ("s1,w01,,,c.crt\ns1,w01,,,c.crt\n", "line 3: s1/w01 appears twice"),
    ("s1,w02,,missing.pw,\n", "mqtt_password_file 'missing.pw': No such file"),
])
def test_a_bad_sheet_stops_with_the_line_and_the_fix(tmp_path: Path, rows: str,
                                                     message: str) -> None:
    out = run(tmp_path, rows)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "dynsec.json").exists()


def test_each_counter_gets_exactly_its_own_topics(tmp_path: Path) -> None:
    out = run(tmp_path, "s1,w01,,,c.crt\ns1,w02,s1.w02,w02.pw,\n")
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / "dynsec.json").read_text())
    assert (tmp_path / "dynsec.json").stat().st_mode & 0o777 == 0o600
    assert doc["defaultACLAccess"] == {"publishClientSend": False,
                                       "publishClientReceive": False, "subscribe": False,
                                       "unsubscribe": True}
    clients = {c["username"]: c for c in doc["clients"]}
    assert set(clients) == {"s1.w01", "s1.w02", "kiosk-hq"}
    assert "password" not in clients["s1.w01"] and "clientid" not in clients["s1.w01"]
    assert clients["s1.w02"]["clientid"] == "s1.w02" and clients["s1.w02"]["password"]
    roles = {r["rolename"]: r for r in doc["roles"]}
    acl = {(a["acltype"], a["topic"]) for a in roles["device:s1.w02"]["acls"]}
    root = "kiosk/v1/s1/w02"
    assert acl == {("publishClientSend", f"{root}/{leaf}") for leaf in (
        "events", "state", "health", "cmd/+/result", "content/+/result")} | {
        (kind, f"{root}/{leaf}") for leaf in ("cmd/+", "confirmed")
        for kind in ("subscribeLiteral", "publishClientReceive")}
    assert all(a["topic"].startswith("kiosk/v1/s1/") for a in roles["site:s1"]["acls"])
    hq = {(a["acltype"], a["topic"]) for a in roles["kiosk-hq"]["acls"]}
    assert not any(kind == "publishClientSend" and topic.endswith("/events")
                   for kind, topic in hq)  # HQ never forges events


def test_merge_keeps_other_counters_and_replaces_named_ones(tmp_path: Path) -> None:
    assert run(tmp_path, "s1,w01,,,c.crt\n").returncode == 0
    old = tmp_path / "old.json"
    (tmp_path / "dynsec.json").rename(old)
    out = run(tmp_path, "s2,w09,,,c.crt\n", "--merge", str(old))
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / "dynsec.json").read_text())
    assert {c["username"] for c in doc["clients"]} == {"s1.w01", "s2.w09", "kiosk-hq"}


def test_a_certificate_must_name_its_counter(tmp_path: Path) -> None:
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    for cn in ("s1.w01", "w01"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                        f"/CN={cn}", "-keyout", str(tmp_path / f"{cn}.key"), "-out",
                        str(tmp_path / f"{cn}.crt")], check=True, capture_output=True)
    assert run(tmp_path, "s1,w01,,,s1.w01.crt\n").returncode == 0
    out = run(tmp_path, "s1,w01,,,w01.crt\n")
    assert out.returncode == 2
    assert "is issued to CN='w01'" in out.stderr and "must be 's1.w01'" in out.stderr


def test_the_content_kinds_stay_in_step_with_the_counters_contract(tmp_path: Path) -> None:
    """broker_rules.py runs on the broker host with the stdlib alone, so it keeps its own
    copy of sync.topics.CONTENT_KINDS: a kind added there and not here would leave the
    counters unable to subscribe to it (SUBACK 135) and HQ unable to publish it."""
    import importlib.util

    from sync.topics import CONTENT_KINDS

    spec = importlib.util.spec_from_file_location("broker_rules", RULES)
    assert spec is not None and spec.loader is not None
    rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rules)
    assert rules.CONTENT_KINDS == CONTENT_KINDS
    # And the file it writes grants them: the counter reads, HQ writes, each new kind too.
    assert run(tmp_path, "s1,w01,,,c.crt\n").returncode == 0
    roles = {r["rolename"]: r for r in json.loads((tmp_path / "dynsec.json").read_text())
             ["roles"]}
    site = {(a["acltype"], a["topic"]) for a in roles["site:s1"]["acls"]}
    hq = {(a["acltype"], a["topic"]) for a in roles["kiosk-hq"]["acls"]}
    for kind in ("results", "holidays"):
        assert ("subscribeLiteral", f"kiosk/v1/s1/{kind}") in site
        assert ("publishClientReceive", f"kiosk/v1/s1/{kind}") in site
        assert ("publishClientSend", f"kiosk/v1/+/{kind}") in hq
