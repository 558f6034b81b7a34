"""Reading one micrograph: any common format, 8/16-bit, grey or colour -> 2-D uint8 grey, with
the SEM data bar (the text band under the image) detected and removed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .catalogue import DataError

# SEM exports reach 12000 px and more; Pillow's bomb guard (89 Mpx) would refuse them
Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, 2 ** 29)


def to_uint8_grey(arr: np.ndarray) -> np.ndarray:
    """Greyscale uint8 from grey/RGB(A), 8/16-bit or float pixels.

    RGB with equal channels keeps one channel exactly; colour becomes luminance. Wider
    than 8 bit is min-max stretched (SEM 16-bit files rarely use the full range).
    """
    a = np.asarray(arr)
    if a.ndim == 3:
        if a.shape[-1] == 4:
            a = a[..., :3]
        if a.shape[-1] == 1:
            a = a[..., 0]
        elif a.shape[-1] == 3:
            if np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 0], a[..., 2]):
                a = a[..., 0]
            else:
                lum = a.astype(np.float64) @ np.array([0.2125, 0.7154, 0.0721])
                a = np.clip(np.round(lum), 0, 255).astype(np.uint8) if a.dtype == np.uint8 else lum
        else:
            raise DataError(f"unsupported channel count {a.shape[-1]}")
    if a.ndim != 2:
        raise DataError(f"expected a 2-D image, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    a = a.astype(np.float64)
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        return np.zeros(a.shape, np.uint8)
    return np.round((a - lo) / (hi - lo) * 255).astype(np.uint8)


def read_micrograph(path: str | Path, databar: str | int = "none") -> np.ndarray:
    """One micrograph as 2-D uint8, with the SEM data bar removed.

    `databar`: "none", "auto" (detect a bottom band of saturated pixels), or rows to crop.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            arr = tifffile.imread(path)
        else:
            with Image.open(path) as im:
                if im.mode == "P":
                    im = im.convert("RGB")
                elif im.mode in ("I;16", "I;16B", "I;16L"):
                    im = im.convert("I")
                arr = np.asarray(im)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the same to the user
        raise DataError(f"cannot read micrograph {path}: {exc}") from None
    img = to_uint8_grey(arr)
    rows = databar_rows(img) if databar == "auto" else (0 if databar == "none" else int(databar))
    if rows:
        if rows >= img.shape[0]:
            raise DataError(f"{path}: data bar of {rows} rows is the whole image")
        img = img[:-rows]
    return img


def databar_rows(img: np.ndarray, max_fraction: float = 0.5, share: float = 0.6) -> int:
    """Rows of an SEM data bar at the bottom of `img`, 0 if none.

    A data bar is a band of rows most of whose pixels are one flat background (black, white
    or any grey), carrying text; a micrograph row almost never is. Returns the length of the
    bottom run of such rows, looked for only in the bottom `max_fraction` of the image.
    """
    h, w = img.shape
    run = 0
    for r in range(h - 1, int(h * (1 - max_fraction)) - 1, -1):
        counts = np.bincount(img[r], minlength=256)
        flat = np.convolve(counts, np.ones(5, np.int64), "same").max()   # one level, +-2
        saturated = counts[:9].sum() + counts[247:].sum()
        if max(flat, saturated) < share * w:
            break
        run += 1
    return run if run >= 4 else 0
