"""The paper's numbers as data: the OCR readings are the tables' values, the long form is whole."""
from spring_lib.core import paper_numbers as paper


def test_ocr_readings_are_the_tables_values():
    for (table, row, col), reading in paper.OCR_DAMAGED.items():
        if table == "Table 1":
            value = paper.TABLE1.set_index("process").loc[row, col]
        else:
            value = {"Table 2": paper.TABLE2_RECALL, "Table 3": paper.TABLE3_F1}[table].loc[row, col]
        assert value == reading.value, (table, row, col)
    assert paper.TABLE1.set_index("process").loc["austempering", "pse_as_printed"] == "20 211"


def test_paper_tables_long_form():
    long = paper.reported_tables()
    assert len(long) == 20 and long["precision_pct"].notna().sum() == 4
