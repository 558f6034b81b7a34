"""Stage 06 and the paper itself: its numbers as data, their audit, Table 1."""
import importlib

_SUBMODULES = ("audit", "heat_treatment", "numbers")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
