"""Rules the test suite holds itself to, checked on its own source: a test of ours never
skips because our code broke (no importorskip or find_spec of our packages), and no test
waits by sleeping."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
OURS = ("device", "drivers", "ui", "sync", "kiosk", "tools", "bench", "provision", "tests")


def _calls(name: str) -> list[tuple[str, int, str]]:
    """(file, line, first argument) of every call to ``*.name(...)`` or ``name(...)``."""
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            called = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if called != name:
                continue
            arg = node.args[0] if node.args else None
            text = arg.value if isinstance(arg, ast.Constant) else ast.unparse(arg) if arg else ""
            found.append((str(path.relative_to(TESTS)), node.lineno, str(text)))
    return found


def test_no_test_skips_when_one_of_our_modules_fails_to_import() -> None:
    skips = [c for name in ("importorskip", "find_spec") for c in _calls(name)
             if c[2].split(".")[0] in OURS]
    assert skips == [], "import our modules normally, so a broken one fails its tests"


def test_no_test_waits_by_sleeping() -> None:
    assert _calls("sleep") == [], "wait on an event or a condition with a timeout"
