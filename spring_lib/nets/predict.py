"""Classifying new micrographs with a trained checkpoint, tiled the way it was trained.

The checkpoint carries what tiling needs: tile size, scale normalisation, the input transform
(normalisation statistics, input size) and the class names.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.catalogue import IMAGE_SUFFIXES, DataError, read_micrograph
from .models import Arm, build_model
from ..data.tiling import cut_tiles, resample_to_scale, tile_origins
from .training import InputTransform, evaluate


@dataclass
class Predictor:
    model: torch.nn.Module
    transform: InputTransform
    classes: list[str]
    tile_size: int
    um_per_px: float | None
    databar: str
    arm: str

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> "Predictor":
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"checkpoint {path} does not exist")
        state = torch.load(path, map_location="cpu", weights_only=True)
        meta = state.get("meta") or {}
        missing = [k for k in ("arm", "classes", "tile_size") if k not in meta]
        if missing or "transform" not in state:
            raise ValueError(f"{path} is not a spring_lib training checkpoint (missing "
                             f"{missing or ['transform']})")
        arm = Arm.parse(meta["arm"])
        model, _ = build_model(Arm(arm.name, arm.architecture, False), len(meta["classes"]))
        model.load_state_dict(state["model"])
        model.eval()
        t = state["transform"]
        transform = InputTransform(t["size"], tuple(t["mean"]), tuple(t["std"]), t["kind"])
        databar = meta.get("databar", "auto")
        return cls(model, transform, list(meta["classes"]), int(meta["tile_size"]),
                   meta.get("um_per_px"), "auto" if databar in ("auto", "None") else databar,
                   meta["arm"])

    def tiles_of(self, path: Path, um_per_px: float | None = None) -> tuple[np.ndarray, list]:
        databar = int(self.databar) if str(self.databar).isdigit() else self.databar
        img = read_micrograph(path, databar)
        if self.um_per_px:
            if not um_per_px:
                raise DataError(f"{path}: the model was trained at {self.um_per_px} µm/px; give the "
                                "image's scale with --um-per-px")
            img = resample_to_scale(img, um_per_px, self.um_per_px)
        origins = tile_origins(*img.shape, self.tile_size, self.tile_size)
        if not origins:
            raise DataError(f"{path}: {img.shape[1]}x{img.shape[0]} px is smaller than one "
                            f"{self.tile_size} px tile")
        return cut_tiles(img, origins, self.tile_size), origins

    def predict(self, path: Path, um_per_px: float | None = None) -> tuple[dict, pd.DataFrame]:
        tiles, origins = self.tiles_of(path, um_per_px)
        _, _, proba = evaluate(self.model, tiles, None, self.transform, device=torch.device("cpu"))
        mean = proba.mean(0)
        row = {"image": str(path), "predicted_class": self.classes[int(mean.argmax())],
               "n_tiles": len(tiles), **{f"p:{c}": float(v) for c, v in zip(self.classes, mean)}}
        per_tile = pd.DataFrame({"image": str(path), "y": [o[0] for o in origins],
                                 "x": [o[1] for o in origins],
                                 "predicted_class": np.asarray(self.classes)[proba.argmax(1)]})
        for i, c in enumerate(self.classes):
            per_tile[f"p:{c}"] = proba[:, i]
        return row, per_tile


def expand_inputs(inputs: list[str]) -> list[Path]:
    paths = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            paths += sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES)
        else:
            paths.append(p)
    return paths


def predict_cli(checkpoint: str, inputs: list[str], output: str | None, tiles_output: str | None,
                um_per_px: float | None) -> int:
    """Predict every image; report unreadable ones and carry on. Exit 1 if any failed."""
    predictor = Predictor.from_checkpoint(checkpoint)
    rows, tiles, failed = [], [], []
    paths = expand_inputs(inputs)
    if not paths:
        print("error: no images found in the given paths", file=sys.stderr)
        return 1
    for path in paths:
        try:
            row, per_tile = predictor.predict(path, um_per_px)
        except (DataError, OSError) as exc:
            failed.append(path)
            print(f"skipped {path}: {exc}", file=sys.stderr)
            continue
        rows.append(row)
        tiles.append(per_tile)
    table = pd.DataFrame(rows)
    if output:
        table.to_csv(output, index=False)
    else:
        print(table.to_csv(index=False), end="")
    if tiles_output and tiles:
        pd.concat(tiles, ignore_index=True).to_csv(tiles_output, index=False)
    print(f"{len(rows)} micrograph(s) predicted with {predictor.arm}, {len(failed)} failed",
          file=sys.stderr)
    return 1 if failed else 0
