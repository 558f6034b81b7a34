"""Step 05: micrograph-level metrics with sample-bootstrap intervals (`metrics`), the tables that
score and compare every arm (`tables`), the rules that read them (`verdicts`), the leakage ladder
(`leakage`) and the figures (`figures`)."""
import importlib

_SUBMODULES = ("figures", "leakage", "metrics", "tables", "verdicts")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
