"""The layer contracts in pyproject.toml hold, and they would catch a planted violation.

``lint-imports`` runs in the README's test command on the real tree; here it runs on a
copy of the tree with one forbidden import planted, and must fail naming that import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("device", "drivers", "ui", "sync", "kiosk", "station")
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, ahead of the editable install of the real tree.
    env = {**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([str(LINT), "--no-cache", "--config", str(tree / "pyproject.toml")],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg,
                        ignore=shutil.ignore_patterns("__pycache__", "*.png", "*.wav", "*.ttf"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_copied_tree_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "planted", "contract"), [
    ("device/events.py", "import drivers.registry", "device/ is the pure core"),
    ("device/store.py", "import gpiozero", "device/ is the pure core"),
    ("ui/theme.py", "import drivers.gpio", "ui/ talks to the core only"),
    ("drivers/sound.py", "import ui.theme", "nothing but the program shell imports ui/"),
    ("sync/health.py", "import device.core", "sync/ uses only device's store"),
    ("sync/topics.py", "import drivers.base", "drivers/ and sync/ are independent"),
    ("station/queue.py", "import drivers.base", "station/ uses device's leaves and paho"),
    ("station/rpc.py", "import sync.topics", "station/ uses device's leaves and paho"),
])
def test_a_planted_import_breaks_its_contract(tree: Path, module: str, planted: str,
                                              contract: str) -> None:
    path = tree / module
    text = path.read_text(encoding="utf-8")
    # After the module docstring and `from __future__`, where an import would go.
    marker = "from __future__ import annotations\n"
    assert marker in text, f"{module}: no __future__ import to plant after"
    path.write_text(text.replace(marker, f"{marker}{planted}  # planted\n", 1),
                    encoding="utf-8")
    result = _lint(tree)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    broken = out.split(contract, 1)[1].split("\n", 1)[0]
    assert "BROKEN" in broken, out
    importer = module.removesuffix(".py").replace("/", ".")
    imported = planted.split()[1]
    # The report names the line: "sync.health -> device.core (l.8)".
    assert f"{importer} -> {imported} (l." in out, out
