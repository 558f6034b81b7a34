"""The numbers Luo et al. (2025) report, as data, each with where it stands in the paper.

Values are as printed, after undoing the OCR damage noted in `../shared/paper/README.md`; every
damaged cell and the reading this study uses is in `OCR_DAMAGED`, so a check that rests on one can
say so. Percentages stay in percent, F1 scores as fractions, exactly as the paper gives them.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

CITATION = ("Z. Luo, J. Fu, Z. Hu, Y. Gong, Z. Luo, Int. J. for Housing Science and Its "
            "Applications 46(3), 7450-7463 (2025), doi:10.70517/ijhsa463639")

CLASSES = ["F+P", "M", "M+A", "M+B", "T"]  # row order of Tables 2 and 3
STEEL = "51CrMnV spring steel, private SEM micrographs"
CLASS_NAMES = {"F+P": "ferrite/pearlite", "M": "martensite", "M+A": "martensite/retained austenite",
               "M+B": "martensite/bainite", "T": "tempered troostite"}
TABLE_MODELS = ["VGG19", "AlexNet-TL", "MobileNetV2-TL", "SE-ResNeXt101-TL"]

# Table 1: 51CrMnV after quench-and-temper versus austempering (Section II.C)
TABLE1 = pd.DataFrame(
    [{"process": "quench and temper", "tensile_strength_mpa": 1385.6, "elongation_pct": 9.89,
      "impact_work_j": 23.5, "pse_reported_gpa_pct": 14.653, "pse_as_printed": "14.653"},
     {"process": "austempering", "tensile_strength_mpa": 1467.2, "elongation_pct": 14.02,
      "impact_work_j": 32.1, "pse_reported_gpa_pct": 20.211, "pse_as_printed": "20 211"}])
TABLE1_SOURCE = "Section II.C, Table 1"

# Tables 2 and 3 (Section III.B.2) as printed: per model, the recall (%) and the F1 (fraction)
# of each class, in the order of CLASSES.
_TABLES_2_3 = """
VGG19            91.25 88.36 98.63 96.52 98.25 | 0.912 0.875 0.904 0.915 0.866
AlexNet-TL       85.63 86.25 97.21 84.25 94.36 | 0.905 0.867 0.933 0.25  0.934
MobileNetV2-TL   90.11 89.42 94.56 92.36 93.28 | 0.992 0.973 0.981 0.867 0.953
SE-ResNeXt101-TL 92.53 94.25 99.21 99.16 99.04 | 0.953 0.966 0.994 0.983 0.989
"""


def _table(column: int) -> pd.DataFrame:
    rows = [line.split(maxsplit=1) for line in _TABLES_2_3.strip().splitlines()]
    return pd.DataFrame({model: [float(v) for v in values.split("|")[column].split()]
                         for model, values in rows}, index=CLASSES)


TABLE2_RECALL = _table(0)
TABLE3_F1 = _table(1)


@dataclass(frozen=True)
class OcrReading:
    """A number the OCR damaged: the text as it stands, the value read from it, and why."""
    printed: str
    value: float
    basis: str

    def describe(self) -> str:
        return f"'{self.printed}' read as {self.value:g} ({self.basis})"


# Damaged cells, keyed (table, row, column) as in TABLE1 (row: process) and Tables 2-3 (row: class,
# column: model). A test checks each value against the table that holds it.
OCR_DAMAGED = {
    ("Table 1", "austempering", "tensile_strength_mpa"):
        OcrReading("1/167.2", 1467.2, "the Conclusion prints 1467.2 MPa"),
    ("Table 1", "austempering", "pse_reported_gpa_pct"):
        OcrReading("20 211", 20.211, "a blank where the decimal point or a digit stood; printed "
                   "nowhere else"),
    ("Table 3", "M+B", "AlexNet-TL"):
        OcrReading("0.25", 0.25, "two decimals where every other F1 of Table 3 has three, so a "
                   "digit may be lost; printed nowhere else"),
}

# Tempered-troostite precision ("recognition accuracy", %) per model (Section III.B.2, Fig. 7 text)
T_PRECISION = {"VGG19": 92.13, "AlexNet-TL": 90.63, "MobileNetV2-TL": 92.39,
               "SE-ResNeXt101-TL": 97.82}

# Claims in prose: (id, source, text, value)
CLAIMS = {
    "mean_accuracy": ("Abstract; Section III.B.2; Conclusion",
                      "SE-ResNeXt101-TL average recognition accuracy over all classes (%)", 98.2),
    "t_precision": ("Abstract; Conclusion", "SE-ResNeXt101-TL precision on T (%)", 97.82),
    "t_recall": ("Abstract; Section III.B.2; Conclusion", "SE-ResNeXt101-TL recall on T (%)", 99.04),
    "t_f1": ("Conclusion", "SE-ResNeXt101-TL F1 on T", 0.989),
    "t_gain_vs_cnns": ("Abstract",
                       "T precision gain of SE-ResNeXt101-TL over VGG19, AlexNet-TL, MobileNetV2-TL (points)",
                       (5.69, 7.19, 5.43)),
    "recall_floor": ("Section III.B.2", "SE-ResNeXt101-TL recall 'generally higher than 93%'", 93.0),
    "strength_gain": ("Conclusion", "austempering tensile strength higher by (MPa)", 81.6),
    "elongation_gain": ("Conclusion", "austempering elongation higher by (percentage points)", 4.13),
    "tiles_per_class": ("Abstract; Section III.B.1", "SS-3000: 5 classes x 600 tiles; TEST-1000: 5 x 200",
                        (5, 600, 3000, 200, 1000)),
    "se_reduction": ("Section III.A", "SE block: first FC reduces channels to 1/4, then 'High-Sigmoid'",
                     4),
    "resnext_depths": ("Section III.A", "ResNeXt50 stages 3-4-6-3, ResNeXt101 stages 3-4-23-3",
                       ((3, 4, 6, 3), (3, 4, 23, 3))),
}

# The T-precision differences, assigned to models differently in two sections
T_GAIN_ASSIGNMENTS = {
    "Section III.B.2": {"SE-ResNeXt101-scratch": 5.83, "SE-ResNeXt50-TL": 3.74, "GLCM+SVM": 2.13},
    "Conclusion": {"GLCM+SVM": 5.83, "SE-ResNeXt101-scratch": 3.74, "SE-ResNeXt50-TL": 2.13},
}

@dataclass(frozen=True)
class Protocol:
    """The paper's training protocol (Sections III.A.2 (4) and III.B.1): the one place it is
    written down. The `paper` profile's defaults, the notebooks' text and REPORT.md read it here."""
    tile_size: int = 224
    train_tiles_per_class: int = 600     # SS-3000
    test_tiles_per_class: int = 200      # TEST-1000
    source_image: tuple[int, int] = (1024, 768)
    magnification: int = 1000
    optimizer: str = "Adam"
    learning_rate: float = 0.0005
    batch_size: int = 32
    epochs: int = 500

    def describe(self) -> str:
        return (f"{self.tile_size} px tiles cut from {self.source_image[0]} x {self.source_image[1]} "
                f"SEM images at {self.magnification}x, {self.train_tiles_per_class} training and "
                f"{self.test_tiles_per_class} test tiles per class; {self.optimizer}, learning rate "
                f"{self.learning_rate}, batch {self.batch_size}, {self.epochs} epochs")


PROTOCOL = Protocol()


def reported_tables() -> pd.DataFrame:
    """Tables 2 and 3 in long form: model, class, recall (%), F1, T precision (%) where given."""
    recall = TABLE2_RECALL.stack().rename("recall_pct")
    f1 = TABLE3_F1.stack().rename("f1")
    out = pd.concat([recall, f1], axis=1).reset_index(names=["class", "model"])
    out["precision_pct"] = [T_PRECISION[m] if c == "T" else None
                            for c, m in zip(out["class"], out["model"])]
    return out[["model", "class", "recall_pct", "precision_pct", "f1"]]
