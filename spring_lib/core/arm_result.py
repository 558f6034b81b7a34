"""One result for every arm, whatever its kind: a status from a closed set, a note in words, its
estimated and actual time, the files it wrote, and the fields of its arms-table row.

GLCM+SVM, the pixel-size floor, probes and trained networks all end as an `ArmResult`, so the
arms tables share one layout and a reader tests a status by equality, never by the wording of a
sentence. What varies between arms (why it did not learn, which epoch it resumed after, by how
much it exceeded a cap) is the note.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from .progress import arm_finished


class ArmStatus(str, Enum):
    """Where an arm ended; the value is what the arms tables show."""
    PLANNED = "planned"                              # timed here, waiting to run
    FITTED = "fitted"                                # a classical arm
    PROBED = "probed"                                # a frozen-feature probe
    TRAINED = "trained"                              # a network, in every fold
    DID_NOT_LEARN = "did not learn"                  # no better than its majority class
    NOT_RUN_WEIGHTS = "not run: weights unavailable"
    NOT_RUN_OVER_CAP = "not run: over the arm's cap"
    NOT_RUN_OVER_BUDGET = "not run: over the run's budget"
    NOT_RUN_NO_SCALE = "not run: no scale"           # pixel size without a scale bar
    NOT_RUN_TOO_FEW = "not run: too few members"     # a fused arm short of fusion.min_members

    def __str__(self) -> str:
        return self.value


# statuses of arms with predictions, and of arms with training logs (as the tables spell them)
EVALUATED = tuple(s.value for s in (ArmStatus.FITTED, ArmStatus.PROBED, ArmStatus.TRAINED))
TRAINED_OR_TRIED = (ArmStatus.TRAINED.value, ArmStatus.DID_NOT_LEARN.value)
# the columns of an arms table without arms
EMPTY_ARMS_COLUMNS = ["arm", "architecture", "kind", "status", "note", "weights", "seeds"]


def describe(status: str | ArmStatus, note: str | float | None = None) -> str:
    """A status and its note as one phrase, for people: "did not learn (within 5.6 min: ...)".
    A note read back from a table may be NaN (an empty cell)."""
    text = ArmStatus(status).value
    if note is None or (isinstance(note, float) and math.isnan(note)) or not str(note):
        return text
    return f"{text} ({note})"


@dataclass
class ArmResult:
    """One arm's outcome. `settings`: what it ran with (recipe, execution), shown before its
    estimate; `outcome`: what it found (tuned parameters, scores, epochs). `planned`: timed
    before it ran, so its row carries the estimate even where there is none."""
    arm: str
    kind: str                          # the arms table's: classical, probe, TL, scratch, fused
    status: ArmStatus
    note: str = ""
    architecture: str | None = None    # network arms
    weights: str | None = None         # where the initial weights came from, or why none
    settings: dict = field(default_factory=dict)
    planned: bool = False
    estimate_s: float | None = None
    outcome: dict = field(default_factory=dict)
    actual_s: float | None = None
    paths: list[str] = field(default_factory=list)   # prediction and model files, relative

    def __post_init__(self):
        self.status = ArmStatus(self.status)

    @property
    def evaluated(self) -> bool:
        """Whether the arm has predictions that evaluation reads."""
        return self.status.value in EVALUATED

    def describe(self) -> str:
        return describe(self.status, self.note)

    def finished(self) -> "ArmResult":
        """Report the arm's whole time and how it ended (run.json, the runner's terminal)."""
        arm_finished(self.arm, self.actual_s, self.describe())
        return self

    def row(self) -> dict:
        """Its arms-table row: arm, architecture (networks), kind, status, note, weights, the
        settings, the estimate (planned arms), the outcome, the actual time (arms that ran)."""
        row = {"arm": self.arm}
        if self.architecture is not None:
            row["architecture"] = self.architecture
        row.update(kind=self.kind, status=self.status.value, note=self.note, weights=self.weights)
        row.update(self.settings)
        if self.planned:
            row["estimate_minutes"] = None if self.estimate_s is None else self.estimate_s / 60
        row.update(self.outcome)
        if self.actual_s is not None:
            row["actual_minutes"] = self.actual_s / 60
        return row
