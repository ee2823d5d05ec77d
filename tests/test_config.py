"""Config: the shipped file, every error class (exit 2, file:line, dotted key, "Fix:"),
nothing started on a bad config, and a Hypothesis round trip through TOML text."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device.config import Config, OfficerEntry, Range, RatingPins, load, loads, range_of
from device.errors import ConfigError
from kiosk import cli

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config.toml"


# ------------------------------------------------------------------ the shipped file


def test_shipped_config_loads_and_matches_the_embedded_defaults() -> None:
    shipped, defaults = load(SHIPPED), Config()
    assert shipped.source == str(SHIPPED)
    # The example differs from the embedded defaults only where it shows a real window.
    assert shipped.window.services and not defaults.window.services
    assert shipped.staff.backup_window == 2
    assert dataclasses.replace(
        shipped,
        window=dataclasses.replace(shipped.window, services=()),
        staff=dataclasses.replace(shipped.staff, backup_window=0),
    ) == defaults


def test_shipped_config_shows_every_key() -> None:
    """config.toml is the complete example: every key is written (or commented) in it."""
    text = SHIPPED.read_text(encoding="utf-8")
    missing = []
    for f in dataclasses.fields(Config):
        if f.name in ("source", "roster"):
            continue
        assert re.search(rf"^\[{f.name}\]", text, re.M), f"no [{f.name}] table"
        for sub in dataclasses.fields(typing.get_type_hints(Config)[f.name]):
            if not re.search(rf"^#?\s*{sub.name}\s*=", text, re.M):
                missing.append(f"{f.name}.{sub.name}")
    assert missing == []


def test_no_file_means_embedded_defaults() -> None:
    assert load(None) == Config() and load(None).source == "<embedded defaults>"


def test_missing_file_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file\. Fix: pass --config"):
        load(tmp_path / "nope.toml")


# ------------------------------------------------------------------ every error class

# (name, file text, line, dotted key, words the message must contain)
BAD = [
    ("unknown-key", '[device]\nsite = "s1"\nidd = "w01"\n', 3, "device.idd",
     ["unknown key", "did you mean 'id'?"]),
    ("unknown-table", '[devcie]\nid = "w01"\n', 1, "devcie", ["did you mean 'device'?"]),
    ("wrong-type", '[window]\nname = "x"\nnumber = "1"\n', 3, "window.number",
     ["expected a whole number", "without quotes"]),
    ("wrong-type-str", "[window]\nname = 12\n", 2, "window.name", ["put the value in quotes"]),
    ("missing-roster-key", '[[roster]]\nbadge = "000001"\nname = "李明"\n\n[[roster]]\n'
     'badge = "000002"\nphone = "1"\n', 5, "roster[1].name", ["missing required key"]),
    ("bad-literal", '[gpio]\npin_factory = "mokc"\n', 2, "gpio.pin_factory",
     ["'mokc' is not allowed", "'mock'"]),
    ("duplicate-pins", "[gpio]\naway_pin = 23\nnext_pin = 5\n", 3, "gpio.next_pin",
     ["BCM pin 5 is already used by gpio.rating_pins.very_satisfied"]),
    ("duplicate-pins-inline",
     "[gpio]\nrating_pins = { very_satisfied = 5, satisfied = 5, basic = 13, "
     "unsatisfied = 19, very_unsatisfied = 26 }\n", 2, "gpio.rating_pins.satisfied",
     ["BCM pin 5 is already used"]),
    ("pin-out-of-range", "[gpio]\nbuzzer_pin = 40\n", 2, "gpio.buzzer_pin",
     ["BCM pin 40 does not exist"]),
    ("bad-device-id", '[device]\nsite = "s1"\nid = "Window 1/a"\n', 3, "device.id",
     ["is not a valid id", "lower-case"]),
    ("bad-timezone", '[device]\ntimezone = "Mars/Olympus"\n', 2, "device.timezone",
     ["not a known time zone"]),
    ("not-positive", "[timeouts]\nrating_s = 0\n", 2, "timeouts.rating_s",
     ["0.0 is below the minimum (1 to 600)", "use a value from 1 to 600"]),
    ("sign-retries-negative", "[sign]\nretries = -1\n", 2, "sign.retries",
     ["-1 is below the minimum (0 to 10)", "resends after the first try"]),
    ("mqtt-port-too-big", '[mqtt]\nhost = "b"\ntls = false\nport = 70000\n', 4, "mqtt.port",
     ["70000 is above the maximum (1 to 65535)"]),
    ("link-port-too-big", '[link]\nurl = "tcp://0.0.0.0:99999"\n', 2, "link.url",
     ["port from 0 to 65535"]),
    ("scanner-socket-port", '[scanner]\nurl = "socket://10.0.0.9:0"\n', 2, "scanner.url",
     ["port from 1 to 65535"]),
    ("printer-port-too-big", '[printer]\ntransport = "network"\nurl = "10.0.0.5:91000"\n', 3,
     "printer.url", ["has port 91000; a port is from 1 to 65535"]),
    ("usb-id-too-big", '[printer]\nusb_vendor = 0x10000\n', 2, "printer.usb_vendor",
     ["above the maximum"]),
    ("pin-negative-inline",
     "[gpio]\nrating_led_pins = { very_satisfied = -1, satisfied = 16, basic = 20, "
     "unsatisfied = 21, very_unsatisfied = 25 }\n", 2, "gpio.rating_led_pins.very_satisfied",
     ["BCM pin -1 does not exist"]),
    ("duplicate-badge", '[[roster]]\nbadge = "000001"\nname = "a"\n[[roster]]\n'
     'badge = "000001"\nname = "b"\n', 5, "roster[1].badge", ["appears twice"]),
    ("on-duty-not-in-roster", '[staff]\non_duty = "999999"\n', 2, "staff.on_duty",
     ["no [[roster]] entry has badge '999999'"]),
    ("partial-inline-table", "[gpio]\nrating_pins = { very_satisfied = 5 }\n", 2,
     "gpio.rating_pins.satisfied", ["missing required key"]),
    ("section-not-a-table", 'gpio = "mock"\n', 1, "gpio", ["expected a table"]),
    ("badge-is-a-resident-id", '[[roster]]\nbadge = "11010519491231002X"\nname = "a"\n'
     '[staff]\non_duty = "11010519491231002X"\n', 2, "roster[0].badge",
     ["looks like a resident ID number"]),
    ("backup-is-a-resident-id", '[staff]\nbackup = "11010519491231002X"\n', 2,
     "staff.backup", ["looks like a resident ID number"]),
    ("retention-under-a-month", "[store]\nretention_days = 7\n", 2, "store.retention_days",
     ["shorter than a month", "32 or more"]),
    ("panel-on-every-interface", '[panel]\nenabled = true\nlisten = "0.0.0.0:8080"\n', 3,
     "panel.listen", ["every interface", "counter LAN"]),
    ("panel-listen-a-name", '[panel]\nenabled = true\nlisten = "pi.local:8080"\n', 3,
     "panel.listen", ["not an IP address"]),
    ("panel-enabled-without-listen", "[panel]\nenabled = true\n", 2, "panel.enabled",
     ["listen is empty"]),
    ("panel-allow-from-not-a-network", '[panel]\nallow_from = ["desk-pc"]\n', 2,
     "panel.allow_from[0]", ["not an address or network"]),
    ("pin-hash-in-the-clear", '[[roster]]\nbadge = "000001"\nname = "a"\npin_hash = "123456"\n',
     4, "roster[0].pin_hash", ["not a PIN hash", "kiosk hash-pin"]),
]
SYNTAX = '[device]\nsite = "s1"\nid = w01\n'  # unquoted string: a TOML syntax error


@pytest.mark.parametrize(("text", "line", "key", "words"),
                         [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_error_names_file_line_key_and_fix(tmp_path: Path, capsys, text: str, line: int,
                                           key: str, words: list[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert (info.value.key, info.value.line) == (key, line)
    msg = str(info.value)
    assert msg.startswith(f"{path}:{line}: {key}: ")
    assert "Fix: " in msg
    for w in words:
        assert w in msg
    assert cli.main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}:{line}: {key}: " in err  # one message


def test_syntax_error_names_file_line_and_fix(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(SYNTAX, encoding="utf-8")
    assert cli.main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "line 3" in err and "Fix: " in err


def test_error_line_in_the_shipped_file(tmp_path: Path) -> None:
    lines = SHIPPED.read_text(encoding="utf-8").splitlines()
    no = next(i for i, ln in enumerate(lines) if ln.startswith("bounce_ms"))
    lines[no] = 'bounce_ms = "fifty"'
    with pytest.raises(ConfigError) as info:
        loads("\n".join(lines), source="config.toml")
    assert str(info.value).startswith(f"config.toml:{no + 1}: gpio.bounce_ms: expected")


def test_good_config_passes_check(tmp_path: Path, capsys) -> None:
    assert cli.main(["check-config", "--config", str(SHIPPED)]) == 0
    assert capsys.readouterr().out.strip() == f"{SHIPPED}: ok"


def _kiosk(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize("case", [*BAD[::3], ("syntax", SYNTAX, 3, "", [])],
                         ids=lambda c: c[0])
def test_bad_config_starts_nothing(tmp_path: Path, case: tuple) -> None:
    """`kiosk run` on a bad config exits 2 before opening anything: no database, no socket."""
    _, text, line, key, _ = case
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    state = tmp_path / "state"
    for args in (["check-config"], ["run", "--simulate", "--headless", "--state-dir",
                                    str(state)]):
        proc = _kiosk(*args, "--config", str(path))
        assert proc.returncode == 2, proc.stderr
        assert "Fix: " in proc.stderr and str(path) in proc.stderr
        assert (f":{line}: {key}: " if key else f"line {line}") in proc.stderr
        assert proc.stdout == ""
    assert not state.exists()


# ------------------------------------------------------------------ numeric ranges


def _numeric_keys() -> list[tuple[tuple[str, ...], dataclasses.Field[Any], Any]]:
    """(path, field, default) of every int or float key in the schema."""
    out = []

    def walk(cls: Any, path: tuple[str, ...], instance: Any) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            value = getattr(instance, f.name, None)
            if dataclasses.is_dataclass(tp):
                walk(tp, (*path, f.name), value)
            elif tp in (int, float):
                out.append(((*path, f.name), f, value))

    walk(Config, (), Config())
    return out


def test_every_numeric_key_has_its_range_and_its_default_is_in_it() -> None:
    keys = _numeric_keys()
    assert len(keys) > 40
    for path, f, default in keys:
        rng = range_of(f)
        assert rng is not None, f"{'.'.join(path)} has no range next to its definition"
        assert rng.lo <= default <= rng.hi, path


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_out_of_range_anywhere_names_its_line_and_key(data: st.DataObject) -> None:
    path, f, default = data.draw(st.sampled_from(_numeric_keys()))
    rng = range_of(f)
    assert rng is not None
    step = 1 if isinstance(default, int) else 0.5
    value = data.draw(st.sampled_from([rng.lo - step, rng.hi + step]))
    value = int(value) if isinstance(default, int) else value
    *table, key = path
    if table[-1] in ("rating_pins", "rating_led_pins"):
        pins = dict(getattr(getattr(Config(), table[0]), table[1]).as_dict(), **{key: value})
        text = f"[{table[0]}]\n# a comment\n{table[1]} = " + "{ " + ", ".join(
            f"{k} = {v}" for k, v in pins.items()) + " }\n"
    else:
        text = f"[{'.'.join(table)}]\n# a comment\n{key} = {value!r}\n"
    with pytest.raises(ConfigError) as info:
        loads(text, source="c.toml")
    dotted = ".".join(path)
    assert (info.value.key, info.value.line) == (dotted, 3)
    msg = str(info.value)
    assert msg.startswith(f"c.toml:3: {dotted}: ") and "Fix: use a value from" in msg


# ------------------------------------------------------------------ round trip


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        # JSON string escapes are TOML basic-string escapes; TOML also forbids a raw DEL.
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if dataclasses.is_dataclass(v):
        return "{ " + ", ".join(f"{f.name} = {toml_value(getattr(v, f.name))}"
                                for f in dataclasses.fields(v)) + " }"
    raise TypeError(type(v))


def dump(cfg: Config) -> tuple[str, dict[tuple[str, ...], int]]:
    """A tiny TOML writer: the text and the line of every scalar key it wrote."""
    out: list[str] = []
    where: dict[tuple[str, ...], int] = {}
    for f in dataclasses.fields(Config):
        if f.name in ("source", "roster"):
            continue
        out += ["", f"[{f.name}]"]
        section = getattr(cfg, f.name)
        for sub in dataclasses.fields(section):
            out.append(f"{sub.name} = {toml_value(getattr(section, sub.name))}")
            where[(f.name, sub.name)] = len(out)
    for i, officer in enumerate(cfg.roster):
        out += ["", "[[roster]]"]
        for sub in dataclasses.fields(officer):
            out.append(f"{sub.name} = {toml_value(getattr(officer, sub.name))}")
            where[("roster", str(i), sub.name)] = len(out)
    return "\n".join(out) + "\n", where


# Free-text fields get any text; others keep their default (another issue may validate
# them), but are still written out and read back.
FREE_TEXT = {"window", "staff", "device.state_dir"}
TIMEZONES = ["Asia/Shanghai", "Asia/Urumqi", "UTC", "Europe/Berlin"]


def value_for(tp: Any, default: Any, free: bool,
              rng: Range | None = None) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    if rng is not None and tp is int:
        return st.integers(int(rng.lo), int(rng.hi))
    if rng is not None and tp is float:
        return st.floats(rng.lo, rng.hi, allow_nan=False, allow_infinity=False)
    if origin is Literal:
        return st.sampled_from(typing.get_args(tp))
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(1, 1000)
    if tp is float:
        return st.floats(0.01, 1000, allow_nan=False, allow_infinity=False)
    if tp is str:
        return st.text(max_size=30) if free else st.just(default)
    if origin is tuple:
        return st.lists(st.text(max_size=12) if free else st.sampled_from(["a", "b_c"]),
                        max_size=4).map(tuple)
    raise TypeError(tp)


@st.composite
def configs(draw: st.DrawFn) -> Config:
    hints = typing.get_type_hints(Config)
    sections: dict[str, Any] = {}
    for f in dataclasses.fields(Config):
        if f.name in ("source", "roster"):
            continue
        cls = hints[f.name]
        sub_hints = typing.get_type_hints(cls)
        kw = {}
        for sub in dataclasses.fields(cls):
            tp = sub_hints[sub.name]
            if dataclasses.is_dataclass(tp):
                continue  # the pin maps, below
            free = f.name in FREE_TEXT or f"{f.name}.{sub.name}" in FREE_TEXT
            kw[sub.name] = draw(value_for(tp, sub.default, free, range_of(sub)))
        sections[f.name] = cls(**kw)
    ident = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
    sections["device"] = dataclasses.replace(
        sections["device"], site=draw(ident), id=draw(ident),
        timezone=draw(st.sampled_from(TIMEZONES)))
    pins = draw(st.permutations(range(28)))
    g = sections["gpio"]
    sections["gpio"] = dataclasses.replace(
        g, rating_pins=RatingPins(*pins[0:5]), rating_led_pins=RatingPins(*pins[5:10]),
        away_pin=pins[10], next_pin=pins[11], away_led_pin=pins[12], buzzer_pin=pins[13])
    p = sections["printer"]
    if p.transport != "sim":
        sections["printer"] = dataclasses.replace(p, url="/dev/ttyUSB0", usb_vendor=0x0416,
                                                  usb_product=0x5011)
    m = sections["mqtt"]
    sections["mqtt"] = dataclasses.replace(m, ca_file="ca.pem")
    # [station] checks a broker and a number block when enabled (docs/station.md).
    sections["station"] = dataclasses.replace(sections["station"], host="192.168.50.2",
                                              ca_file="ca.pem", fallback_prefix="W1")
    sections["panel"] = dataclasses.replace(
        sections["panel"], listen=draw(st.sampled_from(["192.168.50.21:8080", "[fd00::5]:80"])),
        allow_from=tuple(draw(st.lists(st.sampled_from(["192.168.50.30", "10.0.0.0/8", "fd00::/8"]),
                                       max_size=3))))
    badges = draw(st.lists(st.from_regex(r"[0-9]{6}", fullmatch=True), min_size=1,
                           max_size=4, unique=True))
    roster = tuple(OfficerEntry(b, draw(st.text(max_size=10)), draw(st.text(max_size=15)))
                   for b in badges)
    sections["staff"] = dataclasses.replace(sections["staff"],
                                            on_duty=draw(st.sampled_from(badges)))
    return Config(roster=roster, **sections)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs())
def test_round_trip_through_toml_text(cfg: Config) -> None:
    text, _ = dump(cfg)
    assert loads(text) == cfg


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), data=st.data())
def test_wrong_type_anywhere_names_its_line_and_key(cfg: Config, data: st.DataObject) -> None:
    text, where = dump(cfg)
    path = data.draw(st.sampled_from(sorted(where)))
    lines = text.split("\n")
    key, _, value = lines[where[path] - 1].partition(" = ")
    wrong = "1" if value.startswith('"') else '"1"'
    if value.startswith(("{", "[")):
        wrong = "true"
    lines[where[path] - 1] = f"{key} = {wrong}"
    with pytest.raises(ConfigError) as info:
        loads("\n".join(lines), source="c.toml")
    dotted = ".".join(path).replace(".0.", "[0].").replace(".1.", "[1].").replace(
        ".2.", "[2].").replace(".3.", "[3].")
    assert (info.value.key, info.value.line) == (dotted, where[path])
    assert "Fix: " in str(info.value)


@pytest.mark.parametrize("value", [-1, 121])
def test_appointment_grace_window_has_a_range(value: int) -> None:
    with pytest.raises(ConfigError) as info:
        loads(f"[queue]\nappointment_grace_min = {value}\n", source="c.toml")
    assert info.value.key == "queue.appointment_grace_min" and "0 to 120" in str(info.value)
    assert loads("[queue]\nappointment_grace_min = 0\n").queue.appointment_grace_min == 0


@pytest.mark.parametrize(("key", "value", "span"), [
    ("no_show_requeue", -1, "0 to 9"), ("no_show_requeue", 10, "0 to 9"),
    ("no_show_requeue_after", 100, "0 to 99"), ("no_show_requeue_after", 1.5, "whole number")])
def test_the_no_show_requeue_keys_name_the_key_and_the_fix(key: str, value: object,
                                                           span: str) -> None:
    with pytest.raises(ConfigError) as info:
        loads(f"[queue]\n{key} = {value}\n", source="c.toml")
    assert info.value.key == f"queue.{key}" and span in str(info.value)
    assert "Fix: " in str(info.value)
    cfg = loads("[queue]\nno_show_requeue = 0\nno_show_requeue_after = 0\n").queue
    assert (cfg.no_show_requeue, cfg.no_show_requeue_after) == (0, 0)
