"""The rules of every setting: one place, one message style.

A space file, the HyperModel's constructor and the command line check a
setting with the same rule. Messages read `<where>: <key> must be <rule>;
got <value>`, with the closest allowed value where there is a list of them;
each caller names the setting as its user writes it (`taps.weight_range` in
a file, `weight_range` in Python, `--max-epochs` on the command line).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from auxsearch.core.errors import SpaceError
from auxsearch.core.suggest import did_you_mean
from auxsearch.core.tasks import TASKS

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "nadam", "adagrad")
KINDS = ("head", "penalty", "hint")
PENALTIES = ("l2", "l1")
SCHEDULES = ("constant", "linear_decay", "off_after")
DIRECTIONS = ("max", "min")
SAMPLERS = ("random", "model")  # how Hyperband draws new configurations


@dataclass(frozen=True)
class Rule:
    """What a setting must be: a test, and the test in words.

    Attributes:
        test: Returns whether a value is allowed.
        text: The rule in words, as in "must be <text>".
        choices: The allowed values, when they are a list (for close matches).
    """

    test: Callable[[Any], bool]
    text: str
    choices: tuple[str, ...] = ()


def _one_of(choices: Sequence[str]) -> Rule:
    choices = tuple(choices)
    return Rule(lambda v: v in choices, f"one of {', '.join(choices)}", choices)


def _each_of(choices: Sequence[str]) -> Rule:
    choices = tuple(choices)
    return Rule(lambda v: bool(v) and all(c in choices for c in v),
                f"a non-empty list of {', '.join(choices)}", choices)


RULES: dict[str, Rule] = {
    "task": _one_of(TASKS),
    "weight_range": Rule(lambda v: 0 < v[0] <= v[1],
                         "0 < low <= high (weights are sampled log-uniformly)"),
    "max_taps": Rule(lambda v: v is None or v >= 0, ">= 0 (0: a switch per candidate)"),
    "kinds": _each_of(KINDS),
    "schedules": _each_of(SCHEDULES),
    "head_units": Rule(lambda v: bool(v) and all(u >= 0 for u in v),
                       "widths >= 0 (0: no hidden layer)"),
    "penalty": _one_of(PENALTIES),
    "off_after": Rule(lambda v: 0 < v <= 1, "a fraction in (0, 1]"),
    "optimizer": _one_of(OPTIMIZERS),
    "learning_rate": Rule(lambda v: v > 0, "> 0"),
    "batch_size": Rule(lambda v: v is None or v >= 1, ">= 1"),
    "pack": Rule(lambda v: v == "auto" or (isinstance(v, int) and not isinstance(v, bool)
                                          and v >= 1), '>= 1, or "auto"', ("auto",)),
    "steps_per_execution": Rule(lambda v: v >= 1, ">= 1"),
    "max_epochs": Rule(lambda v: v is None or v >= 1, ">= 1"),
    "factor": Rule(lambda v: v >= 2, ">= 2"),
    "hyperband_iterations": Rule(lambda v: v >= 1, ">= 1"),
    "baseline_seeds": Rule(lambda v: v >= 0, ">= 0"),
    "sampler": _one_of(SAMPLERS),
    "race_seeds": Rule(lambda v: v == 0 or v >= 2, "0 (no race) or >= 2 (a race compares seeds)"),
    "seed": Rule(lambda v: v >= 0, ">= 0"),
    "validation_fraction": Rule(lambda v: 0 < v < 1, "a fraction in (0, 1)"),
    "test_fraction": Rule(lambda v: 0 <= v < 1, "a fraction in [0, 1)"),
    "direction": _one_of(DIRECTIONS),
    "top": Rule(lambda v: v >= 1, ">= 1"),
    "seeds": Rule(lambda v: v >= 2, ">= 2 (a look compares paired seeds)"),
    "rank": Rule(lambda v: v >= 1, ">= 1"),
    "shown": Rule(lambda v: v >= 0, ">= 0"),
    "workers": Rule(lambda v: v >= 0, ">= 0"),
    "trial_timeout": Rule(lambda v: v >= 0, ">= 0"),
    "port": Rule(lambda v: 0 <= v < 65536, "in 0..65535"),
    "ignore_label": Rule(lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
                         "an integer label outside the classes 0..K-1 (e.g. 255), or None"),
}


def rule(setting: str) -> Rule:
    """Returns the rule of a setting."""
    return RULES[setting]


def check(setting: str, value: Any, key: str | None = None, where: str = "") -> Any:
    """Checks a setting's value; returns it.

    Args:
        setting: The setting's name in `RULES` (or "task").
        value: Its value.
        key: How the user names it; defaults to `setting`.
        where: The file (or other source) the value comes from, if any.

    Raises:
        SpaceError: `<where>: <key> must be <rule>; got <value>`.
    """
    fact = rule(setting)
    if not fact.test(value):
        fail(key or setting, fact.text, value, where, fact.choices)
    return value


def check_choice(value: Any, choices: Sequence[str], key: str, where: str = "") -> Any:
    """Checks that `value` is one of `choices`, which only the caller knows."""
    rule_ = _one_of(choices)
    if not rule_.test(value):
        fail(key, rule_.text, value, where, rule_.choices)
    return value


def fail(key: str, text: str, value: Any, where: str = "",
         choices: Sequence[str] = ()) -> None:
    """Raises the `SpaceError` of a value that breaks its rule."""
    shown = list(value) if isinstance(value, tuple) else value
    hint = ""
    if choices:
        wrong = [v for v in value if v not in choices] if isinstance(
            value, (list, tuple)) else [value]
        hint = did_you_mean(wrong[0], choices) if wrong else ""
    place = f"{where}: " if where else ""
    raise SpaceError(f"{place}{key} must be {text}; got {shown!r}{hint}")
