"""Stage 05: metrics with micrograph-level uncertainty, the leakage contrast, REPORT.md."""
import importlib

_SUBMODULES = ("leakage", "metrics", "report", "summary")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
