"""Step 02: the classical arms: GLCM texture features with the tuned GLCM+SVM pipeline, and
the pixel-size floor."""
import importlib

_SUBMODULES = ("features", "figures", "pixel_size", "svm")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
