import numpy as np
import pytest
from skimage.feature import graycomatrix, graycoprops

from spring_lib.glcm.features import PROPERTIES, GLCMFeatures, glcm_features, quantise


def _props(f, levels_props=PROPERTIES, distances=(1,), n_angles=4):
    """Per-angle features reshaped to {prop: array(distances, angles)}."""
    f = f.reshape(len(levels_props), len(distances), n_angles)
    return dict(zip(levels_props, f))


def test_constant_tile_has_textbook_values():
    tile = np.full((1, 32, 32), 100, np.uint8)
    f = _props(GLCMFeatures(levels=8, distances=(1,), rotation="per_angle").fit_transform(tile)[0])
    assert np.all(f["contrast"] == 0) and np.all(f["dissimilarity"] == 0)
    assert np.all(f["homogeneity"] == 1) and np.all(f["energy"] == 1) and np.all(f["ASM"] == 1)


def test_vertical_stripes_are_directional():
    tile = np.tile(np.array([0, 255], np.uint8), (32, 16))[None]   # columns alternate 0/255
    f = GLCMFeatures(levels=2, distances=(1, 2), angles_deg=(0, 90), rotation="per_angle")
    p = dict(zip(PROPERTIES, f.fit_transform(tile)[0].reshape(len(PROPERTIES), 2, 2)))
    # across the stripes (0°) at distance 1 every pair differs, at distance 2 none does
    assert p["contrast"][0, 0] == pytest.approx(1) and p["contrast"][1, 0] == pytest.approx(0)
    assert p["homogeneity"][0, 0] == pytest.approx(0.5)
    assert p["correlation"][0, 0] == pytest.approx(-1)
    # along the stripes (90°) every pair is equal: two equally likely diagonal entries
    assert p["contrast"][0, 1] == pytest.approx(0) and p["ASM"][0, 1] == pytest.approx(0.5)
    assert p["energy"][0, 1] == pytest.approx(np.sqrt(0.5))
    assert p["correlation"][0, 1] == pytest.approx(1)


def test_parallel_equals_serial_equals_skimage_per_tile():
    rng = np.random.default_rng(1)
    tiles = rng.integers(0, 256, (80, 48, 48), dtype=np.uint8)
    tiles[::7] = 17                                        # some flat tiles too
    angles = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
    for rotation in ("average", "per_angle"):
        serial = glcm_features(tiles, 16, (1, 3), angles, rotation=rotation, n_jobs=1)
        parallel = glcm_features(tiles, 16, (1, 3), angles, rotation=rotation, n_jobs=2)
        assert np.array_equal(serial, parallel)
        ref = []
        for t in tiles:
            P = graycomatrix(quantise(t, 16), [1, 3], angles, levels=16, symmetric=True, normed=True)
            props = np.stack([graycoprops(P, p) for p in PROPERTIES])
            ref.append((props.mean(axis=2) if rotation == "average" else props).ravel())
        assert np.array_equal(serial, np.stack(ref))


def test_feature_names_match_columns():
    t = GLCMFeatures(levels=8, distances=(1, 2), rotation="per_angle")
    X = t.fit_transform(np.zeros((3, 16, 16), np.uint8))
    assert X.shape == (3, len(t.get_feature_names_out())) == (3, 6 * 2 * 4)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((2, 16, 16), np.float32), "uint8"),
    (np.zeros((16, 16), np.uint8), r"\(n, height, width\)"),
    (np.zeros((2, 16, 16, 3), np.uint8), r"\(n, height, width\)"),
    ([[1, 2]], "numpy array"),
])
def test_bad_tiles_get_clear_errors(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        GLCMFeatures().fit(bad)


def test_bad_parameters_are_named():
    tiles = np.zeros((2, 16, 16), np.uint8)
    with pytest.raises(ValueError, match="levels"):
        GLCMFeatures(levels=1000).fit(tiles)
    with pytest.raises(ValueError, match="unknown GLCM properties"):
        GLCMFeatures(properties=("contrast", "sharpness")).fit(tiles)
