"""`kiosk-station`: a bad configuration exits 2 with one line naming the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.station_cli import main
from tests.station.server_support import STATION_TOML


@pytest.mark.parametrize(("text", "message"), [
    (None, "no such file. Fix: pass --config"),
    ("site = [", "not valid TOML"),
    (STATION_TOML.format(db="/tmp/x.db", port=1883).replace('prefix = "W1"', 'prefix = "E"'),
     "fallback[1].prefix: prefix 'E' is already used by fallback[0]. Fix:"),
    (STATION_TOML.format(db="/tmp/x.db", port=1883).replace('host = "127.0.0.1"\n', ""),
     "mqtt.host is empty. Fix: set [mqtt] host"),
])
def test_a_bad_config_exits_2_naming_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             text: str | None, message: str) -> None:
    path = tmp_path / "station.toml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    assert main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kiosk-station: configuration error: ") and message in err
    assert "Traceback" not in err


def test_no_config_at_all_exits_2(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIOSK_STATION_CONFIG", raising=False)
    assert main([]) == 2
    assert "Fix: pass --config" in capsys.readouterr().err
