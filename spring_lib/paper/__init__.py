"""Step 06: the audit of the paper's numbers (`core.paper_numbers`) and its Table 1 recomputed."""
from ..core.lazy import submodule_loader

__getattr__ = submodule_loader(__name__, (
    "audit", "checks", "heat_treatment", "metric_checks"))
