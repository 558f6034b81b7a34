"""The foundations every step stands on, torch-free: paths, the architecture registry and arm
names, the paper's numbers and protocol, the product catalogue, the prediction file format,
progress events and the machine description. Nothing here imports from another layer."""
import importlib

_SUBMODULES = ("architectures", "arm_kinds", "arm_result", "grouped_cv", "machine", "paper_numbers", "paths", "predictions", "products", "progress", "results_dir")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
