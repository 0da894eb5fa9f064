from auxsearch.core.verdicts import VERDICTS as WORDS
from auxsearch.results.plotkit import VERDICTS, empty_panel, pyplot


def test_an_empty_panel_says_why_and_has_no_ticks():
    plt = pyplot()
    fig, ax = plt.subplots()
    empty_panel(ax, "no completed trials")
    assert [t.get_text() for t in ax.texts] == ["no completed trials"]
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    assert plt.get_backend().lower() == "agg"


def test_every_verdict_has_a_colour_of_its_own():
    # The words come from core.verdicts, the one source the confirmation writes.
    assert list(VERDICTS) == list(WORDS) and "not settled" in VERDICTS
    assert len(set(VERDICTS.values())) == len(VERDICTS)
