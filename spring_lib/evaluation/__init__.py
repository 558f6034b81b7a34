"""Step 05: micrograph-level metrics with sample-bootstrap intervals (`metrics`), the tables that
score and compare every arm (`tables`), intervals as numbers and as text (`intervals`), the rules
that read them (`verdicts`), the paper's claims with their verdicts (`claims`), the leakage ladder
(`leakage`) and the figures (`figures`)."""
from ..core.lazy import submodule_loader

__getattr__ = submodule_loader(__name__, (
    "claims", "costs", "figures", "intervals", "leakage", "metrics", "tables", "verdicts"))
