"""Stage 05: metrics with micrograph-level uncertainty, the leakage contrast, REPORT.md."""
from . import leakage, metrics, report  # noqa: F401
