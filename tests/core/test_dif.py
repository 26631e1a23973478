"""The DiF coding schemes: invariances, reference values, band edges, refusals of bad input.

The synthetic face is dlib's mean face shape (points 17-67, from dlib's
``get_face_chip_details``) with a half-ellipse jaw (0-16), made exactly mirror-symmetric.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from faceledger.core.dif import (
    AREAS,
    DISTANCES,
    FARKAS_68,
    FIVE_FROM_68,
    MIRROR_68,
    RATIOS,
    craniofacial_areas,
    craniofacial_distances,
    craniofacial_ratios,
    head_pose,
    head_pose_5,
    ita_angles,
    ita_band,
    ita_of_lab,
    landmark_symmetry,
    measure_face,
    measure_face_5,
    pixel_symmetry,
    region_contrast,
    skin_tone,
    skin_tone_5,
    srgb_to_lab,
    to_five_point,
)
from faceledger.core.dif._pose import (
    PITCH_NEUTRAL_RATIO,
    PITCH_NOSE_DEPTH,
    YAW_NOSE_BASE_DEPTH_5,
    YAW_NOSE_DEPTH,
)

_MEAN_X = [
    0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124,
    0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
    0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
    0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
    0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
    0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
    0.553364, 0.490127, 0.42689,
]  # fmt: skip
_MEAN_Y = [
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891,
    0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
    0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
    0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
    0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
    0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
    0.784792, 0.824182, 0.831803, 0.824182,
]  # fmt: skip
_CX = 0.490127
PERM = list(MIRROR_68)


def mirror_points(points: np.ndarray, axis_x: float) -> np.ndarray:
    """Reflect about the vertical line x = axis_x and relabel left/right counterparts."""
    reflected = points.copy()
    reflected[:, 0] = 2.0 * axis_x - reflected[:, 0]
    return reflected[PERM]


def unit_template() -> np.ndarray:
    t = np.linspace(0.0, math.pi, 17)
    jaw = np.stack([_CX - 0.5 * np.cos(t), 0.22 + 0.88 * np.sin(t)], axis=1)
    pts = np.concatenate([jaw, np.stack([_MEAN_X, _MEAN_Y], axis=1)])
    return (pts + mirror_points(pts, _CX)) / 2.0  # exactly symmetric about x = _CX


SIZE = 240
SCALE = 160.0


def template(center_x: float = (SIZE - 1) / 2) -> np.ndarray:
    """The symmetric face, ~160 px wide, its midline on ``center_x`` in a SIZE x SIZE image."""
    return (unit_template() - [_CX, 0.0]) * SCALE + [center_x, 30.0]


def similarity(points: np.ndarray, scale: float, angle: float, shift: np.ndarray) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return points @ (scale * np.array([[c, s], [-s, c]])) + shift  # rotates by +angle


def asymmetric() -> np.ndarray:
    pts = template()
    pts[36:42] += [4.0, 6.0]  # right eye moved
    pts[48] += [-5.0, 3.0]
    return pts


# ---------------------------------------------------------------------------- schemes 1-3


def test_every_distance_and_ratio_names_known_points() -> None:
    assert {p for pair in DISTANCES.values() for p in pair} <= set(FARKAS_68)
    assert {d for top, bottom in RATIOS.values() for d in top + bottom} <= set(DISTANCES)
    assert all(0 <= i < 68 for idx in FARKAS_68.values() for i in idx)
    assert all(0 <= i < 68 for idx in AREAS.values() for i in idx)


def test_the_mirror_permutation_is_an_involution_fixing_the_midline() -> None:
    assert sorted(MIRROR_68) == list(range(68))
    assert all(MIRROR_68[MIRROR_68[i]] == i for i in range(68))
    assert [i for i in range(68) if MIRROR_68[i] == i] == [8, 27, 28, 29, 30, 33, 51, 57, 62, 66]


def test_distances_match_the_landmarks() -> None:
    pts = template()
    d = craniofacial_distances(pts)
    assert d["face_height"] == pytest.approx(np.hypot(*(pts[27] - pts[8])))
    assert d["mouth_width"] == pytest.approx(np.hypot(*(pts[48] - pts[54])))
    assert d["eye_fissure_length_right"] == pytest.approx(d["eye_fissure_length_left"])
    assert set(d) == set(DISTANCES)


@pytest.mark.parametrize("k", [0.25, 3.0])
def test_scaling_by_k_scales_distances_by_k_areas_by_k2_and_keeps_ratios(k: float) -> None:
    pts = asymmetric()
    big = pts * k + 7.0
    for name, value in craniofacial_distances(pts).items():
        assert craniofacial_distances(big)[name] == pytest.approx(k * value)
    for name, value in craniofacial_areas(pts).items():
        assert craniofacial_areas(big)[name] == pytest.approx(k * k * value)
    assert craniofacial_distances(big, normalise=True) == pytest.approx(
        craniofacial_distances(pts, normalise=True)
    )
    assert craniofacial_areas(big, normalise=True) == pytest.approx(
        craniofacial_areas(pts, normalise=True)
    )
    assert craniofacial_ratios(big) == pytest.approx(craniofacial_ratios(pts))
    assert head_pose(big).iod_px == pytest.approx(k * head_pose(pts).iod_px)


def test_areas_are_positive_and_lips_are_outer_minus_inner() -> None:
    a = craniofacial_areas(template())
    assert all(v > 0 for v in a.values())
    assert a["lips"] == pytest.approx(a["mouth_outer"] - a["mouth_inner"])
    assert a["face"] > a["lower_face"] > a["mouth_outer"] > a["eye_right"]
    assert a["eye_right"] == pytest.approx(a["eye_left"])


def test_ratios_of_the_mean_face_are_plausible() -> None:
    r = craniofacial_ratios(template())
    assert set(r) == set(RATIOS)
    assert 0.25 < r["intercanthal_index"] < 0.45
    assert 0.4 < r["nasal_index"] < 1.2  # dlib 31-35 is narrower than al-al
    assert 0.2 < r["eye_fissure_index"] < 0.5


@settings(max_examples=40, deadline=None)
@given(
    scale=st.floats(0.05, 50.0),
    angle=st.floats(-math.pi, math.pi),
    dx=st.floats(-2000.0, 2000.0),
    dy=st.floats(-2000.0, 2000.0),
)
def test_ratios_are_invariant_under_similarity_transforms(
    scale: float, angle: float, dx: float, dy: float
) -> None:
    pts = asymmetric()
    moved = similarity(pts, scale, angle, np.array([dx, dy]))
    assert craniofacial_ratios(moved) == pytest.approx(craniofacial_ratios(pts), rel=1e-7)
    assert landmark_symmetry(moved) == pytest.approx(landmark_symmetry(pts), rel=1e-7)


# ---------------------------------------------------------------------------- scheme 4


def test_a_symmetric_face_and_its_mirror_have_landmark_symmetry_one() -> None:
    pts = template(center_x=50.0)
    assert landmark_symmetry(pts) == pytest.approx(1.0, abs=1e-9)
    assert landmark_symmetry(mirror_points(pts, 123.4)) == pytest.approx(1.0, abs=1e-9)


def test_asymmetry_lowers_landmark_symmetry_and_mirroring_does_not_change_it() -> None:
    pts = asymmetric()
    assert landmark_symmetry(pts) < 0.99
    assert landmark_symmetry(mirror_points(pts, 10.0)) == pytest.approx(landmark_symmetry(pts))


@settings(max_examples=40, deadline=None)
@given(
    noise=st.lists(st.floats(-40.0, 40.0), min_size=136, max_size=136),
    angle=st.floats(-math.pi, math.pi),
)
def test_landmark_symmetry_is_in_unit_interval(noise: list[float], angle: float) -> None:
    pts = similarity(template(), 1.0, angle, np.zeros(2)) + np.reshape(noise, (68, 2))
    try:
        score = landmark_symmetry(pts)
    except ValueError as exc:  # the noise may make the eye centres coincide
        assert "inter-ocular" in str(exc) or "midline" in str(exc)
        return
    assert 0.0 <= score <= 1.0


def random_rgb(seed: int, height: int = SIZE, width: int = SIZE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def symmetric_rgb(seed: int) -> np.ndarray:
    a = random_rgb(seed).astype(np.uint16)
    return ((a + a[:, ::-1]) // 2).astype(np.uint8)  # symmetric about x = (SIZE - 1) / 2


def test_a_mirror_symmetric_image_has_pixel_symmetry_one() -> None:
    assert pixel_symmetry(symmetric_rgb(1), template()) == pytest.approx(1.0, abs=1e-9)


def test_a_noisy_image_is_less_symmetric_and_its_mirror_scores_the_same() -> None:
    rgb, pts = random_rgb(2), asymmetric()
    score = pixel_symmetry(rgb, pts)
    assert score < 0.9
    flipped = np.ascontiguousarray(rgb[:, ::-1])
    assert pixel_symmetry(flipped, mirror_points(pts, (SIZE - 1) / 2)) == pytest.approx(score)


def test_pixel_symmetry_of_a_black_image_is_one_and_off_image_faces_are_refused() -> None:
    assert pixel_symmetry(np.zeros((SIZE, SIZE, 3), np.uint8), template()) == 1.0
    with pytest.raises(ValueError, match="no pixel"):
        pixel_symmetry(random_rgb(3), template() + 5000.0)


# ---------------------------------------------------------------------------- schemes 5-6


def test_lab_matches_reference_values() -> None:
    lab = srgb_to_lab(np.array([[255, 255, 255], [255, 0, 0], [0, 0, 0]], dtype=np.uint8))
    assert lab[0] == pytest.approx([100.0, 0.0, 0.0], abs=1e-6)
    assert lab[1] == pytest.approx([53.24, 80.09, 67.20], abs=0.01)
    assert lab[2] == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    gray = srgb_to_lab(np.array([119, 119, 119], dtype=np.uint8))
    assert gray == pytest.approx([50.0, 0.0, 0.0], abs=0.1)


def test_lab_refuses_non_uint8() -> None:
    with pytest.raises(ValueError, match="uint8"):
        srgb_to_lab(np.zeros((2, 3), dtype=np.float32))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lightness", "b"), [(70.0, 20.0), (30.0, 15.0), (50.0, 12.0), (65.0, 3.0), (20.0, -8.0)]
)
def test_ita_of_a_uniform_patch_is_the_formula(lightness: float, b: float) -> None:
    patch = np.tile([lightness, 7.0, b], (4, 5, 1))
    expected = math.degrees(math.atan((lightness - 50.0) / b))
    assert ita_of_lab(patch) == pytest.approx(expected)


def test_ita_at_zero_b_is_the_limit_not_a_division() -> None:
    angles = ita_angles(np.array([[70.0, 0.0, 0.0], [30.0, 0.0, 0.0], [50.0, 0.0, 0.0]]))
    assert angles.tolist() == [90.0, -90.0, 0.0]


def test_ita_of_a_patch_is_the_median() -> None:
    patch = np.array([[60.0, 0.0, 10.0]] * 3 + [[10.0, 0.0, 10.0]] * 2)
    assert ita_of_lab(patch) == pytest.approx(45.0)


@pytest.mark.parametrize(
    ("ita", "band"),
    [
        (90.0, "very_light"),
        (55.001, "very_light"),
        (55.0, "light"),
        (54.999, "light"),
        (41.001, "light"),
        (41.0, "intermediate"),
        (40.999, "intermediate"),
        (28.001, "intermediate"),
        (28.0, "tan"),
        (27.999, "tan"),
        (10.001, "tan"),
        (10.0, "brown"),
        (9.999, "brown"),
        (-29.999, "brown"),
        (-30.0, "brown"),
        (-30.001, "dark"),
        (-90.0, "dark"),
    ],
)
def test_ita_band_edges(ita: float, band: str) -> None:
    assert ita_band(ita) == band


def test_ita_refuses_nan_and_empty() -> None:
    with pytest.raises(ValueError, match="finite"):
        ita_band(float("nan"))
    with pytest.raises(ValueError, match="no pixels"):
        ita_of_lab(np.zeros((0, 3)))


SKIN = (205, 160, 135)
EYE = (40, 30, 30)
LIP = (180, 60, 70)
BROW = (70, 50, 40)


def painted_face(pts: np.ndarray, size: int = SIZE) -> np.ndarray:
    """A face: skin everywhere, dark eyes and brows, red lips, painted along the landmarks."""
    image = Image.new("RGB", (size, size), SKIN)
    draw = ImageDraw.Draw(image)
    poly = lambda idx: [tuple(p) for p in pts[list(idx)]]  # noqa: E731
    draw.polygon(poly(range(36, 42)), fill=EYE)
    draw.polygon(poly(range(42, 48)), fill=EYE)
    draw.polygon(poly(range(48, 60)), fill=LIP)
    draw.polygon(poly(range(60, 68)), fill=(90, 30, 30))
    thick = 0.12 * head_pose(pts).iod_px
    for brow in (range(17, 22), range(22, 27)):
        line = pts[list(brow)]
        draw.polygon([tuple(p) for p in np.concatenate([line, line[::-1] + [0, thick]])], BROW)
    return np.asarray(image)


def lab_of(rgb: tuple[int, int, int]) -> np.ndarray:
    return srgb_to_lab(np.array(rgb, dtype=np.uint8))


def test_skin_ita_reads_the_skin_colour_not_the_features() -> None:
    pts = template()
    tone = skin_tone(painted_face(pts), pts)
    assert tone.ita_deg == pytest.approx(ita_of_lab(lab_of(SKIN)))
    assert tone.band == ita_band(tone.ita_deg)
    assert tone.pixels > 500


def test_skin_ita_is_unchanged_by_upscaling_image_and_landmarks() -> None:
    pts = template()
    rgb = painted_face(pts)
    big = np.repeat(np.repeat(rgb, 2, axis=0), 2, axis=1)
    assert skin_tone(big, pts * 2 + 0.5).ita_deg == pytest.approx(skin_tone(rgb, pts).ita_deg)


def test_region_contrast_follows_porcheron() -> None:
    pts = template()
    contrast = region_contrast(painted_face(pts), pts)
    skin = lab_of(SKIN)
    for name, colour in (("eyes", EYE), ("lips", LIP), ("brows", BROW)):
        feature = lab_of(colour)
        expected = (skin - feature) / (np.abs(skin) + np.abs(feature))
        got = [contrast[f"{name}.{c}"] for c in "Lab"]
        assert got == pytest.approx(expected.tolist(), abs=0.05), name
    assert contrast["eyes.L"] > 0.3  # eyes darker than skin
    assert contrast["lips.a"] < -0.3  # lips redder than skin


def test_a_uniform_image_has_zero_contrast() -> None:
    rgb = np.full((SIZE, SIZE, 3), SKIN, dtype=np.uint8)
    assert all(
        v == pytest.approx(0.0, abs=1e-12) for v in region_contrast(rgb, template()).values()
    )


# ---------------------------------------------------------------------------- scheme 10


@pytest.mark.parametrize("degrees", [-170.0, -35.0, 0.0, 12.5, 90.0])
def test_in_plane_rotation_changes_roll_only(degrees: float) -> None:
    pts = asymmetric()
    before = head_pose(pts)
    turned = similarity(pts, 1.0, math.radians(degrees), np.array([3.0, -4.0]))
    after = head_pose(turned)
    assert (after.roll_deg - before.roll_deg - degrees + 180.0) % 360.0 - 180.0 == pytest.approx(
        0.0, abs=1e-9
    )
    assert (after.yaw_deg, after.pitch_deg) == pytest.approx((before.yaw_deg, before.pitch_deg))
    assert (after.face_width_px, after.face_height_px) == pytest.approx(
        (before.face_width_px, before.face_height_px)
    )
    assert craniofacial_ratios(turned) == pytest.approx(craniofacial_ratios(pts))
    five_before, five_after = head_pose_5(to_five_point(pts)), head_pose_5(to_five_point(turned))
    assert five_after.yaw_deg == pytest.approx(five_before.yaw_deg)


def test_roll_sign_positive_when_the_image_right_eye_is_lower() -> None:
    assert head_pose(similarity(template(), 1.0, math.radians(10.0), np.zeros(2))).roll_deg == (
        pytest.approx(10.0)
    )
    assert head_pose(template()).roll_deg == pytest.approx(0.0)


def rotated_3d(yaw: float = 0.0, pitch: float = 0.0) -> np.ndarray:
    """Template points on a plane, except the nose tip and base in front of it; then rotated
    (yaw about the vertical axis, pitch about the horizontal one) and projected orthographically."""
    pts = template()
    iod = head_pose(pts).iod_px
    eye_mouth = ((pts[48] + pts[54]) / 2 - (pts[36] + pts[39] + pts[42] + pts[45]) / 4)[1]
    z = np.zeros(68)
    z[30] = YAW_NOSE_DEPTH * iod if yaw else PITCH_NOSE_DEPTH * eye_mouth
    z[33] = YAW_NOSE_BASE_DEPTH_5 * iod
    eyes_y = (pts[36, 1] + pts[39, 1]) / 2
    x, y = pts[:, 0] - (SIZE - 1) / 2, pts[:, 1] - eyes_y
    if yaw:
        x, z = x * math.cos(yaw) + z * math.sin(yaw), -x * math.sin(yaw) + z * math.cos(yaw)
    if pitch:
        y, z = y * math.cos(pitch) + z * math.sin(pitch), -y * math.sin(pitch) + z * math.cos(pitch)
    return np.stack([x, y], axis=1)


@pytest.mark.parametrize("degrees", [-30.0, 15.0, 40.0])
def test_yaw_of_a_turned_synthetic_head(degrees: float) -> None:
    pts = rotated_3d(yaw=math.radians(degrees))
    assert head_pose(pts).yaw_deg == pytest.approx(degrees, abs=0.5)
    assert head_pose_5(to_five_point(pts)).yaw_deg == pytest.approx(degrees, abs=0.5)
    assert head_pose(pts).roll_deg == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("degrees", [-25.0, 20.0])
def test_pitch_of_a_nodding_synthetic_head(degrees: float) -> None:
    pts = rotated_3d(pitch=math.radians(degrees))
    assert head_pose(pts).pitch_deg == pytest.approx(degrees, abs=1.0)
    assert head_pose(pts).yaw_deg == pytest.approx(0.0, abs=1e-9)


def test_the_mean_face_is_frontal() -> None:
    pose = head_pose(template())
    assert PITCH_NEUTRAL_RATIO > 0
    assert pose.yaw_deg == pytest.approx(0.0, abs=1e-9)
    assert pose.pitch_deg == pytest.approx(0.0, abs=0.5)
    assert pose.iod_px == pytest.approx(0.524 * SCALE, rel=0.01)
    assert pose.face_width_px == pytest.approx(SCALE)


# ---------------------------------------------------------------------------- entry points


def test_measure_face_without_pixels() -> None:
    m = measure_face(template())
    assert m.schemes == (1, 2, 3, 4, 10)
    d = m.to_dict()
    json.dumps(d)
    assert d["landmarks"] == "dlib68" and d["schemes"] == "1,2,3,4,10"
    assert all(isinstance(v, float) for k, v in d.items() if k not in ("landmarks", "schemes"))
    assert not any(k.startswith(("skin.", "contrast.", "symmetry.pixels")) for k in d)
    assert d["symmetry.landmarks"] == pytest.approx(1.0)
    assert len([k for k in d if k.startswith("ratio.")]) == 8
    assert d["distance_iod.face_height"] == pytest.approx(
        d["distance.face_height"] / d["resolution.iod_px"]
    )
    with pytest.raises(TypeError):
        m.ratios["facial_index"] = 0.0  # type: ignore[index]


def test_measure_face_with_pixels_has_stable_keys() -> None:
    pts = template()
    m = measure_face(pts, rgb=painted_face(pts))
    assert m.schemes == (1, 2, 3, 4, 5, 6, 10)
    d = m.to_dict()
    json.dumps(d)
    assert set(d) - set(measure_face(template()).to_dict()) == {
        "symmetry.pixels",
        *(f"contrast.{f}.{c}" for f in ("eyes", "lips", "brows") for c in "Lab"),
        "skin.ita_deg",
        "skin.band",
        "skin.pixels",
    }
    assert d["symmetry.pixels"] > 0.95
    assert d["skin.band"] == ita_band(float(d["skin.ita_deg"]))


def test_five_points_agree_with_sixty_eight_where_they_overlap() -> None:
    pts = asymmetric()
    full, five = measure_face(pts).to_dict(), measure_face_5(to_five_point(pts)).to_dict()
    assert five["landmarks"] == "dlib5" and five["schemes"] == "1,3,10"
    shared = set(five) - {"landmarks", "schemes", "pose.yaw_deg"}
    assert shared <= set(full)
    for key in shared:
        assert five[key] == pytest.approx(full[key]), key
    assert {k for k in five if k.startswith("ratio.")} == {
        "ratio.intercanthal_index",
        "ratio.orbital_width_index",
    }


def test_five_point_order_is_dlibs() -> None:
    five = to_five_point(template())
    assert five[0, 0] > five[1, 0] > five[3, 0] > five[2, 0]  # image right to left
    assert five[4, 1] > five[0, 1]  # nose base below the eyes
    assert FIVE_FROM_68 == (45, 42, 36, 39, 33)


def test_five_point_skin_tone() -> None:
    pts = template()
    rgb = painted_face(pts)
    m = measure_face_5(to_five_point(pts), rgb=rgb)
    assert m.schemes == (1, 3, 6, 10)
    assert m.skin is not None
    assert m.skin.ita_deg == pytest.approx(ita_of_lab(lab_of(SKIN)))
    assert skin_tone_5(rgb, to_five_point(pts)) == m.skin


def test_inputs_are_not_modified() -> None:
    pts, rgb = template(), painted_face(template())
    pts_copy, rgb_copy = pts.copy(), rgb.copy()
    measure_face(pts, rgb=rgb)
    assert np.array_equal(pts, pts_copy) and np.array_equal(rgb, rgb_copy)


# ---------------------------------------------------------------------------- bad input


def test_nan_landmarks_are_refused() -> None:
    pts = template()
    pts[10, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        measure_face(pts)
    with pytest.raises(ValueError, match="NaN"):
        measure_face_5(np.full((5, 2), np.inf))


@pytest.mark.parametrize("shape", [(67, 2), (68, 3), (68,), (2, 68)])
def test_wrong_shape_is_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"shape \(68, 2\)"):
        measure_face(np.zeros(shape))


def test_zero_inter_ocular_distance_is_refused() -> None:
    pts = template()
    pts[36:48] = pts[27]
    for fn in (measure_face, craniofacial_ratios, craniofacial_areas, landmark_symmetry, head_pose):
        with pytest.raises(ValueError, match="inter-ocular distance is zero"):
            fn(pts)
    with pytest.raises(ValueError, match="inter-ocular distance is zero"):
        measure_face_5(np.ones((5, 2)))


def test_zero_denominator_ratio_is_refused() -> None:
    pts = template()
    pts[57] = (pts[62] + pts[66]) / 2  # lower vermilion of zero height
    with pytest.raises(ValueError, match="vermilion_height_index"):
        craniofacial_ratios(pts)


@pytest.mark.parametrize(
    ("rgb", "message"),
    [
        (np.zeros((SIZE, SIZE, 3), dtype=np.float64), "uint8"),
        (np.zeros((SIZE, SIZE), dtype=np.uint8), "shape"),
        (np.zeros((SIZE, SIZE, 4), dtype=np.uint8), "shape"),
        ([[[0, 0, 0]]], "numpy array"),
    ],
)
def test_bad_images_are_refused(rgb: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        measure_face(template(), rgb=rgb)  # type: ignore[arg-type]


def test_a_face_off_the_image_is_refused_with_pixels() -> None:
    with pytest.raises(ValueError, match="no pixel"):
        measure_face(template() + 10_000.0, rgb=random_rgb(4))
    with pytest.raises(ValueError, match="no pixel"):
        measure_face_5(to_five_point(template()) - 10_000.0, rgb=random_rgb(4))


def test_mirrored_labels_without_permutation_are_refused_by_pose() -> None:
    pts = template()
    pts[:, 0] = -pts[:, 0]  # reflected but not relabelled: mouth ends up above the eye line
    with pytest.raises(ValueError, match="mouth is not below"):
        head_pose(pts)


def test_a_crop_and_the_whole_image_give_the_same_pixel_measures() -> None:
    pts = asymmetric()
    crop = painted_face(pts).copy()
    crop[::7, ::5] = (30, 200, 90)  # texture, so symmetry is not trivially 1
    whole = random_rgb(5, height=SIZE + 90, width=SIZE + 60)
    whole[51 : 51 + SIZE, 37 : 37 + SIZE] = crop
    moved = pts + [37.0, 51.0]
    assert pixel_symmetry(whole, moved) == pytest.approx(pixel_symmetry(crop, pts))
    assert skin_tone(whole, moved) == skin_tone(crop, pts)
    assert region_contrast(whole, moved) == pytest.approx(region_contrast(crop, pts))
