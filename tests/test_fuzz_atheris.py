"""atheris over every parser, through fuzz/run.py (coverage-guided, libFuzzer).

The full 100,000 inputs per parser take 30-70 s on this shared 2-core machine (figures
and the command in docs/benchmarks.md): more than a test run should spend. Here each
harness runs 20,000 inputs with the same memory and time limits and the same fixed seed;
FUZZ_RUNS=100000 runs the full count through this test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")  # x86_64 wheels only (requirements-dev.lock)

ROOT = Path(__file__).resolve().parent.parent


def test_every_parser_survives_atheris(tmp_path: Path) -> None:
    runs = int(os.environ.get("FUZZ_RUNS", "20000"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "run.py"), "--runs", str(runs),
         "--rss-limit-mb", "512", "--artifacts", str(tmp_path)],
        capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()
             if line and not line.startswith("total")}
    assert (lines["sign"] == lines["link"] == lines["scanner"] == lines["control"]
            == lines["hq"] == "ok"), (
        done.stdout)
    # The printer's status parser is fuzzed as soon as it exists.
    has_status = (ROOT / "drivers" / "printer" / "status.py").exists()
    assert lines["printer_status"] == ("ok" if has_status else "skipped"), done.stdout
    assert f"{runs:,} inputs" in done.stdout
    assert not any(tmp_path.rglob("crash-*"))


def test_run_py_fails_on_a_crash(tmp_path: Path) -> None:
    """The runner must not hide a crash: a harness that raises gives exit code 1."""
    bad = ROOT / "fuzz" / "fuzz_link.py"
    script = tmp_path / "crashy.py"
    script.write_text(bad.read_text().replace(
        "    try:\n        intent, corr = parse_line(data, LIMIT)",
        "    if data[:1] == b'{':\n        raise RuntimeError('boom')\n"
        "    try:\n        intent, corr = parse_line(data, LIMIT)"))
    sys.path.insert(0, str(ROOT / "fuzz"))
    try:
        import run as fuzz_run  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "fuzz"))
    h = fuzz_run.Harness("crashy", str(script), 256, fuzz_run._link_seeds)
    # The harness lives outside fuzz/: its helper goes beside it (the package itself is
    # installed in the venv).
    (tmp_path / "_harness.py").write_text((ROOT / "fuzz" / "_harness.py").read_text())
    result = fuzz_run.run_one(h, 1000, 512, 10, tmp_path / "art")
    assert result.status == "FAILED" and "boom" in result.detail
    assert any((tmp_path / "art" / "crashy").glob("crash-*"))
