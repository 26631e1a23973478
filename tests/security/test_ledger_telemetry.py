"""Finding 4: onnxruntime telemetry is off before the first session is created.

onnxruntime 1.2x+ writes a device id and ``onnxruntime.db`` under ``~/.cache/Microsoft/`` as
soon as it loads, unless told not to; faceledger runs detection with an empty ``HOME`` and
nothing may appear there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

IMAGE = Path(__file__).resolve().parents[2] / "examples" / "photos" / "Abel_Pacheco_0001.jpg"


def test_detection_with_an_empty_home_writes_nothing_there(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "ORT_"))}
    env["HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, "-m", "faceledger", "detect", str(IMAGE), "--json"],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["images"][0]["faces"]) == 1  # detection really ran
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert written == [], f"written under HOME: {written}"


def test_the_detector_module_switches_telemetry_off_on_import() -> None:
    code = (
        "import os, faceledger.vision.centerface as c; "
        "print(os.environ.get('ORT_DISABLE_TELEMETRY'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, check=True)  # fmt: skip
    assert out.stdout.strip() == "1"
