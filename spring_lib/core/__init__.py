"""The foundations every step stands on, torch-free: paths, the architecture registry and arm
names, the paper's numbers and protocol, the product catalogue, the prediction file format,
progress events and the machine description. Nothing here imports from another layer."""
from .lazy import submodule_loader

__getattr__ = submodule_loader(__name__, (
    "architectures", "arm_kinds", "arm_result", "grouped_cv", "lazy", "machine",
    "paper_numbers", "paths", "predictions", "products", "progress", "results_dir", "schedule"))
