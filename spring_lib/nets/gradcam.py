"""Grad-CAM (pytorch-grad-cam): which parts of a tile drive a network's call."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .models import gradcam_layer


def gradcam_maps(model, tiles: np.ndarray, targets: list[int], transform) -> np.ndarray:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = model.float().eval().to(memory_format=torch.contiguous_format)
    for p in model.parameters():   # a probe's backbone is frozen; Grad-CAM needs its gradients
        p.requires_grad_(True)
    x = transform(tiles)
    with GradCAM(model=model, target_layers=[gradcam_layer(model)]) as cam:
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(t) for t in targets])


def gradcam_panel(model, arm_name: str, tiles: np.ndarray, true: list[str], pred: list[str],
                  classes: list[str], transform, um_per_px: Sequence[float] | None = None):
    """Tiles (top, with a scale bar from `um_per_px`, one per tile) and their Grad-CAM for the
    predicted class (bottom)."""
    from ..data.figures import add_scale_bar

    scales = list(um_per_px) if um_per_px is not None else [None] * len(tiles)
    if len(scales) != len(tiles):
        raise ValueError(f"um_per_px gives {len(scales)} scales for {len(tiles)} tiles")
    maps = gradcam_maps(model, tiles, [classes.index(p) for p in pred], transform)
    n = len(tiles)
    fig, axes = plt.subplots(2, n, figsize=(1.9 * n, 4.2), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(tiles[i], cmap="gray", vmin=0, vmax=255)
        axes[0, i].set_title(f"true: {true[i]}", fontsize=6)
        add_scale_bar(axes[0, i], scales[i], fontsize=6)
        axes[1, i].imshow(tiles[i], cmap="gray", vmin=0, vmax=255)
        axes[1, i].imshow(np.asarray(
            torch.nn.functional.interpolate(torch.tensor(maps[i])[None, None], size=tiles[i].shape,
                                            mode="bilinear")[0, 0]), cmap="jet", alpha=0.45)
        axes[1, i].set_title(f"pred: {pred[i]}", fontsize=6,
                             color="green" if pred[i] == true[i] else "red")
        for ax in axes[:, i]:
            ax.set_axis_off()
    fig.suptitle(f"Grad-CAM of {arm_name} (last convolutional stage) for the predicted class",
                 fontsize=9)
    fig.tight_layout()
    return fig
