"""docs/asyncapi.yaml: current with the code, valid AsyncAPI 3.0, and true to the payloads."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from device.events import Draft, EventType, seal
from sync import asyncapi
from sync.topics import CONTENT_KINDS, Topics
from tests.sync.test_sync_downlink import DOCS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "asyncapi.yaml"
# setup.sh fetches it (npm @asyncapi/specs, sha512-checked) into .cache/.
SCHEMA = Path(os.environ.get("KIOSK_ASYNCAPI_SCHEMA",
                             ROOT / ".cache" / "asyncapi-specs-6.11.1" / "3.0.0.json"))


def test_document_is_generated_from_the_code() -> None:
    assert DOC.read_text(encoding="utf-8") == asyncapi.render(), (
        "docs/asyncapi.yaml is stale: run `python -m sync.asyncapi > docs/asyncapi.yaml`")


@pytest.fixture(scope="module")
def official() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    if not SCHEMA.exists():
        pytest.skip(f"{SCHEMA} missing: ./setup.sh deps fetches the AsyncAPI 3.0 schema")
    spec = json.loads(SCHEMA.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(s, default_specification=DRAFT7))
        for uri, s in spec["definitions"].items())
    return jsonschema.Draft7Validator(spec, registry=registry)


def test_document_validates_against_asyncapi_3(official: Any) -> None:
    doc = yaml.safe_load(DOC.read_text(encoding="utf-8"))
    assert doc["asyncapi"] == "3.0.0"
    assert [e.message for e in official.iter_errors(doc)] == []
    broken = copy.deepcopy(doc)
    broken["operations"]["sendEvents"]["action"] = "publish"  # the AsyncAPI 2 verb
    assert list(official.iter_errors(broken))


def test_every_topic_the_code_uses_is_a_channel() -> None:
    doc = yaml.safe_load(DOC.read_text(encoding="utf-8"))
    addresses = {c["address"] for c in doc["channels"].values()}
    t = Topics("kiosk/v1", "{site}", "{device}")
    used = {t.events, t.state, t.health, *(t.content(k) for k in CONTENT_KINDS),
            t.content_result("{kind}"), *(t.command(n) for n in ("ping", "resend")),
            t.command_result("ping")}
    assert used <= addresses


def test_real_payloads_validate_against_the_documented_schemas() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    doc = yaml.safe_load(DOC.read_text(encoding="utf-8"))
    schemas = doc["components"]["schemas"]

    def check(name: str, value: Any) -> None:
        resolver_doc = {"components": {"schemas": schemas}, **schemas[name]}
        jsonschema.Draft7Validator(resolver_doc).validate(value)

    env = seal(Draft(EventType.RATING_GIVEN, {"level": "satisfied"}), site="s1", device="w01",
               seq=1, prev="0" * 64).to_dict()
    check("Envelope", env)
    check("EventBatch", [env, env])
    for kind, body in DOCS.items():
        check(kind.capitalize(), body)
    with pytest.raises(jsonschema.ValidationError):
        check("Envelope", {**env, "seq": 0})
