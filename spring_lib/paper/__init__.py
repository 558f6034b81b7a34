"""Step 06: the audit of the paper's numbers (`core.paper_numbers`) and its Table 1 recomputed."""
import importlib

_SUBMODULES = ("audit", "checks", "heat_treatment", "metric_checks")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
