"""The top layer: running the notebook series (runner, run record, lock, live monitor), the
series' estimates and budget, assembling REPORT.md from a run's products, and the static site."""
from ..core.lazy import submodule_loader

__getattr__ = submodule_loader(__name__, (
    "errors", "kernel", "lock", "monitor", "notebook_costs", "preflight", "publish", "record",
    "report", "runner", "series", "site"))
