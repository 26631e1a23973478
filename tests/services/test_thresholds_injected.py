"""Thresholds follow the embedder actually used: an injected embedder of another kind than
the setting ``embedder`` names is judged by its own distances (unless the thresholds are set).

Unit tests of the resolution rule (``thresholds_for(settings, embedder=...)``) and of one call
site (``compare_files``), with real :class:`Embedder` objects that load no model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from faceledger.config import load_settings
from faceledger.core.faces import BBox
from faceledger.errors import ModelError
from faceledger.services.biometrics.matching import compare_files
from faceledger.vision.dlib_models import (
    EMBEDDER_THRESHOLDS,
    DlibModels,
    Embedder,
    thresholds_for,
)


def _embedder(name: str) -> Embedder:
    return Embedder(name, DlibModels())  # nothing loads until it embeds


def test_an_injected_embedder_of_another_kind_gets_its_own_thresholds() -> None:
    sface, dlib = EMBEDDER_THRESHOLDS["sface-2021dec"], EMBEDDER_THRESHOLDS["dlib-resnet-v1"]
    assert sface != dlib  # the rule below would prove nothing otherwise
    by_default = load_settings()  # setting embedder: sface-2021dec
    assert thresholds_for(by_default) == sface
    assert thresholds_for(by_default, embedder=None) == sface
    assert thresholds_for(by_default, embedder=_embedder("dlib-resnet-v1")) == dlib
    assert thresholds_for(by_default, embedder=_embedder("dlib-resnet-v1-cf5")) == dlib
    by_dlib = load_settings(embedder="dlib-resnet-v1")
    assert thresholds_for(by_dlib, embedder=_embedder("sface-2021dec")) == sface
    for name, own in EMBEDDER_THRESHOLDS.items():  # whatever the setting, the embedder decides
        for setting in EMBEDDER_THRESHOLDS:
            settings = load_settings(embedder=setting)
            assert thresholds_for(settings, embedder=_embedder(name)) == own


def test_set_thresholds_still_win_over_an_injected_embedder() -> None:
    settings = load_settings(match_threshold=0.55, cluster_threshold=0.4)
    chosen = thresholds_for(settings, embedder=_embedder("dlib-resnet-v1"))
    assert (chosen.match, chosen.cluster) == (0.55, 0.4)
    only_match = thresholds_for(
        load_settings(match_threshold=0.7), embedder=_embedder("dlib-resnet-v1")
    )
    assert (only_match.match, only_match.cluster) == (0.7, 0.5)  # cluster: dlib's own


def test_an_embedder_without_a_name_leaves_the_setting_and_an_unknown_name_fails_closed() -> None:
    class Nameless:
        pass

    settings = load_settings(embedder="dlib-resnet-v1")
    assert thresholds_for(settings, embedder=Nameless()) == EMBEDDER_THRESHOLDS["dlib-resnet-v1"]

    class Unknown:
        name = "no-such-embedder"

    with pytest.raises(ModelError, match="no-such-embedder"):
        thresholds_for(settings, embedder=Unknown())


class _FixedVectors(Embedder):
    """A real ``dlib-resnet-v1`` embedder whose vectors are given, one per call."""

    def __init__(self, name: str, vectors: list[np.ndarray]) -> None:
        super().__init__(name, DlibModels())
        self._vectors = list(vectors)

    def embed(
        self, rgb: np.ndarray, box: BBox, *, landmarks: np.ndarray | None = None
    ) -> np.ndarray:
        return self._vectors.pop(0)

    def info_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": "test", "setting": self.name}


def test_compare_judges_an_injected_embedder_by_its_own_threshold(
    tmp_path: Path, fake_detector: Any
) -> None:
    paths = []
    for name, shade in (("a.png", 90), ("b.png", 160)):
        Image.new("RGB", (80, 80), (shade, shade, shade)).save(tmp_path / name)
        paths.append(tmp_path / name)
    # 0.8 apart: the same person by SFace's 1.095 (the setting's), not by dlib's 0.6
    a = np.zeros(128, dtype=np.float32)
    b = a.copy()
    b[0] = 0.8
    settings = load_settings()  # embedder: sface-2021dec
    result = compare_files(
        paths[0], paths[1], settings, detector=fake_detector(),
        embedder=_FixedVectors("dlib-resnet-v1", [a, b]),
    )  # fmt: skip
    assert result["distance"] == pytest.approx(0.8)
    assert result["threshold"] == EMBEDDER_THRESHOLDS["dlib-resnet-v1"].match
    assert result["same_person"] is False
    assert result["embedder"]["setting"] == "dlib-resnet-v1"
