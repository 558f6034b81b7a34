"""The checks of a profile that need its data, made before a run or an estimate starts a kernel:
a tile larger than a micrograph, too few samples for a split, a fold or a tuning fold. Each is
one ConfigError naming the key and the profile file, where it used to surface inside notebook
01 or 02, after a failed estimate and a kernel's traceback."""
from __future__ import annotations

import inspect
import warnings
from typing import NamedTuple

import pandas as pd
from PIL import Image

from ..config import StudyConfig
from ..data.catalogue import UHCSDB_NEAR_DUPLICATES, databar_setting, load_catalog
from ..data.images import databar_rows, read_micrograph
from ..data.splits import SplitError, group_ids, hold_out_groups, kfold_assignment
from ..data.tileset import check_scales
from ..data.tiling import scaled_shape

# an automatic data bar is looked for in this bottom share of a micrograph only: no more is cut
AUTO_BAR_SHARE = inspect.signature(databar_rows).parameters["max_fraction"].default


def preflight(cfg: StudyConfig) -> pd.DataFrame:
    """The profile's catalogue, once the profile is known to fit its data and its weights."""
    check_weights(cfg)
    catalog = load_catalog(cfg)
    check_tile_size(cfg, catalog)   # first, as notebook 01 meets them
    check_groups(cfg, catalog)
    return catalog


def check_weights(cfg: StudyConfig) -> None:
    """Pretrained weights the profile needs and does not skip (`cnn.skip_unavailable`), found
    without loading them: a file, the package's, a hub's cached copy, or a reachable hub.
    Without this, `paper` on an offline machine timed the series for minutes, then failed on
    SE-ResNeXt101's weights in a traceback."""
    if cfg.cnn.skip_unavailable:
        return
    from ..core.architectures import Arm

    missing = {}
    for arm in map(Arm.parse, cfg.cnn.arms):
        if arm.pretrained and arm.architecture not in missing:
            why = _weights_missing(arm.spec, cfg.weights_for(arm.architecture))
            if why:
                missing[arm.architecture] = why
    if missing:
        by_why = {why: [a for a in missing if missing[a] == why] for why in missing.values()}
        raise cfg.error("cnn.weights", "; ".join(
            f"{', '.join(a)}: {why}" for why, a in by_why.items()) + ". Set "
            "cnn.weights.<architecture> "
            "to a local weights file for each, or cnn.skip_unavailable: true to record those "
            "arms as not run")


def check_groups(cfg: StudyConfig, catalog: pd.DataFrame) -> None:
    """What the data's samples cannot give however the split falls. Tiling may link more
    near-duplicates (which only merges groups), so what fails here fails there too."""
    sc = cfg.split
    links = UHCSDB_NEAR_DUPLICATES if cfg.data.layout == "uhcsdb" else []
    micro = catalog.assign(group=group_ids(catalog, sc.group_by, links))
    per_class = micro.groupby("label", observed=True)["group"].nunique()
    lone = per_class.index[per_class < 2].tolist()
    if lone:
        fix = ("group_by: micrograph, more micrographs" if sc.group_by == "sample"
               else "more micrographs")
        raise cfg.error("split", f"class(es) {lone} have a single {sc.group_by} each, and a "
                        f"class needs one in train and another in test: use {fix}, or leave "
                        "the class out (data.classes)")
    labels, groups = micro["label"].astype(str).to_numpy(), micro["group"].to_numpy()
    with warnings.catch_warnings():   # a small class's warning: the notebook shows it
        warnings.simplefilter("ignore", UserWarning)
        try:
            hold_out_groups(labels, groups, sc.test_fraction, sc.seed, "test_fraction")
        except SplitError as exc:
            raise cfg.error("split", f"{exc} (group_by={sc.group_by})") from None
        try:
            kfold_assignment(micro, cfg.evaluation.kfold, sc.seed)
        except ValueError as exc:
            raise cfg.error("evaluation.kfold", f"{exc} (group_by={sc.group_by})") from None
    n = len(set(groups))
    # the test split and an evaluation fold hold out at least one group: the rest is smaller
    need = {"glcm.cv_folds": cfg.glcm.cv_folds, "probe.cv_folds": cfg.probe.cv_folds}
    if sc.val_fraction > 0:   # held out of what the test split leaves, as hold_out_groups does
        need["split.val_fraction"] = k_val = max(2, int(round(1 / sc.val_fraction)))
        most = int(micro["label"].value_counts().max()) - 1   # every class has a test micrograph
        if most < k_val:   # stratified folds need one class with a micrograph in each
            raise cfg.error("split.val_fraction", f"holding out 1/{k_val} of what the test split "
                            f"leaves needs a class with {k_val} micrographs there; the largest "
                            f"class has at most {most} left: raise split.val_fraction, or use "
                            "more micrographs")
    for key, k in need.items():
        if n - 1 < k:
            raise cfg.error(key, f"{key} asks for {k} folds of the groups that the test split or "
                            f"an evaluation fold leaves, and the data has {n} groups in all "
                            f"(group_by={sc.group_by}): lower {key}, or use more micrographs")


