"""Stage 06 and the paper itself: its numbers as data, their audit, Table 1."""
from . import audit, heat_treatment, numbers  # noqa: F401
