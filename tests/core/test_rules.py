"""Every setting's rule, in one message style."""

import pytest

from auxsearch.core.errors import SpaceError
from auxsearch.core.rules import RULES, check, check_choice


@pytest.mark.parametrize("setting, good, bad", [
    ("weight_range", (0.01, 1.0), (1.0, 0.1)),
    ("max_epochs", 1, 0),
    ("factor", 2, 1),
    ("seed", 0, -1),
    ("off_after", 1.0, 0.0),
    ("validation_fraction", 0.5, 1.0),
    ("test_fraction", 0.0, 1.0),
    ("optimizer", "adam", "adamm"),
    ("kinds", ("head", "hint"), ("head", "heads")),
    ("port", 0, 65536),
])
def test_each_rule_accepts_and_refuses(setting, good, bad):
    assert check(setting, good) == good
    with pytest.raises(SpaceError, match=f"^{setting} must be "):
        check(setting, bad)


def test_the_caller_names_the_setting_and_its_source():
    with pytest.raises(SpaceError, match=r"^space.toml: hyperband.max_epochs must be >= 1; got 0$"):
        check("max_epochs", 0, "hyperband.max_epochs", "space.toml")
    with pytest.raises(SpaceError, match=r"^--max-epochs must be >= 1; got 0$"):
        check("max_epochs", 0, "--max-epochs")


def test_choices_suggest_the_closest():
    with pytest.raises(SpaceError, match=r"optimizer must be one of adam, .*; got 'adamm' "
                                         r"\(did you mean 'adam'\?\)$"):
        check("optimizer", "adamm")
    with pytest.raises(SpaceError, match=r"model.builtin must be one of a, b; got 'c'$"):
        check_choice("c", ["a", "b"], "model.builtin")


def test_every_rule_says_what_it_wants():
    assert all(rule.text for rule in RULES.values())