class _Side(NamedTuple):
    """A micrograph's shortest side as tiled: lo..hi from its header (an automatic data bar's
    height is known only once decoded), exact where lo == hi."""
    lo: int
    hi: int


def _weights_missing(arch, source: str | None) -> str | None:
    """Why `source` (cnn.weights) gives `arch` no weights here, found without loading them."""
    from ..nets.hub import HUB_OFFLINE_ENV, OFFLINE_ENV, env_true, hub_address, hub_unreachable
    from ..nets.weights import weights_file

    source = source or arch.default_weights
    if weights_file(arch, source) is not None:
        return None
    if source == "package":
        return f"its weights package {arch.weights_package} is not installed"
    if source != "imagenet":
        return f"no weights file at {source}"
    for env in (OFFLINE_ENV, HUB_OFFLINE_ENV):   # the network is not to be asked
        if env_true(env):
            return f"ImageNet weights need a model hub, and {env} is set"
    why = hub_unreachable(*hub_address(arch.library))
    return f"ImageNet weights need a model hub, and {why}" if why else None


def check_tile_size(cfg: StudyConfig, catalog: pd.DataFrame) -> None:
    """Every micrograph must hold one tile (as tiling cuts it: data bar off, resampled to
    tiling.um_per_px), judged from image headers; only a micrograph whose data bar decides
    it is decoded."""
    t = cfg.tiling.tile_size
    check_scales(cfg, catalog)
    rows = list(catalog.itertuples())
    sides = [_header_side(cfg, r) for r in rows]
    exact: dict[int, tuple[int, int]] = {}
    small = []
    for i, side in enumerate(sides):
        if t <= side.lo:
            continue
        if t <= side.hi:   # the data bar decides: decode it
            exact[i] = _decoded_shape(cfg, rows[i])
            sides[i] = _Side(min(exact[i]), min(exact[i]))
        if sides[i].hi < t:
            small.append(i)
    if not small:
        return
    largest = _largest_tile(cfg, rows, sides)
    where = " after resampling to tiling.um_per_px" if cfg.tiling.um_per_px else ""
    if len(small) == len(rows):
        which, fix = f"every one of the {len(rows)} micrographs{where}", ""
    else:
        shown = [f"{rows[i].path} ({_wxh(exact.get(i) or _decoded_shape(cfg, rows[i]))} px)"
                 for i in small[:5]]
        more = f" and {len(small) - 5} more" if len(small) > 5 else ""
        which = f"{len(small)} of the {len(rows)} micrographs{where}: {', '.join(shown)}{more}"
        fix = ", or leave those micrographs out"
    raise cfg.error("tiling.tile_size", f"{t} px is larger than a side of {which}; the largest "
                    f"tile every micrograph holds is {largest} px. Set tiling.tile_size to at "
                    f"most {largest}{fix}.")


def _largest_tile(cfg: StudyConfig, rows: list, sides: list[_Side]) -> int:
    """The shortest side of all, exact: decoding only the micrographs that could be it."""
    best = min(s.hi for s in sides)
    for i in sorted(range(len(sides)), key=lambda i: sides[i].lo):
        if sides[i].lo >= best:
            break
        best = min(best, min(_decoded_shape(cfg, rows[i])))
    return best


def _header_side(cfg: StudyConfig, row) -> _Side:
    """The shortest side as tiled, from the image header and the data bar setting."""
    shape = _header_shape(row.path)
    if shape is None:   # no header read here: decoding says what is wrong, or the size
        side = min(_decoded_shape(cfg, row))
        return _Side(side, side)
    h, w = shape
    setting = databar_setting(cfg, row.has_databar)
    if setting == "auto":   # databar_rows cuts at most the rows below int(h * (1 - share))
        cuts = (0, h - int(h * (1 - AUTO_BAR_SHARE)))
    else:
        cuts = (0 if setting == "none" else int(setting),) * 2
    if h - max(cuts) < 1:   # a bar the whole image: decoding says so
        _decoded_shape(cfg, row)
    out = [_tiled((h - c, w), cfg, row) for c in cuts]
    return _Side(min(min(s) for s in out), max(min(s) for s in out))


def _header_shape(path: str) -> tuple[int, int] | None:
    """(height, width) from the file's header, without decoding its pixels."""
    try:
        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except Exception:  # noqa: BLE001 - tifffile reads TIFFs that Pillow cannot
        try:
            import tifffile

            with tifffile.TiffFile(path) as tif:
                return tuple(tif.pages[0].shape[:2])
        except Exception:  # noqa: BLE001
            return None


def _decoded_shape(cfg: StudyConfig, row) -> tuple[int, int]:
    img = read_micrograph(row.path, databar_setting(cfg, row.has_databar))
    return _tiled(img.shape, cfg, row)


def _tiled(shape: tuple[int, int], cfg: StudyConfig, row) -> tuple[int, int]:
    target = cfg.tiling.um_per_px
    return scaled_shape(*shape, row.um_per_px, target) if target else tuple(shape)


def _wxh(shape: tuple[int, int]) -> str:
    return f"{shape[1]}x{shape[0]}"
