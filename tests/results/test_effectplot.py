import pandas as pd

from auxsearch.results.effectplot import draw_effects
from auxsearch.results.effects import HELPS, HURTS, TOO_FEW, UNCLEAR
from auxsearch.results.plotkit import pyplot
from tests.results.conftest import LAYERS, axes, board, draw, write_run
from tests.results.test_explain import random_trials, save_search

ROWS = [("conv1", 0.02, 0.01, 0.03, HELPS), ("conv2", -0.01, -0.02, -0.005, HURTS),
        ("conv3", 0.0, -0.01, 0.012, UNCLEAR), ("conv4", float("nan"), -1.0, 1.0, TOO_FEW)]


def table(rows=ROWS):
    return pd.DataFrame([{"layer": layer, "effect": e, "effect_low": lo, "effect_high": hi,
                          "verdict": v, "budget": 9} for layer, e, lo, hi, v in rows])


def test_draws_each_layer_in_order_with_its_interval():
    fig, ax = pyplot().subplots()
    draw_effects(ax, table(), "val_main_accuracy")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "conv2", "conv3", "conv4"]
    labels = ax.get_legend_handles_labels()[1]
    assert sorted(labels) == ["helps (1)", "hurts (1)", "no detectable effect (1)",
                              "too few trials (1)"]
    # The intervals of the layers with too few trials span everything: not on the scale.
    low, high = ax.get_ylim()
    assert -0.03 < low < -0.02 and 0.03 < high < 0.04
    assert ax.get_title().startswith("the effect of tapping each layer at 9 epochs")


def test_only_too_few_trials_still_draws():
    fig, ax = pyplot().subplots()
    draw_effects(ax, table([r[:4] + (TOO_FEW,) for r in ROWS]), "score")
    assert ax.get_legend_handles_labels()[1] == ["too few trials (4)"]
    empty = pyplot().subplots()[1]
    draw_effects(empty, table([]), "score")
    assert empty.texts[0].get_text() == "no candidate layers to estimate effects for"


def test_the_run_figure_has_an_effects_panel(tmp_path):
    run = save_search(tmp_path / "run", random_trials(20, layers=LAYERS + ["conv4"]),
                      layers=LAYERS + ["conv4"])
    write_run(run, board())
    ax = axes(draw(run))["effects"]
    assert [t.get_text() for t in ax.get_xticklabels()] == LAYERS + ["conv4"]


def test_without_trials_the_panel_reads_effects_csv_or_says_so(tmp_path):
    run = write_run(tmp_path, board())
    assert axes(draw(run))["effects"].texts[0].get_text().startswith("no saved trials")
    table().to_csv(tmp_path / "effects.csv", index=False)
    ax = axes(draw(run))["effects"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "conv2", "conv3", "conv4"]
