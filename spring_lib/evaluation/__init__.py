"""Stage 05: micrograph-level metrics with sample-bootstrap intervals, the leakage ladder, REPORT.md."""
import importlib

_SUBMODULES = ("figures", "leakage", "metrics", "summary")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
