import pytest

from auxsearch.results.plotkit import empty_panel, is_true, pyplot


@pytest.mark.parametrize("cell, value", [
    (True, True), ("True", True), (" true ", True), (1, True), (1.0, True),
    (False, False), ("False", False), (0, False), (None, False), (float("nan"), False),
])
def test_a_boolean_cell_reads_from_memory_and_from_csv_text(cell, value):
    assert is_true(cell) is value


def test_an_empty_panel_says_why_and_has_no_ticks():
    plt = pyplot()
    fig, ax = plt.subplots()
    empty_panel(ax, "no completed trials")
    assert [t.get_text() for t in ax.texts] == ["no completed trials"]
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    assert plt.get_backend().lower() == "agg"
