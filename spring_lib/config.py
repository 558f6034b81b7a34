"""Parameter profiles: `params/<profile>.yaml` -> one validated `StudyConfig`.

Every notebook and library call takes its parameters from this object, so a typo in a
profile fails before any work starts, with the key and the file named.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

PARAMS_DIR_ENV = "SPRING_PARAMS_DIR"


class ConfigError(ValueError):
    """A profile (or its combination with the data) that cannot run."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Section):
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


class TilingConfig(_Section):
    tile_size: int = Field(224, ge=16, description="Tile edge in px (the paper: 224)")
    stride: int = Field(224, ge=1, description="Step between tiles; = tile_size: no overlap")
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


class SplitConfig(_Section):
    group_by: Literal["micrograph", "sample"] = Field(
        "micrograph", description="Unit kept whole on one side of every split")
    test_fraction: float = Field(0.25, gt=0, lt=1)
    val_fraction: float = Field(0.15, ge=0, lt=1, description="Of the non-test groups")
    seed: int = 0
    train_tiles_per_class: int = Field(600, ge=1, description="SS-3000: 600")
    val_tiles_per_class: int = Field(100, ge=0)
    test_tiles_per_class: int = Field(200, ge=1, description="TEST-1000: 200")
    leaky_tile_split: bool = Field(
        False, description="Also build the (leaky) random tile-level split for contrast")

    @model_validator(mode="after")
    def _check(self):
        if self.test_fraction + self.val_fraction * (1 - self.test_fraction) >= 0.9:
            raise ValueError("test_fraction and val_fraction leave under 10% for training")
        return self


class GLCMConfig(_Section):
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
    n_jobs: int = Field(2, ge=1, description="Processes for feature extraction")

    @model_validator(mode="after")
    def _check(self):
        from .glcm.features import PROPERTIES

        if any(not 2 <= lv <= 256 for lv in self.levels):
            raise ValueError(f"levels must lie in 2..256, got {self.levels}")
        if any(not ds or min(ds) < 1 for ds in self.distances):
            raise ValueError(f"each distance set needs positive distances, got {self.distances}")
        unknown = set(self.properties) - set(PROPERTIES)
        if unknown:
            raise ValueError(f"unknown GLCM properties {sorted(unknown)}; known: {list(PROPERTIES)}")
        if any(c <= 0 for c in self.svm_C):
            raise ValueError("svm_C values must be > 0")
        return self


class CNNConfig(_Section):
    """Network arms and their training budget (the paper: Adam, lr 0.0005, batch 32, 500 epochs)."""
    arms_baselines: list[str] = Field(
        ["VGG19-scratch", "VGG19-TL", "AlexNet-TL", "AlexNet-scratch", "MobileNetV2-TL",
         "MobileNetV2-scratch"], description="Notebook 03")
    arms_seresnext: list[str] = Field(
        ["SE-ResNeXt101-TL", "SE-ResNeXt50-TL", "SE-ResNeXt101-scratch", "SE-ResNeXt50-scratch",
         "EfficientNet-Lite0-TL", "EfficientNet-Lite0-scratch"], description="Notebook 04")
    weights: dict[str, str] = Field(
        {}, description="Per architecture: imagenet (hub), package (Lite0), or a local file/folder")
    skip_unavailable: bool = Field(
        True, description="Record a TL arm without weights as not run, instead of stopping")
    freeze: Literal["full", "last_stage", "head"] = "full"
    epochs: int = Field(500, ge=1)
    epochs_by_architecture: dict[str, int] = {}
    batch_size: int = Field(32, ge=1)
    lr: float = Field(0.0005, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    cosine: bool = False
    augment: bool = True
    input_size: int = Field(224, ge=32, description="Tiles are resized to this before the network")
    normalization: Literal["paper", "imagenet"] = "paper"
    normalization_by_architecture: dict[str, Literal["paper", "imagenet"]] = {}
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    channels_last: bool = True
    max_train_tiles_per_class: Optional[int] = Field(None, ge=1)

    @model_validator(mode="after")
    def _check(self):
        from .nets.models import ARCHITECTURES, Arm

        for name in self.arms_baselines + self.arms_seresnext:
            Arm.parse(name)
        for field in ("weights", "epochs_by_architecture", "normalization_by_architecture"):
            unknown = set(getattr(self, field)) - set(ARCHITECTURES)
            if unknown:
                raise ValueError(f"{field}: unknown architecture(s) {sorted(unknown)}; "
                                 f"known: {sorted(ARCHITECTURES)}")
        if any(v < 1 for v in self.epochs_by_architecture.values()):
            raise ValueError("epochs_by_architecture values must be >= 1")
        return self


class EvaluationConfig(_Section):
    n_bootstrap: int = Field(1000, ge=10, description="Micrograph bootstrap replicates")
    leakage_arm: str = Field("AlexNet-scratch", description="Network for the leaky-split contrast")
    leakage_epochs: int = Field(3, ge=1)
    gradcam_arm: Optional[str] = Field(None, description="null: the best trained network arm")
    gradcam_tiles_per_class: int = Field(2, ge=1)

    @model_validator(mode="after")
    def _check(self):
        from .nets.models import Arm

        Arm.parse(self.leakage_arm)
        if self.gradcam_arm:
            Arm.parse(self.gradcam_arm)
        return self


class StudyConfig(_Section):
    profile: str
    description: str = ""
    cache_dir: Optional[str] = Field(
        None, description="Tile/feature cache; null: $SPRING_CACHE_DIR, else ./.cache")
    data: DataConfig = DataConfig()
    tiling: TilingConfig = TilingConfig()
    split: SplitConfig = SplitConfig()
    glcm: GLCMConfig = GLCMConfig()
    cnn: CNNConfig = CNNConfig()
    evaluation: EvaluationConfig = EvaluationConfig()

    _source: Optional[Path] = PrivateAttr(None)

    @property
    def source(self) -> str:
        return str(self._source) if self._source else f"<profile {self.profile}>"

    def error(self, key: str, message: str) -> ConfigError:
        """A ConfigError that names the key and the profile file, for checks made later."""
        return ConfigError(f"{self.source}: {key}: {message}")


def project_root() -> Path:
    """The checkout holding `params/` (editable install), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "params").is_dir() else Path.cwd()


def params_dir() -> Path:
    import os

    return Path(os.environ.get(PARAMS_DIR_ENV) or project_root() / "params")


def profile_path(profile: str | Path) -> Path:
    """A profile name (`cpu`) or a path to a YAML file."""
    p = Path(profile)
    if p.suffix in (".yaml", ".yml"):
        return p
    candidate = params_dir() / f"{profile}.yaml"
    if not candidate.exists():
        known = sorted(x.stem for x in params_dir().glob("*.yaml"))
        raise ConfigError(f"no profile '{profile}' in {params_dir()} (known: {', '.join(known)})")
    return candidate


def load_config(profile: str | Path = "cpu") -> StudyConfig:
    path = profile_path(profile)
    if not path.exists():
        raise ConfigError(f"profile file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping of sections, got {type(raw).__name__}")
    raw.setdefault("profile", path.stem)
    try:
        cfg = StudyConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(x) for x in err["loc"]) or "<top>"
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check its spelling and section)"
            lines.append(f"{path}: {key}: {msg} (got {err.get('input')!r})"
                         if err["type"] != "extra_forbidden" else f"{path}: {key}: {msg}")
        raise ConfigError("\n".join(lines)) from None
    cfg._source = path
    return cfg
