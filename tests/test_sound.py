"""The sound driver: which clips each committed event plays, site replacements, aplay."""

from __future__ import annotations

import dataclasses
import threading
import wave

from device.config import Config
from device.intents import Press
from drivers import registry
from drivers.sound import SHIPPED_DIR, call_clips, clips_for


def test_call_sentence_joins_clips_digit_by_digit():
    assert call_clips("A012", 3) == [
        "call_please", "letter_A", "digit_0", "digit_1", "digit_2", "call_number",
        "call_to", "digit_3", "call_window"]


def test_every_clip_the_driver_can_ask_for_is_shipped_and_playable():
    names = {"greeting", "rating_prompt", "thanks", "farewell", "ticket"}
    names |= set(call_clips("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", 9))
    for name in names:
        with wave.open(str(SHIPPED_DIR / f"{name}.wav")) as w:
            assert w.getnframes() > 1000, name  # not an empty file


def test_a_case_plays_greeting_prompt_thanks_and_farewell(core, config):
    sound = registry.sound(config.sound)
    sound.start(core)
    core.submit(Press("next"))
    core.submit(Press("next"))
    core.submit(Press("satisfied"))
    assert list(sound.played) == [["greeting"], ["rating_prompt"], ["thanks", "farewell"]]


def test_next_button_announces_the_called_ticket(core, desk, config):
    sound = registry.sound(config.sound, window=3)
    sound.start(core)
    desk.issue_ticket("id_card.renew")
    core.submit(Press("next"))
    assert list(sound.played)[-2:] == [["greeting"], call_clips("A001", 1)]
    assert sound.control_commands()["sound"]({})["played"][-1][0] == "call_please"


def test_a_site_recording_replaces_the_shipped_clip(tmp_path, config):
    (tmp_path / "greeting.wav").write_bytes((SHIPPED_DIR / "thanks.wav").read_bytes())
    sound = registry.sound(dataclasses.replace(config.sound, dir=str(tmp_path)))
    assert sound.path("greeting") == tmp_path / "greeting.wav"
    assert sound.path("farewell") == SHIPPED_DIR / "farewell.wav"
    assert sound.path("nope") is None


def test_unknown_events_are_silent():
    assert clips_for("device.boot", {}, 1) == []


def test_aplay_backend_reports_a_fault_when_there_is_no_sound_card(core, config: Config,
                                                                   tmp_path, monkeypatch):
    # The boundary: the aplay binary. A fake one that fails as aplay does with no card.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "aplay").write_text("#!/bin/sh\necho 'aplay: main: audio open error' >&2\nexit 1\n")
    (fake / "aplay").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    sound = registry.sound(dataclasses.replace(config.sound, player="aplay"))
    sound.start(core)
    assert sound.backend == "aplay"
    faulted = threading.Event()
    core.subscribe(lambda ch: ch.faults.get("sound") and faulted.set())
    sound.play(["greeting"])
    assert faulted.wait(10)
    sound.close()
    rows = core.store.query("SELECT body FROM events WHERE type = 'device.fault'")
    assert "audio open error" in rows[-1][0]
