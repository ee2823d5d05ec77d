"""The service catalogue: the shipped default's facts, parsing, HQ replacement."""

from __future__ import annotations

import json
import sqlite3

import pytest

from device.catalogue import CatalogueSource, load_default, parse_catalogue
from device.errors import ParseError


def test_default_catalogue_has_the_checked_facts():
    cat = load_default()
    assert cat.version and cat.source == "default"
    fees = {s.code: [f.yuan for f in s.fees] for s in cat.services}
    assert fees["id_card.first"] == [20] and fees["id_card.renew"] == [20]
    assert fees["id_card.lost"] == [40] and fees["id_card.temporary"] == [10]
    first = cat.get("id_card.first")
    assert first is not None
    assert "60日" in first.time_limit and "30日" in first.time_limit
    assert any("居民身份证法" in b for b in first.basis)
    birth = cat.get("hukou.birth")
    assert birth is not None
    assert "一个月" in birth.summary and any("户口登记条例" in b for b in birth.basis)
    text = "".join(birth.materials)
    for item in ("出生医学证明", "户口簿", "身份证", "结婚证"):
        assert item in text
    for code in ("hukou.move_in", "hukou.move_out", "hukou.change", "hukou.death"):
        s = cat.get(code)
        assert s is not None and s.materials and s.basis and s.authority and s.fees


def test_every_configured_window_service_is_in_the_default():
    import tomllib
    from pathlib import Path

    cfg = tomllib.loads((Path(__file__).parents[1] / "config.toml").read_text("utf-8"))
    cat = load_default()
    assert [c for c in cfg["window"]["services"] if cat.get(c) is None] == []


@pytest.mark.parametrize("doc, problem", [
    ([], "must be an object"),
    ({"services": []}, "missing field 'version'"),
    ({"version": "1", "services": []}, "non-empty"),
    ({"version": "1", "services": [{"code": "Bad Code", "name": "x"}]}, "code must"),
    ({"version": "1", "services": [{"code": "a.b", "name": "x", "materials": "x"}]},
     "list of strings"),
    ({"version": "1", "services": [{"code": "a.b", "name": "x", "materials": ["m"],
                                    "fees": [{"item": "f", "yuan": -1, "basis": ""}]}]},
     "yuan"),
    ({"version": "1", "services": [{"code": "a.b", "name": "x", "materials": ["m"]},
                                   {"code": "a.b", "name": "y", "materials": ["m"]}]},
     "twice"),
])
def test_bad_documents_name_the_problem(doc, problem):
    with pytest.raises(ParseError, match=problem):
        parse_catalogue(doc)


def _put(path, body: str, version: str = "hq-2") -> None:
    # Written by another connection, as the sync process does: bumps data_version.
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO site_content VALUES ('catalogue', ?, ?, 'now') "
                     "ON CONFLICT(kind) DO UPDATE SET version = excluded.version, "
                     "body = excluded.body", (version, body))
    conn.close()


def test_hq_catalogue_replaces_the_default_and_bad_one_falls_back(store, config):
    src = CatalogueSource(store)
    assert src.current().source == "default"
    doc = {"version": "hq-2", "title": "新版指南", "services": [
        {"code": "id_card.renew", "name": "换领身份证", "materials": ["旧证"]}]}
    _put(config.db_path, json.dumps(doc, ensure_ascii=False))
    cat = src.current()
    assert (cat.version, cat.source, cat.services[0].name) == ("hq-2", "hq", "换领身份证")
    _put(config.db_path, "{not json", version="hq-3")
    assert src.current().source == "default"
    assert "not JSON" in src.problem
