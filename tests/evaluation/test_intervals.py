"""Intervals are two float columns in every table and text only where a person reads them: the
tables' Markdown copies, REPORT.md and the sentences."""
import pandas as pd

from spring_lib.core.results_dir import ResultsDir
from spring_lib.evaluation import intervals


def test_columns_are_floats_named_after_the_value():
    boot = pd.DataFrame({"metric": ["macro_f1"], "value": [0.7], "ci_low": [0.61234],
                         "ci_high": [0.8]}).set_index("metric")
    assert intervals.columns(boot, "macro_f1") == {"macro_f1_ci_low": 0.61234,
                                                   "macro_f1_ci_high": 0.8}
    assert list(intervals.columns(boot, "macro_f1", "tile_macro_f1")) == [
        "tile_macro_f1_ci_low", "tile_macro_f1_ci_high"]


def test_text_rounds_once_and_a_difference_keeps_its_sign():
    assert intervals.text(0.65449, 0.8215) == "[0.654, 0.822]"
    assert intervals.text(-0.0674, 0.023, signed=True) == "[-0.067, +0.023]"
    assert intervals.of({"x_ci_low": 0.1, "x_ci_high": 0.25}, "x") == "[0.100, 0.250]"


def test_for_people_puts_each_pair_as_one_text_column_where_it_stood():
    t = pd.DataFrame({"model": ["a", "b"], "macro_f1": [0.7, 0.5],
                      "macro_f1_ci_low": [0.6, None], "macro_f1_ci_high": [0.8, None],
                      "ci_low": [0.1, 0.2], "ci_high": [0.3, 0.4], "chance": [0.2, 0.2]})
    shown = intervals.for_people(t)
    assert list(shown.columns) == ["model", "macro_f1", "macro_f1_ci95", "ci_low", "ci_high",
                                   "chance"]     # a pair without a value's name is left alone
    assert shown["macro_f1_ci95"].tolist() == ["[0.600, 0.800]", ""]
    assert list(t.columns)[2] == "macro_f1_ci_low"            # the table itself is untouched


def test_write_table_keeps_floats_in_the_csv_and_text_in_the_markdown(tmp_path):
    out = ResultsDir(tmp_path)
    t = pd.DataFrame({"model": ["a"], "macro_f1": [0.7], "macro_f1_ci_low": [0.61234],
                      "macro_f1_ci_high": [0.8], "chance": [0.25]})
    assert intervals.write_table(out, t, "magnification_band") is t
    back = out.read_table("magnification_band")
    assert back["macro_f1_ci_low"].tolist() == [0.61234] and "macro_f1_ci95" not in back
    md = out.file("table", "magnification_band").with_suffix(".md").read_text()
    assert "[0.612, 0.800]" in md and "0.6123" not in md and "chance" in md
