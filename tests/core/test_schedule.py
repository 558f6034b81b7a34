"""The series' budget: probes first, then each fine-tuned arm with its scratch twin, then the
rest by their probes' inner scores; what does not fit is left out with its estimate."""
from spring_lib.core import schedule


def test_the_total_budget_takes_probes_then_pairs_then_the_rest():
    names = ["VGG19-TL", "VGG19-scratch", "AlexNet-TL", "MobileNetV2-probe", "AlexNet-probe",
             "MobileNetV2-scratch"]
    assert schedule.priority(names) == [("MobileNetV2-probe",), ("AlexNet-probe",),
                                      ("VGG19-TL", "VGG19-scratch"), ("AlexNet-TL",),
                                      ("MobileNetV2-scratch",)]
    est = {"VGG19-TL": 600, "VGG19-scratch": 120, "AlexNet-TL": 300, "MobileNetV2-probe": 60,
           "AlexNet-probe": 30, "MobileNetV2-scratch": 60}
    assert schedule.over_budget(est, None) == {}
    skipped = schedule.over_budget(est, 10)       # 600 s: probes (90) + AlexNet-TL (300) + 60
    assert set(skipped) == {"VGG19-TL", "VGG19-scratch"}
    assert skipped["VGG19-TL"] == "estimated 10.0 min; the run's budget of 10 min is spent"
    assert skipped["VGG19-scratch"].startswith("estimated 2.0 min;")
    # minutes already used by an earlier notebook count against the same budget
    assert set(schedule.over_budget(est, 10, spent_s=500)) == set(est) - {"MobileNetV2-probe",
                                                                         "AlexNet-probe"}


def test_remaining_fine_tuning_goes_by_the_probes_inner_scores():
    names = ["VGG19-TL", "AlexNet-TL", "MobileNetV2-TL", "AlexNet-probe"]
    scores = {"MobileNetV2": 0.8, "AlexNet": 0.7}
    assert schedule.priority(names, scores) == [("AlexNet-probe",), ("MobileNetV2-TL",),
                                              ("AlexNet-TL",), ("VGG19-TL",)]
    est = {n: 120 for n in names}
    assert set(schedule.over_budget(est, 5, scores=scores)) == {"AlexNet-TL", "VGG19-TL"}
    assert set(schedule.over_budget(est, 5)) == {"MobileNetV2-TL", "AlexNet-TL"}
