"""The ablation panel: a row per variant, its interval, coloured by verdict; in the figure."""

import matplotlib.colors
import pandas as pd

from auxsearch.core.rundir import RunDir
from auxsearch.results.ablationplot import COLOURS, draw_ablation
from auxsearch.results.plotkit import pyplot
from tests.results.conftest import board, confirmed, draw, write_run


def ablation():
    return pd.DataFrame({
        "config": ["0021"] * 3, "tap": ["conv10:0.013", "conv12:0.38", "conv12:0.38"],
        "variant": ["without", "without", "smallest"], "difference": [0.002, 0.31, -0.001],
        "low": [-0.004, 0.12, -0.006], "high": [0.008, 0.45, 0.004],
        "verdict": ["not needed", "needed", "not needed"], "seeds": ["1001;2001"] * 3})


def test_each_variant_is_a_row_coloured_by_its_verdict():
    fig, ax = pyplot().subplots()
    draw_ablation(ax, ablation(), "val_main_accuracy")
    ticks = sorted(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels())),
                   reverse=True)
    assert [label for _, label in ticks] == [  # the table's order, top down
        "conv10:0.013 (without)", "conv12:0.38 (without)", "conv12:0.38 (smallest)"]
    colours = {matplotlib.colors.to_hex(line.get_color()) for line in ax.get_lines()
               if line.get_marker() == "o"}
    assert colours == {matplotlib.colors.to_hex(COLOURS["needed"]),
                       matplotlib.colors.to_hex(COLOURS["not needed"])}
    assert "test main_accuracy" in ax.get_xlabel() and "0021" in ax.get_title()


def test_an_empty_ablation_says_why():
    fig, ax = pyplot().subplots()
    draw_ablation(ax, ablation().iloc[:0], "val_main_accuracy")
    assert "nothing was confirmed better" in ax.texts[0].get_text()


def test_the_figure_has_the_panel_when_the_run_was_ablated(tmp_path):
    run = write_run(tmp_path, board(), confirmed())
    assert "ablation" not in [ax.get_label() for ax in draw(run).axes]
    ablation().to_csv(RunDir(run).ablation, index=False)
    assert "ablation" in [ax.get_label() for ax in draw(run).axes]
