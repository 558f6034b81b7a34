"""Fine-tuning on cached trunk maps: the same arithmetic as the whole network with its trunk
frozen, a cache keyed by everything a map depends on, and a damaged cache rebuilt."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from spring_lib.core.architectures import Arm
from spring_lib.nets.cached_trunk import (CachedTop, RowInput, cached_rows, map_cache_name,
                                          split_at, trunk_rows)
from spring_lib.nets.execution import Execution, InputTransform
from spring_lib.nets.models import Classifier, boundary, freeze
from spring_lib.nets.feature_cache import state_digest
from spring_lib.nets.training import _train_mode


def _pair(arch: str, mode: str, pooling: str):
    torch.manual_seed(0)
    arm = Arm.parse(f"{arch}-TL")
    model = Classifier(arm.spec, 5, pooling)
    freeze(model, arm, mode)
    return arm, model, boundary(arm, mode)


@pytest.mark.parametrize("arch,mode,pooling,statistics", [
    ("EfficientNet-Lite0", "last_stage", "texture", False),   # a texture stage is the map
    ("EfficientNet-Lite0", "last_block", "texture", True),    # ... one lies inside the trunk
    ("EfficientNet-Lite0", "last_block", "head", False),
    ("AlexNet", "last_stage", "texture", False),              # torchvision's stages
    ("AlexNet", "last_block", "texture", False),              # a fully connected top
])
def test_one_step_on_cached_maps_is_one_step_of_the_frozen_network(arch, mode, pooling,
                                                                    statistics):
    arm, model, start = _pair(arch, mode, pooling)
    tiles = np.random.default_rng(0).integers(0, 255, (6, 64, 64), dtype=np.uint8)
    transform, y = InputTransform(64), torch.tensor([0, 1, 2, 3, 4, 0])
    rows, shape = trunk_rows(model, start, tiles, transform, Execution())
    top = CachedTop(model, start, shape, augment=False)
    assert rows.shape[1:] == top.input_shape
    _train_mode(model, statistics)
    _train_mode(top, statistics)
    for name in split_at(model.backbone.net, start)[0]:   # a frozen trunk runs in eval mode
        model.backbone.net.get_submodule(name).eval()     # (AlexNet's has dropout)
    torch.manual_seed(1)
    whole = F.cross_entropy(model(transform(tiles)), y)
    torch.manual_seed(1)
    cached = F.cross_entropy(top(RowInput()(rows)), y)
    whole.backward()
    cached.backward()
    assert torch.equal(whole, cached)
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    top_grads = {n.removeprefix("model."): p.grad for n, p in top.named_parameters()
                 if p.requires_grad}
    assert set(grads) == set(top_grads) and any(n.startswith("backbone") for n in grads)
    for name, g in grads.items():
        assert torch.equal(g, top_grads[name]), name
    # and the top's weights go back into the whole network under their own names
    missing, unexpected = model.load_state_dict(top.whole_state(), strict=False)
    trained = tuple(f"backbone.net.{m}." for m in split_at(model.backbone.net, start)[1])
    assert not unexpected and missing and not [k for k in missing if k.startswith(trained)
                                               or k.startswith("head.")]


def test_the_top_is_what_freeze_trains():
    arm, model, start = _pair("EfficientNet-Lite0", "last_block", "head")
    trunk, top = split_at(model.backbone.net, start)
    assert trunk[-1] == "blocks.5" and top[:3] == ["blocks.6", "conv_head", "bn2"]
    trainable = {n.split(".")[2] for n, p in model.named_parameters()
                 if p.requires_grad and n.startswith("backbone")}
    assert trainable == {"blocks", "conv_head", "bn2"}
    assert all(n.startswith(("backbone.net.blocks.6.", "backbone.net.conv_head.",
                             "backbone.net.bn2.", "head.")) for n, p in
               model.named_parameters() if p.requires_grad)
    with pytest.raises(ValueError, match="not a module the network calls"):
        split_at(model.backbone.net, "blocks.99")


def test_the_map_cache_is_keyed_by_weights_size_normalisation_precision_and_boundary():
    arm, model, start = _pair("EfficientNet-Lite0", "last_block", "texture")
    imagenet = InputTransform(224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "imagenet")

    def name(transform=imagenet, precision="bf16", at=start, tile=224):
        return map_cache_name(arm.architecture, state_digest(model.backbone.state_dict()), tile,
                              transform, precision, at)
    key = name()
    assert len({key, name(transform=InputTransform(240, imagenet.mean, imagenet.std, "imagenet")),
                name(transform=InputTransform(224, (0.5,) * 3, (0.25,) * 3, "paper")),
                name(precision="fp32"), name(at="blocks.5"), name(tile=112)}) == 6
    model.head.weight.data.add_(1.0)   # the head is no part of the trunk's output
    assert name() == key
    with torch.no_grad():
        model.backbone.net.conv_stem.weight.add_(1e-3)
    assert name() != key


def test_maps_are_computed_once_and_a_damaged_cache_rebuilt(tmp_path, capsys, monkeypatch):
    from spring_lib.nets import cached_trunk

    arm, model, start = _pair("EfficientNet-Lite0", "last_block", "texture")
    tiles = np.random.default_rng(1).integers(0, 255, (5, 64, 64), dtype=np.uint8)
    args = (model, arm.architecture, start, tiles, InputTransform(64), Execution(), tmp_path)
    calls = []
    real = cached_trunk.trunk_rows
    monkeypatch.setattr(cached_trunk, "trunk_rows",
                        lambda m, b, t, *a, **k: calls.append(len(t)) or real(m, b, t, *a, **k))
    rows, shape = cached_rows(*args)
    again, _ = cached_rows(*args)
    assert calls[0] == 5 and all(n == 1 for n in calls[1:])   # after that, one tile for its shape
    assert np.array_equal(rows, again) and rows.dtype == np.float16
    exact, _ = real(model, start, tiles, InputTransform(64), Execution())
    assert np.allclose(rows, exact, rtol=1e-3, atol=1e-3)
    [path] = tmp_path.glob("maps-*.npz")
    path.write_bytes(b"truncated")
    cached_trunk.MapCache._open.clear()
    capsys.readouterr()
    rebuilt, _ = cached_rows(*args)
    assert "damaged" in capsys.readouterr().err and calls[-1] == 5
    assert np.array_equal(rebuilt, rows)
    assert len(list(tmp_path.glob("maps-*.npz.damaged*"))) == 1
