"""station.toml: a good file loads; each mistake stops start-up with the file, the line,
the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.errors import ConfigError
from station.config import load, loads
from tests.station.server_support import STATION_TOML, station_toml


def test_the_example_loads(tmp_path: Path) -> None:
    cfg = load(station_toml(tmp_path, 1999))
    assert cfg.site == "s1" and cfg.mqtt.port == 1999 and not cfg.mqtt.tls
    assert [w.number for w in cfg.windows] == [1, 2, 3]
    assert cfg.prefix_of("hukou.birth") == "B" and cfg.window(2).backup == 1  # type: ignore[union-attr]
    assert cfg.services == ("id_card.renew", "hukou.birth", "id_card.lost")


@pytest.mark.parametrize(("old", "new", "message"), [
    ('prefix = "W1"', 'prefix = "E"',
     "station.toml:29: fallback[1].prefix: prefix 'E' is already used by fallback[0]. Fix: "
     "give every group and every device's block its own prefix"),
    ('prefix = "W1"', 'prefix = "A1"', "fallback[1].prefix: prefix 'A1' overlaps the prefix "
                                       "of groups[0]"),
    ('device = "w01"', 'device = "entrance"', "fallback[1].device: device 'entrance' has two "
                                              "blocks"),
    ("backup = 1", "backup = 7", "station.toml:14: windows[1].backup: window 7 is not "
                                 "configured. Fix: name a window of this station, or 0"),
    ("away_alert_min = 15", "away_alert_min = 0", "station.toml:3: away_alert_min: 0 is "
                                                  "below the minimum (1 to 720)"),
    ("away_alert_min = 15", "away_alert_minutes = 15", "away_alert_minutes: unknown key. "
                                                       "Fix: remove it or correct the "
                                                       "spelling; did you mean 'away_alert_min'"),
    ('services = ["hukou.birth"]\n[[groups]]', 'services = ["hukou.x"]\n[[groups]]',
     "windows[2].services[0]: service 'hukou.x' is in no [[groups]]"),
    ('prefix = "A"', 'prefix = "a"', "groups[0].prefix: 'a' is not a ticket prefix"),
    ('site = "s1"', 'site = "S 1"', "station.toml:1: site: 'S 1' is not a valid id"),
])
def test_a_mistake_names_its_line_key_and_fix(old: str, new: str, message: str) -> None:
    good = STATION_TOML.format(db="/tmp/x.db", port=1883)
    assert old in good
    with pytest.raises(ConfigError) as err:
        loads(good.replace(old, new, 1), "station.toml")
    assert message in str(err.value)


def test_a_missing_file_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file\. Fix: pass --config"):
        load(tmp_path / "nope.toml")


def test_the_shipped_example_loads() -> None:
    root = Path(__file__).resolve().parents[2]
    cfg = load(root / "provision" / "station" / "station.example.toml")
    assert cfg.site == "demo-site" and cfg.db_path.name == "kiosk.db"
    assert [f.prefix for f in cfg.fallback] == ["E", "W1", "W2"]
