"""How a tile enters a network: eq. 19-20 or the weights' own normalisation at the network's
input size, the test-time views, evaluation averaged over them, and the execution's layout."""
import numpy as np
import pytest
import torch
from torch import nn

from spring_lib.nets.execution import Execution, InputTransform, evaluate, symmetry_views

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def _tiles(n=48, size=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 200, (n, size, size), dtype=np.uint8)


def test_both_normalisation_paths():
    x = _tiles()
    paper = InputTransform.fit("paper", x, 24)
    z = paper(x)
    assert z.shape == (len(x), 3, 24, 24)
    assert abs(float(z.mean())) < 1e-4 and abs(float(z.std()) - 1) < 1e-3   # eq. 20 on train tiles
    imnet = InputTransform.fit("imagenet", x, 32, IMAGENET)
    assert imnet(x[:2]).shape == (2, 3, 32, 32)
    white = imnet(np.stack([np.r_[np.zeros((1, 24)), np.full((23, 24), 255)].astype(np.uint8)]))
    assert float(white[0, 0, 5, 5]) == pytest.approx((1 - IMAGENET[0][0]) / IMAGENET[1][0], rel=1e-3)
    with pytest.raises(ValueError, match="normalization"):
        InputTransform.fit("other", x, 24)
    assert InputTransform(**paper.to_dict()) == paper       # what a checkpoint keeps


def test_test_views_are_the_symmetries_of_a_tile():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert len(symmetry_views(x, "none")) == 1 and len(symmetry_views(x, "flips")) == 2
    views = symmetry_views(x, "dihedral")
    assert len({tuple(v.flatten().tolist()) for v in views}) == 8


def test_evaluate_averages_probabilities_over_views():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 22 * 22, 3))
    x, y = _tiles(), np.arange(48) % 3
    transform = InputTransform.fit("paper", x, 24)
    loss, acc, p = evaluate(model, x, y, transform)
    _, _, p8 = evaluate(model, x, y, transform, tta="dihedral")
    assert p.shape == (len(x), 3) and np.allclose(p.sum(1), 1, atol=1e-3) and 0 <= acc <= 1
    assert np.allclose(p8.sum(1), 1, atol=1e-3) and not np.allclose(p, p8)
    assert loss == pytest.approx(-np.log(p[np.arange(len(y)), y]).mean(), rel=1e-4)
    nolabels = evaluate(model, x, None, transform)
    assert np.isnan(nolabels[0]) and np.allclose(nolabels[2], p)


def test_execution_lays_out_batches_and_models_as_chosen():
    x = torch.zeros(2, 3, 8, 8)
    assert Execution(memory_format="channels_last").batch(x).is_contiguous(
        memory_format=torch.channels_last)
    assert Execution().batch(x).is_contiguous()
    assert Execution(precision="bf16").dtype is torch.bfloat16 and Execution().dtype is None
