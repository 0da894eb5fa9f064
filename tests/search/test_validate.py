"""Checking a space without a search."""

from auxsearch.core.space import load_space
from auxsearch.search.validate import list_taps, validate


def test_validate_reports_what_it_checked(tiny_space):
    report = validate(load_space(tiny_space))
    assert report.space.name == "tiny" and report.seconds > 0
    assert (report.model_source, report.model_name) == ("digits_cnn", "digits_cnn")
    assert report.output_shape == (None, 10) and report.layers == 9
    assert (report.data_source, report.task, report.input_shape) == ("digits", "multiclass",
                                                                     (8, 8, 1))
    assert sum(report.examples) == 1797 and report.hints == []
    assert report.candidates == ["conv2", "conv5"] and report.tappable == 7
    assert report.configurations == 4  # each of 2 taps on or off
    assert report.objective == ("val_main_accuracy", "max") and report.budget == (2, 4)


def test_list_taps_names_every_candidate_and_the_selection(tiny_space):
    listing = list_taps(load_space(tiny_space))
    assert listing.model_name == "digits_cnn" and listing.layers == 9
    assert [tap.name for tap in listing.candidates][:2] == ["conv1", "conv2"]
    assert listing.selected == ["conv2", "conv5"]
