"""Stage 02: GLCM texture features and the tuned GLCM+SVM pipeline."""
import importlib

_SUBMODULES = ("features", "svm")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
