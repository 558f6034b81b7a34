"""The profile's schema: every section, key, default and cross-check of `params/<profile>.yaml`
(the network recipes of the `cnn` section in `recipe`).

Every notebook and library call takes its parameters from one `StudyConfig`, so a typo in a
profile fails before any work starts, with the key and the file named. Defaults that are the
paper's protocol come from `core.paper_numbers.PROTOCOL`, never from numbers typed here.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import Field, PrivateAttr, model_validator

from ..core.architectures import ARCHITECTURES, Arm
from ..core.paper_numbers import PROTOCOL
from ..core.paths import project_root
from .base import ConfigError, Section
from .recipe import CNNConfig, Recipe

# the texture properties skimage's graycoprops computes; glcm.features extracts exactly these
GLCM_PROPERTIES = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation", "ASM")
PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class DataConfig(Section):
    root: Optional[str] = Field(
        None, description="Data folder; null: $SPRING_DATA_ROOT, else ./data/uhcsdb")
    layout: Literal["uhcsdb", "folders"] = Field(
        "uhcsdb", description="uhcsdb: UHCSDB metadata + images; folders: one folder per class")
    classes: Optional[list[str]] = Field(
        None, description="Class names to study; null: the n_classes labels with most micrographs")
    n_classes: int = Field(5, ge=2)
    databar: Union[Literal["auto", "none"], int] = Field(
        "auto", description="SEM data bar at the image bottom: auto-detect, none, or rows to crop")
    micrograph_limit_per_class: Optional[int] = Field(
        None, ge=1, description="Use at most this many micrographs per class (smoke runs)")

    @model_validator(mode="after")
    def _check(self):
        if isinstance(self.databar, int) and self.databar < 0:
            raise ValueError("databar rows must be >= 0")
        if self.classes is not None and len(set(self.classes)) != len(self.classes):
            raise ValueError("classes has duplicates")
        if self.classes is not None and len(self.classes) < 2:
            raise ValueError("classes needs at least 2 entries")
        return self


class TilingConfig(Section):
    tile_size: int = Field(PROTOCOL.tile_size, ge=16, description="Tile edge in px")
    stride: int = Field(PROTOCOL.tile_size, ge=1, description="Step between tiles; = tile_size: no overlap")
    min_stride: int = Field(
        32, ge=1, description="Finest stride a rare class may use to reach its tile cap")
    um_per_px: Optional[float] = Field(
        None, gt=0, description="Resample every micrograph to this scale before tiling; null: off")

    @model_validator(mode="after")
    def _check(self):
        if self.stride > self.tile_size:
            raise ValueError(f"stride ({self.stride}) larger than tile_size ({self.tile_size}) "
                             "would skip pixels between tiles")
        if self.min_stride > self.stride:
            raise ValueError(f"min_stride ({self.min_stride}) larger than stride ({self.stride})")
        return self


class SplitConfig(Section):
    group_by: Literal["micrograph", "sample"] = Field(
        "sample", description="Unit kept whole on one side of every split and fold: samples, the "
                              "independent units (micrographs of one sample are near-relatives)")
    test_fraction: float = Field(0.25, gt=0, lt=1)
    val_fraction: float = Field(0.15, ge=0, lt=1, description="Of the non-test groups")
    seed: int = 0
    train_tiles_per_class: int = Field(PROTOCOL.train_tiles_per_class, ge=1)
    val_tiles_per_class: int = Field(100, ge=0)
    test_tiles_per_class: int = Field(PROTOCOL.test_tiles_per_class, ge=1)
    leaky_tile_split: bool = Field(
        True, description="Also build the (leaky) random tile-level split for notebook 05's contrast")

    @model_validator(mode="after")
    def _check(self):
        if self.test_fraction + self.val_fraction * (1 - self.test_fraction) >= 0.9:
            raise ValueError("test_fraction and val_fraction leave under 10% for training")
        return self


class GLCMConfig(Section):
    """GLCM+SVM baseline: every list is a search space for grouped cross-validation."""
    levels: list[int] = Field([32, 64], min_length=1, description="Grey levels after quantisation")
    distances: list[list[int]] = Field([[1, 2, 4]], min_length=1,
                                       description="Candidate sets of pixel distances")
    angles_deg: list[float] = Field([0, 45, 90, 135], min_length=1)
    properties: list[str] = Field(
        ["contrast", "dissimilarity", "homogeneity", "energy", "correlation", "ASM"], min_length=1)
    rotation: list[Literal["average", "per_angle"]] = Field(["average"], min_length=1)
    svm_kernel: list[Literal["rbf", "linear", "poly"]] = Field(["rbf"], min_length=1)
    svm_C: list[float] = Field([1.0, 10.0, 100.0], min_length=1)
    svm_gamma: list[Union[Literal["scale", "auto"], float]] = Field(["scale"], min_length=1)
    cv_folds: int = Field(4, ge=2)
    n_jobs: int = Field(2, ge=1, description="Threads for feature extraction")

    @model_validator(mode="after")
    def _check(self):
        if any(not 2 <= lv <= 256 for lv in self.levels):
            raise ValueError(f"levels must lie in 2..256, got {self.levels}")
        if any(not ds or min(ds) < 1 for ds in self.distances):
            raise ValueError(f"each distance set needs positive distances, got {self.distances}")
        unknown = set(self.properties) - set(GLCM_PROPERTIES)
        if unknown:
            raise ValueError(f"unknown GLCM properties {sorted(unknown)}; known: {list(GLCM_PROPERTIES)}")
        if any(c <= 0 for c in self.svm_C):
            raise ValueError("svm_C values must be > 0")
        return self


class ProbeConfig(Section):
    """`<architecture>-probe` arms: frozen pretrained features, a linear classifier on top,
    its regularisation and the feature pooling chosen by grouped cross-validation."""
    C: list[float] = Field([0.01, 0.1, 1.0], min_length=1,
                           description="Inverse regularisation of the logistic regression")
    pooling: list[Literal["head", "texture"]] = Field(["head", "texture"], min_length=1)
    weighting: list[Literal["none", "class", "sample", "class+sample"]] = Field(
        ["none"], min_length=1, description="What weighs the same in training: every tile, "
                                            "every class, every sample, or both (chosen inside "
                                            "the fold; `core.weighting`)")
    cv_folds: int = Field(4, ge=2)
    batch_size: int = Field(64, ge=1, description="Tiles per forward pass when extracting")

    @model_validator(mode="after")
    def _check(self):
        if any(c <= 0 for c in self.C):
            raise ValueError("C values must be > 0")
        return self


class FusionConfig(Section):
    """The `fused` arm: the probes' features joined under one linear head (`nets.fusion`). The
    inner search tries every subset of at least `min_members` of `members` whose probe ran,
    each C, and each of `probe.weighting`."""
    members: list[str] = Field([], description="Architectures whose probes the fused arm joins")
    min_members: int = Field(2, ge=1, description="Fewest members a candidate joins")
    C: list[float] = Field([0.1], min_length=1, description="Inverse regularisation of its head")

    @model_validator(mode="after")
    def _check(self):
        unknown = [a for a in self.members if a not in ARCHITECTURES]
        if unknown:
            raise ValueError(f"unknown architectures {unknown}; known: {sorted(ARCHITECTURES)}")
        if any(c <= 0 for c in self.C):
            raise ValueError("C values must be > 0")
        return self


class EvaluationConfig(Section):
    n_bootstrap: int = Field(1000, ge=10, description="Sample bootstrap replicates")
    kfold: int = Field(5, ge=2, description="Folds over all micrographs, grouped like the split "
                                            "(samples): the headline evaluation of every arm")
    read_whole: bool = Field(
        True, description="Score each k-fold test micrograph from windows over its whole area "
                          "(half a tile apart, as a phase map), not only its capped tiles")
    ladder_random_folds: int = Field(
        10, ge=2, description="Folds of the random-tile protocol in the leakage ladder")
    gradcam_arm: Optional[str] = Field(None, description="null: the best trained network arm")
    gradcam_tiles_per_class: int = Field(2, ge=1)
    map_arm: Optional[str] = Field(None, description="Phase maps; null: the best network arm")
    map_classes: list[str] = Field(
        ["pearlite+spheroidite", "spheroidite+widmanstatten"],
        description="Classes whose test micrographs get phase maps (mixed constituents)")
    map_stride_fraction: float = Field(0.5, gt=0, lt=1, description="Window step / tile size "
                                       "of the phase maps and of whole reading")

    @model_validator(mode="after")
    def _check(self):
        for arm in (self.gradcam_arm, self.map_arm):
            if arm:
                Arm.parse(arm)
        return self


class StudyConfig(Section):
    profile: str
    description: str = ""
    cache_dir: Optional[str] = Field(
        None, description="Tile/feature/training-state cache; null: $SPRING_CACHE_DIR, else ./.cache")
    data: DataConfig = DataConfig()
    tiling: TilingConfig = TilingConfig()
    split: SplitConfig = SplitConfig()
    glcm: GLCMConfig = GLCMConfig()
    probe: ProbeConfig = ProbeConfig()
    cnn: CNNConfig = CNNConfig()
    fusion: FusionConfig = FusionConfig()
    evaluation: EvaluationConfig = EvaluationConfig()

    _source: Optional[Path] = PrivateAttr(None)

    @model_validator(mode="after")
    def _check(self):
        if not PROFILE_NAME.match(self.profile):
            raise ValueError(f"profile name {self.profile!r} must be a plain name (letters, digits, "
                             "'-' and '_'): it names the folder results/<profile>/")
        for name in self.cnn.arms:
            r = self.recipe(name)
            if Arm.parse(name).kind == "TL" and r.head_init == "probe" and (
                    r.normalization != "imagenet"):
                raise ValueError(f"cnn.overrides: {name} starts from a probe (head_init: probe), "
                                 "whose features are in the weights' own normalisation: give it "
                                 "normalization imagenet")
        for key in ("gradcam_arm", "map_arm"):
            arm = getattr(self.evaluation, key)
            if arm and arm not in self.cnn.arms:
                raise ValueError(f"evaluation.{key}: {arm} is not one of the profile's cnn arms")
        unprobed = [a for a in self.fusion.members if f"{a}-probe" not in self.cnn.arms]
        if unprobed:
            raise ValueError(f"fusion.members: {unprobed} have no probe among the cnn arms; "
                             f"add {[a + '-probe' for a in unprobed]} or leave them out")
        return self

    @property
    def source(self) -> str:
        return str(self._source) if self._source else f"<profile {self.profile}>"

    def recipe(self, arm: Arm | str) -> Recipe:
        return self.cnn.recipe(arm, self.tiling.tile_size)

    def weights_for(self, architecture: str) -> str | None:
        """cnn.weights of an architecture, a relative path taken from the project root."""
        source = self.cnn.weights.get(architecture)
        if source is None or source in ("imagenet", "package") or Path(source).is_absolute():
            return source
        return str(project_root() / Path(source).expanduser())

    def error(self, key: str, message: str) -> ConfigError:
        """A ConfigError that names the key and the profile file, for checks made later."""
        return ConfigError(f"{self.source}: {key}: {message}")
