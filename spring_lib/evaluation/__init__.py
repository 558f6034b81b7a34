"""Step 05: micrograph-level metrics with sample-bootstrap intervals (`metrics`), the tables that
score and compare every arm (`tables`), the rules that read them (`verdicts`), the leakage ladder
(`leakage`) and the figures (`figures`)."""
from ..core.lazy import submodule_loader

__getattr__ = submodule_loader(__name__, (
    "figures", "leakage", "metrics", "tables", "verdicts"))
