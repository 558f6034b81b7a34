"""The top layer: running the notebook series (runner, run record, lock, live monitor), assembling
REPORT.md from a run's products, and the static site."""
import importlib

_SUBMODULES = ("errors", "kernel", "lock", "monitor", "record", "report", "runner", "site")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
