"""The series' budget: probes first, each with its fine-tuned twin, then each scratch arm with
its pretrained twin, then the rest by their probes' inner scores; what does not fit is left out
with its estimate."""
from spring_lib.core import schedule


def test_the_total_budget_takes_probes_then_pairs_then_the_rest():
    names = ["VGG19-TL", "VGG19-scratch", "AlexNet-TL", "MobileNetV2-probe", "AlexNet-probe",
             "MobileNetV2-scratch"]
    assert schedule.priority(names) == [("MobileNetV2-probe",), ("AlexNet-probe",),
                                      ("AlexNet-TL",), ("VGG19-TL", "VGG19-scratch"),
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


def test_a_fine_tuned_arm_follows_its_probe_and_the_pair_takes_the_twin_of_same_input():
    names = ["SE-ResNeXt101-probe", "SE-ResNeXt101-TL", "EfficientNet-Lite0-probe",
             "EfficientNet-Lite0-TL", "EfficientNet-Lite0-TL@twin", "EfficientNet-Lite0-scratch",
             "VGG19-probe", "AlexNet-scratch", "AlexNet-TL"]
    assert schedule.priority(names) == [
        ("SE-ResNeXt101-probe",), ("SE-ResNeXt101-TL",), ("EfficientNet-Lite0-probe",),
        ("EfficientNet-Lite0-TL",), ("VGG19-probe",),
        ("EfficientNet-Lite0-TL@twin", "EfficientNet-Lite0-scratch"),
        ("AlexNet-TL", "AlexNet-scratch")]
    assert schedule.pair_twin("EfficientNet-Lite0-scratch", names) == "EfficientNet-Lite0-TL@twin"
    assert schedule.pair_twin("AlexNet-scratch", names) == "AlexNet-TL"
    assert schedule.pair_twin("VGG19-scratch", names) is None
    # a scratch arm whose twin already follows its probe is a unit of its own
    assert schedule.priority(["AlexNet-probe", "AlexNet-TL", "AlexNet-scratch"]) == [
        ("AlexNet-probe",), ("AlexNet-TL",), ("AlexNet-scratch",)]


def test_remaining_fine_tuning_goes_by_the_probes_inner_scores():
    names = ["VGG19-TL", "AlexNet-TL", "MobileNetV2-TL", "MobileNetV2-scratch"]
    scores = {"MobileNetV2": 0.8, "AlexNet": 0.7}
    assert schedule.priority(names, scores) == [("MobileNetV2-TL", "MobileNetV2-scratch"),
                                              ("AlexNet-TL",), ("VGG19-TL",)]
    names = names[:3]
    assert schedule.priority(names, scores) == [("MobileNetV2-TL",), ("AlexNet-TL",),
                                              ("VGG19-TL",)]
    est = {n: 120 for n in names}
    assert set(schedule.over_budget(est, 5, scores=scores)) == {"VGG19-TL"}
    assert set(schedule.over_budget(est, 3, scores=scores)) == {"AlexNet-TL", "VGG19-TL"}
    assert set(schedule.over_budget(est, 3)) == {"MobileNetV2-TL", "AlexNet-TL"}
